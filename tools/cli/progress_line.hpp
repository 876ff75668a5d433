// The live progress line of `elmsim train` on stderr (step, loss, accuracy, lr, steps/s, ETA) —
// rewritten in place on a terminal, printed every 5 s otherwise — and the evaluations as full
// lines, as a TrainObserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "elmsim/sim/train_observer.hpp"

namespace elm::tools {

// A live status line on stderr: on a terminal rewritten in place, otherwise (a log file) printed as
// a plain line when the caller says so; full lines (messages) go above it, and are printed even when
// the live line is disabled (`--quiet`). Thread-safe.
class LiveLine {
public:
    explicit LiveLine(bool enabled);
    bool enabled() const { return enabled_; }
    bool tty() const { return tty_; }
    // Shows `line`: on a terminal always (in place); elsewhere only when `log_it`.
    void show(const std::string& line, bool log_it);
    void message(const std::string& line);  // a whole line; the live line is cleared first
    void close();                           // ends the live line (a newline after it)

private:
    bool enabled_, tty_, open_ = false;
    std::mutex mu_;
};

class ProgressObserver final : public sim::TrainObserver {
public:
    explicit ProgressObserver(bool enabled);

    void on_start(std::int64_t first_step, std::int64_t last_step) override;
    void on_step(const sim::StepReport& r) override;
    void on_steps_done() override;
    void on_eval(const sim::EvalReport& r) override;

private:
    double steps_per_second(std::int64_t step) const;

    LiveLine line_;
    std::int64_t first_ = 0, last_ = 0;
    std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace elm::tools
