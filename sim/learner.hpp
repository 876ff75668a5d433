// Learner<Real>: one batch through the whole network — embedding, input dropout, forward over the
// tape, readout, loss, and (when gradients are asked for) the backward pass. Owns every buffer a batch
// needs and reuses them, so the time loop allocates nothing once the first batch of a shape is seen.
#pragma once

#include <vector>

#include "models/network.hpp"
#include "models/rng.hpp"
#include "sim/backward.hpp"
#include "sim/batch.hpp"
#include "sim/executor.hpp"
#include "sim/forward.hpp"
#include "sim/loss.hpp"
#include "sim/network_state.hpp"

namespace elm::sim {

struct RunOptions {
    LossMode loss = LossMode::last;
    int last_k = 1;            // K for mean_last_k
    double dropout = 0.0;      // input dropout probability (training only)
    bool all_logits = false;   // compute logits at every step (traces), not only the loss steps
};

template <class Real>
class Learner {
public:
    Learner(const models::Network<Real>& net, Executor& ex);

    // Forward + loss. With `grads` (ParamLayout order) also backward, accumulating into grads.
    // `carry` (optional) is the state to start from and receives the final state. `rng` draws the
    // dropout mask (required when opt.dropout > 0).
    LossStats run(const Batch& batch, const RunOptions& opt, NetworkState<Real>* carry, Real* grads, Rng* rng);

    const Tape<Real>& tape() const { return tape_; }
    // Logits of the steps the last run computed: [steps][B][n_out], steps = logit_steps().
    const std::vector<Real>& logits() const { return logits_; }
    int logit_steps() const { return logit_steps_; }
    // The model input the last run used, [T][B][C] (after embedding and dropout).
    const std::vector<Real>& model_input() const { return x_; }

private:
    void build_input(const Batch& batch, double dropout, Rng* rng);

    const models::Network<Real>& net_;
    Executor& ex_;
    StepDecays<Real> decays_;
    Tape<Real> tape_;
    ForwardWorkspace<Real> fws_;
    BackwardWorkspace<Real> bws_;
    std::vector<Real> x_, keep_, g_x_, logits_, g_logits_, g_y_;
    int logit_steps_ = 0;
};

}  // namespace elm::sim
