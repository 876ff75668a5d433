// Trainer: learning mode (spec elm-network.md section 7) on any backend. Pulls batches from a
// BatchSource, runs forward/backward and the optimizer update through the Backend, follows the
// learning-rate schedule, evaluates, and reports everything to its TrainObservers (printing, metrics
// logs and checkpoint files are theirs). Text tasks carry the network state across truncated-BPTT
// windows.
//
// Bit-exact resume: everything that influences the next step — parameters (in the backend),
// optimizer moments, the trainer RNG (dropout, sampling), data cursors, carried state — is in
// TrainState or the checkpoint's parameters.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/train_config.hpp"
#include "elmsim/models/train_state.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/data_parallel.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/sim/train_observer.hpp"

namespace elm::sim {

// The step a run of `steps` more optimizer steps from `step` ends at, capped at max_steps. Compared
// before it is added, so a `steps` as large as an int64 (e.g. --max-steps 9223372036854775807)
// cannot wrap.
inline std::int64_t last_step_of(std::int64_t step, std::int64_t steps, std::int64_t max_steps) {
    return steps >= max_steps - step ? max_steps : step + steps;
}

// Stopping a run early from a signal handler (async-signal-safe): the trainer stops after its current
// step, skips the final evaluation and writes its checkpoint, so the same command with --resume
// continues bit for bit (a scheduler's preemption: SIGTERM, or SIGUSR1 ahead of the time limit). With
// several processes they agree to stop after the same step. 0 = no request.
void request_training_stop(int signal);
int training_stop_signal();

class Trainer {
public:
    // The backend holds the network being trained; `eval` may be null (no evaluations). All three must
    // outlive the trainer. A fresh optimizer state (zero moments) is set in the backend. `comm` (may be
    // null: one process) is the job whose processes train together (sim/data_parallel.hpp); every
    // process runs the same calls, and state() and run() are collective.
    Trainer(Backend& backend, const models::TrainConfig& cfg, models::BatchSource& train, models::BatchSource* eval,
            Communicator* comm = nullptr);

    void add_observer(TrainObserver& observer) { observers_.push_back(&observer); }

    // Continue the run of a checkpoint: InputError when it was trained with another optimizer or its
    // state does not fit this run (moments, carried state, data cursor).
    void restore(const models::TrainState& st);
    models::TrainState state() const;

    // Run until `steps` more optimizer steps are done, cfg.max_steps is reached or an observer wants
    // to stop, then evaluate and checkpoint. Returns the final evaluation (when an evaluation source exists).
    std::optional<EvalResult> run(std::int64_t steps);

    EvalResult evaluate(models::BatchSource& source);
    std::int64_t step() const { return step_; }
    // Whether the last run() ended early on request_training_stop.
    bool stopped_by_signal() const { return stopped_by_signal_; }

private:
    RunOptions run_options(bool training) const;
    EvalResult evaluate_and_report();

    Backend& backend_;
    models::TrainConfig cfg_;
    models::BatchSource& train_;
    models::BatchSource* eval_;
    std::vector<TrainObserver*> observers_;
    Rng rng_;
    std::unique_ptr<Carry> carry_;
    LocalCommunicator local_comm_;
    Communicator* comm_ = nullptr;  // the processes training together (null: this one)
    std::unique_ptr<DataParallelStep> parallel_;  // when the batch is sharded (train.shards, processes)
    models::Batch batch_;
    std::int64_t step_ = 0, epoch_ = 0, seen_ = 0;
    double best_metric_ = -1e300;
    bool stopped_by_signal_ = false;
};

}  // namespace elm::sim
