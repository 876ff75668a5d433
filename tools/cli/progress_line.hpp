// The live progress line of `elmsim train` on stderr (step, loss, accuracy, lr, steps/s, ETA) —
// rewritten in place on a terminal, printed every 5 s otherwise — and the evaluations as full
// lines, as a TrainObserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "elmsim/sim/train_observer.hpp"

namespace elm::tools {

class ProgressObserver final : public sim::TrainObserver {
public:
    explicit ProgressObserver(bool enabled);

    void on_start(std::int64_t first_step, std::int64_t last_step) override;
    void on_step(const sim::StepReport& r) override;
    void on_steps_done() override;
    void on_eval(const sim::EvalReport& r) override;

private:
    void message(const std::string& line);  // a full line that does not disturb the live line
    double steps_per_second(std::int64_t step) const;

    bool enabled_, tty_, open_ = false;
    std::int64_t first_ = 0, last_ = 0;
    std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace elm::tools
