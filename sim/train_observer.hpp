// TrainObserver: what a training run reports as it goes. The Trainer prints nothing and writes no
// file itself; the CLI attaches a progress line, the training workflow a metrics log and the
// checkpoint writer, a sweep its own bookkeeping — or nobody attaches anything.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/models/train_state.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/sim/loss.hpp"

namespace elm::sim {

struct StepReport {
    std::int64_t step = 0;       // optimizer steps done, this one included
    std::int64_t last_step = 0;  // the step this run stops at
    std::int64_t epoch = 0;
    LossStats stats;             // this step's batch
    double lr = 0.0;
    double grad_norm = 0.0;      // before clipping
    bool text = false;           // bytes task: stats are per next-byte prediction (bpc)
};

struct EvalReport {
    std::int64_t step = 0;
    EvalResult result;
};

class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    // Before the first step of a run that goes from first_step to last_step.
    virtual void on_start(std::int64_t /*first_step*/, std::int64_t /*last_step*/) {}
    // After every optimizer step.
    virtual void on_step(const StepReport&) {}
    // After the last step of this run; the final evaluation and checkpoint follow.
    virtual void on_steps_done() {}
    virtual void on_eval(const EvalReport&) {}
    // Periodic (train.checkpoint_every) and final: everything a resume needs besides the parameters,
    // which the observer reads from the backend.
    virtual void on_checkpoint(const models::TrainState&) {}
    // Observers that return true get the run's first batch as the network sees it (model input after
    // embedding and dropout, [T][B][C]) before it is trained on — for batch dumps. It costs one extra
    // forward pass, so the default is false.
    virtual bool wants_first_batch() const { return false; }
    // Checked after every step: an observer that returns true ends the run there (a wall-clock
    // budget); the final evaluation and checkpoint follow as after the last step.
    virtual bool wants_stop() const { return false; }
    virtual void on_first_batch(const models::Batch&, const std::vector<float>& /*model_input*/) {}
};

}  // namespace elm::sim
