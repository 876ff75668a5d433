// The JSON-lines metrics log of a training run (metrics_log.hpp).
#include "elmsim/sim/workflow/metrics_log.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/models/error.hpp"

namespace elm::workflow {

// The output checks of every writer (io/atomic_output.hpp) before the open: appending to a FIFO
// would block, to a device would lose the log. A link to a regular file is appended through.
MetricsLog::MetricsLog(const std::string& path) : path_(path) {
    io::ensure_writable_dir(path);
    out_.open(path, std::ios::app);
    if (!out_) throw InputError(fmt::format("{}: cannot open the metrics log for writing", path));
}

void MetricsLog::write(const std::string& kind, const std::vector<std::pair<std::string, double>>& values) {
    std::string line = fmt::format("{{\"kind\": \"{}\"", kind);
    for (const auto& [k, v] : values) {
        if (std::isfinite(v))
            line += fmt::format(", \"{}\": {}", k, v);
        else
            line += fmt::format(", \"{}\": null", k);
    }
    line += "}\n";
    out_ << line;
    out_.flush();
    // A full disk stops the run here, with one line, rather than hours later at the next save with
    // a log that silently ends early.
    if (!out_) throw InputError(fmt::format("{}: cannot write the metrics log (disk full?)", path_));
}

MetricsLogObserver::MetricsLogObserver(const std::string& path, std::int64_t log_every)
    : log_(path), log_every_(std::max<std::int64_t>(1, log_every)) {}

void MetricsLogObserver::on_start(std::int64_t first_step, std::int64_t) {
    first_step_ = first_step;
    start_ = std::chrono::steady_clock::now();
    window_ = sim::LossStats{};
}

void MetricsLogObserver::on_step(const sim::StepReport& r) {
    window_.add(r.stats);
    if (r.step % log_every_ != 0 && r.step != r.last_step) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(r.step - first_step_) / seconds : 0.0;
    log_.write("train", {{"step", static_cast<double>(r.step)}, {"epoch", static_cast<double>(r.epoch)},
                         {"loss", window_.loss()}, {"accuracy", window_.accuracy()},
                         {"bpc", r.text ? window_.bpc() : NAN}, {"lr", r.lr}, {"grad_norm", r.grad_norm},
                         {"steps_per_s", rate}});
    window_ = sim::LossStats{};
}

void MetricsLogObserver::on_eval(const sim::EvalReport& r) {
    const auto& s = r.result.stats;
    log_.write("eval", {{"step", static_cast<double>(r.step)}, {"loss", s.loss()}, {"accuracy", s.accuracy()},
                        {"bpc", r.result.text ? s.bpc() : NAN}, {"samples", static_cast<double>(s.count)}});
}

}  // namespace elm::workflow
