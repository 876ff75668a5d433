// Learner<Real>: the CPU engine's batch — embedding, input dropout, forward over the tape, readout,
// loss, and (when gradients are asked for) the backward pass. Owns every buffer a batch needs and
// reuses them, so the time loop allocates nothing once the first batch of a shape is seen.
// The "cpu" backend (sim/cpu/cpu_backend.hpp) runs Learner<float>; Learner<double> is the float64
// reference engine of the finite-difference and cross-implementation tests.
#pragma once

#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/cpu/backward.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/forward.hpp"
#include "elmsim/models/batch.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/run_options.hpp"
#include "elmsim/sim/cpu/tape.hpp"
#include "elmsim/sim/event_batch_plan.hpp"

namespace elm::sim::cpu {

template <class Real>
class Learner {
public:
    Learner(const models::Network<Real>& net, Executor& ex);

    // Forward + loss. With `grads` (ParamLayout order) also backward, accumulating into grads.
    // `carry` (optional) is the state to start from and receives the final state. `rng` draws the
    // dropout mask (required when opt.dropout > 0).
    LossStats run(const models::Batch& batch, const RunOptions& opt, NetworkState<Real>* carry, Real* grads, Rng* rng);

    // The tape of the last run (with recomputation: of its first stretch only; without gradients: only
    // with RunOptions::keep_tape).
    const Tape<Real>& tape() const { return tape_; }
    // Logits of the steps the last run computed: [steps][B][n_out], steps = logit_steps().
    const std::vector<Real>& logits() const { return logits_; }
    int logit_steps() const { return logit_steps_; }
    // The model input the last run used, [T][B][C] (after embedding and dropout); a copy.
    std::vector<Real> model_input() const;

private:
    void build_input(const models::Batch& batch, double dropout, Rng* rng);
    // Forward over steps [t0, t0 + len) from `start` into tape_ (slot 0 = start).
    void forward_stretch(int t0, int len, int B, const NetworkState<Real>& start);
    // Inference forward over all T steps from start_ with two state buffers (no tape); records y of
    // steps t_record .. T-1 in y_record_ and leaves the final state in *carry.
    void forward_untaped(int T, int B, int t_record, NetworkState<Real>* carry);
    // Bytes of activation storage the last run needed (tape + checkpoints + y record; untaped: two
    // states, one step's scratch and the recorded outputs).
    std::size_t activation_bytes_ = 0;

public:
    std::size_t activation_bytes() const { return activation_bytes_; }

private:

    const models::Network<Real>& net_;
    Executor& ex_;
    // When each row updates and with which decays (sim/cpu/step_timing.hpp), rebuilt for every batch
    // because the parameters (tau_m) change between runs.
    void build_timing(const models::Batch& batch);
    StepDecays<Real> decays_;                          // of the model's dt (clock mode)
    EventBatchPlan plan_;                              // event batches: gap lengths, rows, active rows
    std::vector<StepDecays<Real>> gap_decays_;         // the decays of plan_.gaps[k] at index k
    std::vector<const StepDecays<Real>*> row_decays_;  // [B] (clock) or [T][B]
    std::vector<unsigned char> uniform_, scaled_;      // [T] (event batches)
    BatchTiming<Real> timing_;
    Tape<Real> tape_;
    ForwardWorkspace<Real> fws_;
    BackwardWorkspace<Real> bws_;
    std::vector<Real> keep_, g_x_, logits_, g_logits_, g_y_, readout_rows_;
    std::vector<Real> xt_;                        // [T][C][B] the model input by channel (engine layout)
    int input_T_ = 0, input_B_ = 0;               // shape of the last run's input
    std::vector<Real> y_record_;                  // [T][N][B] outputs, kept when recomputing
    std::vector<NetworkState<Real>> checkpoints_; // state at the start of every stretch
    NetworkState<Real> start_, ping_;
    std::vector<Real> a_scratch_, dm_scratch_;    // one step's MLP pre-activations and drives (untaped)
    int logit_steps_ = 0;
};

}  // namespace elm::sim::cpu
