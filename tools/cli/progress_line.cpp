#include "tools/cli/progress_line.hpp"

#include <cstdio>

#include <unistd.h>

#include <fmt/format.h>

namespace elm::tools {

LiveLine::LiveLine(bool enabled) : enabled_(enabled), tty_(isatty(fileno(stderr)) != 0) {}

void LiveLine::show(const std::string& line, bool log_it) {
    if (!enabled_) return;
    std::lock_guard lk(mu_);
    if (tty_) {
        std::fprintf(stderr, "\r%-110s", line.c_str());
        open_ = true;
    } else if (log_it) {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
}

void LiveLine::message(const std::string& line) {
    std::lock_guard lk(mu_);
    if (open_) std::fprintf(stderr, "\r%-110s\r", "");
    open_ = false;
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
}

void LiveLine::close() {
    std::lock_guard lk(mu_);
    if (enabled_ && open_) std::fprintf(stderr, "\n");
    open_ = false;
}

ProgressObserver::ProgressObserver(bool enabled) : line_(enabled) {}

void ProgressObserver::on_start(std::int64_t first_step, std::int64_t last_step) {
    first_ = first_step;
    last_ = last_step;
    start_ = last_print_ = std::chrono::steady_clock::now();
}

double ProgressObserver::steps_per_second(std::int64_t step) const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return s > 0 ? static_cast<double>(step - first_) / s : 0.0;
}

void ProgressObserver::on_step(const sim::StepReport& r) {
    if (!line_.enabled()) return;
    const auto now = std::chrono::steady_clock::now();
    // A terminal gets a live line a few times a second; a log file one line every 5 s and at the end.
    const double since = std::chrono::duration<double>(now - last_print_).count();
    if (r.step != last_ && since < (line_.tty() ? 0.2 : 5.0)) return;
    last_print_ = now;
    const double rate = steps_per_second(r.step);
    const double eta = rate > 0 ? static_cast<double>(last_ - r.step) / rate : 0.0;
    const auto eta_s = static_cast<long long>(eta);
    const std::string line = fmt::format("step {}/{}  loss {:.4f}  acc {:.3f}  lr {:.2e}  {:.2f} steps/s  ETA {}:{:02d}",
                                         r.step, last_, r.stats.loss(), r.stats.accuracy(), r.lr, rate, eta_s / 60,
                                         eta_s % 60);
    line_.show(line, /*log_it=*/true);
}

void ProgressObserver::on_steps_done() { line_.close(); }

void ProgressObserver::on_eval(const sim::EvalReport& e) {
    const auto& s = e.result.stats;
    line_.message(e.result.text ? fmt::format("eval @ step {}: loss {:.4f}  bpc {:.4f}  next-byte acc {:.4f}", e.step, s.loss(),
                                        s.bpc(), s.accuracy())
                          : fmt::format("eval @ step {}: loss {:.4f}  accuracy {:.4f} ({} samples)", e.step, s.loss(),
                                        s.accuracy(), s.count));
}

}  // namespace elm::tools
