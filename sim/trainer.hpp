// Trainer: learning mode (spec section 7). Pulls batches from a BatchSource, runs forward/backward
// through a Learner, steps the optimizer on the schedule, evaluates, logs metrics and calls back to
// save checkpoints. Text tasks carry the network state across truncated-BPTT windows.
//
// Bit-exact resume: everything that influences the next step — parameters, optimizer moments, the
// trainer RNG (dropout, sampling), data cursors, carried state — is in TrainState.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/executor.hpp"
#include "elmsim/sim/learner.hpp"
#include "elmsim/sim/metrics_log.hpp"
#include "elmsim/sim/optimizer.hpp"
#include "elmsim/sim/loss.hpp"

namespace elm::sim {

struct EvalResult {
    LossStats stats;
    bool text = false;
    // The number a run tries to improve: accuracy (classes) or -bpc (text); higher is better.
    double metric() const { return text ? -stats.bpc() : stats.accuracy(); }
};

// Evaluate a model over every batch of `source` (text: state carried across windows).
EvalResult evaluate(Learner<float>& learner, BatchSource& source, const RunOptions& opt);

struct TrainHooks {
    std::function<void(const TrainState&)> checkpoint;      // periodic and final saves
    std::function<void(const Batch&, const std::vector<float>&)> first_batch;  // batch + model input used
};

class Trainer {
public:
    Trainer(models::Network<float>& net, const TrainConfig& cfg, BatchSource& train, BatchSource* eval,
            Executor& ex, MetricsLog* log);

    void restore(const TrainState& st);
    TrainState state() const;

    // Run until `steps` more optimizer steps are done or cfg.max_steps is reached. Returns the last
    // evaluation (when an evaluation source exists).
    std::optional<EvalResult> run(std::int64_t steps, const TrainHooks& hooks, bool show_progress);

    EvalResult evaluate(BatchSource& source);
    std::int64_t step() const { return step_; }

private:
    RunOptions run_options(bool training) const;

    models::Network<float>& net_;
    TrainConfig cfg_;
    BatchSource& train_;
    BatchSource* eval_;
    Executor& ex_;
    MetricsLog* log_;
    Learner<float> learner_;
    Optimizer opt_;
    Rng rng_;
    NetworkState<float> carry_;
    std::vector<float> grads_;
    Batch batch_;
    std::int64_t step_ = 0, epoch_ = 0, seen_ = 0;
    double best_metric_ = -1e300;
};

}  // namespace elm::sim
