#include "elmsim/sim/metrics_log.hpp"

#include <cmath>
#include <cstdio>

#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

MetricsLog::MetricsLog(const std::string& path) : path_(path), out_(path, std::ios::app) {
    if (!out_) throw InputError(fmt::format("{}: cannot open the metrics log for writing", path));
}

void MetricsLog::write(const std::string& kind, const std::vector<std::pair<std::string, double>>& values) {
    if (!out_.is_open()) return;
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
}

ProgressLine::ProgressLine(std::int64_t first_step, std::int64_t last_step, bool enabled)
    : first_(first_step), last_(last_step), enabled_(enabled), tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

double ProgressLine::steps_per_second(std::int64_t step) const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return s > 0 ? static_cast<double>(step - first_) / s : 0.0;
}

void ProgressLine::update(std::int64_t step, double loss, double accuracy, double lr) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    // A terminal gets a live line a few times a second; a log file one line every 5 s and at the end.
    const double since = std::chrono::duration<double>(now - last_print_).count();
    if (step != last_ && since < (tty_ ? 0.2 : 5.0)) return;
    last_print_ = now;
    const double rate = steps_per_second(step);
    const double eta = rate > 0 ? static_cast<double>(last_ - step) / rate : 0.0;
    const auto eta_s = static_cast<long long>(eta);
    const std::string line = fmt::format("step {}/{}  loss {:.4f}  acc {:.3f}  lr {:.2e}  {:.2f} steps/s  ETA {}:{:02d}",
                                         step, last_, loss, accuracy, lr, rate, eta_s / 60, eta_s % 60);
    if (tty_) {
        std::fprintf(stderr, "\r%-100s", line.c_str());
        open_ = true;
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
}

void ProgressLine::message(const std::string& line) {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
}

void ProgressLine::finish() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
}

}  // namespace elm::sim
