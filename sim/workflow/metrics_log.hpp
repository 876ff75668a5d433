// A training run's metrics log: JSON lines, one object per event, next to the output model
// (<model>.metrics.jsonl; resumed runs append to the same file). MetricsLogObserver writes it from
// the Trainer's reports: a "train" line every train.log_every steps (and at the run's last step) with
// the statistics of the steps since the previous line, and an "eval" line per evaluation.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/train_observer.hpp"

namespace elm::workflow {

class MetricsLog {
public:
    // Appends to `path` (created if missing). InputError when it cannot be opened for writing, or
    // names a directory, FIFO, socket or device (io/atomic_output.hpp: check_output_path).
    explicit MetricsLog(const std::string& path);
    // One JSON object: {"kind": kind, key: value, ...}; non-finite values are written as null.
    void write(const std::string& kind, const std::vector<std::pair<std::string, double>>& values);
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::ofstream out_;
};

class MetricsLogObserver final : public sim::TrainObserver {
public:
    MetricsLogObserver(const std::string& path, std::int64_t log_every);

    void on_start(std::int64_t first_step, std::int64_t last_step) override;
    void on_step(const sim::StepReport& r) override;
    void on_eval(const sim::EvalReport& r) override;

private:
    MetricsLog log_;
    std::int64_t log_every_;
    std::int64_t first_step_ = 0;
    std::chrono::steady_clock::time_point start_;
    sim::LossStats window_;  // training stats since the last "train" line
};

}  // namespace elm::workflow
