// Backend: where an ELM Network runs. Everything that trains, evaluates or simulates a network —
// Trainer, evaluation, Simulator, Session, the workflows of sim/workflow/, the CLI, benchmarks and
// tests — reaches the engine only through this interface, so a new backend (gpu/: "cuda") plugs in
// by adding its files and one line of sim/registry/backend_registry.cpp.
//
// A backend owns the parameters of one network where it computes (host memory for "cpu", device
// memory for "cuda"), its gradients and optimizer moments (all in ParamLayout order, as one flat
// buffer each), and whatever a batch needs. Host code sees them through read_params / write_params,
// gradients() and optimizer_state(); every float that crosses this interface is in the layouts of
// models/param_layout.hpp and sim/network_state.hpp.
//
// Learning mode, one optimizer step:
//     backend.zero_gradients();
//     LossStats st = backend.step(batch, options, carry, /*want_grads=*/true, &rng);
//     // (with data parallelism, sim/data_parallel.hpp: one step per shard, their gradients summed)
//     double norm = backend.update(train_config, lr);
//
// Streaming inference (simulation, live sessions) goes through a Stepper: B independent streams
// advanced one update at a time, each update with its own dt.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/param_layout.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/train_config.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/network_state.hpp"
#include "elmsim/sim/run_options.hpp"

namespace elm::sim {

struct BackendOptions {
    int threads = 0;  // "cpu": worker threads (0 = all hardware threads)
    int device = 0;   // "cuda": device ordinal
};

// Network state carried from one step() to the next (truncated BPTT over text windows), held where
// the backend computes. An empty carry (batch() == 0) makes the next step start from zeros.
class Carry {
public:
    virtual ~Carry() = default;
    virtual int batch() const = 0;
    virtual void clear() = 0;
    virtual NetworkState<float> read() const = 0;          // host copy (checkpoints)
    virtual void write(const NetworkState<float>& s) = 0;  // from host (resume); s.B > 0
};

// Adam / Adamax moments and bias-correction count (ParamLayout order; empty for SGD).
struct OptimizerState {
    std::int64_t t = 0;
    std::vector<float> m1, m2;
};

// What a Stepper shows after an update, host-visible, for its B streams: y [N][B], v [N][B],
// m [N][B][d_m] and b [N][B][n_b] (null for LIF), logits [B][n_out].
struct StepperView {
    int B = 0;
    const float* y = nullptr;
    const float* v = nullptr;
    const float* m = nullptr;
    const float* b = nullptr;
    const float* logits = nullptr;
};

// B streams through the network without a tape or gradients. When the backend's parameters change
// (update, write_params), a stepper re-derives what it caches at its next update.
class Stepper {
public:
    virtual ~Stepper() = default;
    virtual int batch() const = 0;
    // Every state to zero; the logits become the readout of the zero state (b_o).
    virtual void reset() = 0;
    // One update of length dt_ms (> 0) for every stream; x [C][B] is the update's model input by
    // channel (C = the model's input width: counts or impulses, or embedding rows). Computes the logits.
    virtual void advance(double dt_ms, const float* x) = 0;
    // One update of rows [0, active), row b of length dt_ms[b] (> 0); rows >= active hold their state
    // (the padding of a batch of event schedules, models/batch.hpp). x as for advance.
    virtual void advance_rows(const double* dt_ms, int active, const float* x) = 0;
    virtual StepperView view() const = 0;
    // Rows [0, s.B) of the state set from / copied to a host state of s.B <= batch() rows (the layouts
    // of sim/network_state.hpp): how one stepper serves many sessions that keep their own state between
    // batches (sim/stream_batcher.hpp). A written row's logits are those of its next update.
    virtual void write_rows(const NetworkState<float>& s) = 0;
    virtual void read_rows(NetworkState<float>& s) const = 0;
    // Decay computations (cache misses: a dt seen for the first time, or again after the cache was
    // emptied): tests check the cache works.
    virtual std::int64_t decay_computations() const = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual std::string name() const = 0;
    // For logs and benchmark headers, e.g. "threads 2  kernels avx2-fma".
    virtual std::string describe() const = 0;
    virtual const models::ModelConfig& config() const = 0;
    virtual const models::ParamLayout& layout() const = 0;
    // Whether this backend can run `cfg`; when not, *why says what is missing (one line).
    virtual bool supports(const models::ModelConfig& cfg, std::string* why) const = 0;

    // ---- learning mode ----
    virtual std::unique_ptr<Carry> make_carry() const = 0;
    // One batch: forward, readout and loss; with want_grads also the backward pass, whose parameter
    // gradients ACCUMULATE into gradients(). `carry` (may be null) is the state to start from when it
    // holds one of this batch's B, and receives the final state. `dropout_rng` draws the input dropout
    // mask (required when opt.dropout > 0).
    virtual LossStats step(const models::Batch& batch, const RunOptions& opt, Carry* carry, bool want_grads,
                           Rng* dropout_rng) = 0;
    virtual void zero_gradients() = 0;
    // dL/dθ in ParamLayout order, host-visible: the hook of an all-reduce and of the tests. Values
    // written here are what update() uses. Valid until the next step, update or zero_gradients.
    virtual std::span<float> gradients() = 0;
    // Global-norm clipping (Adam/Adamax; plain SGD never clips) and one SGD/Adam/Adamax update of the
    // trainable tensors in place. Returns the gradient norm before clipping; InputError if it is not
    // finite (training diverged).
    virtual double update(const models::TrainConfig& cfg, double lr) = 0;
    virtual OptimizerState optimizer_state() const = 0;
    // Restores moments from a checkpoint: each is empty or of layout().total_size() values.
    virtual void set_optimizer_state(const OptimizerState& s) = 0;

    virtual void read_params(std::span<float> out) const = 0;  // out.size() == layout().total_size()
    virtual void write_params(std::span<const float> in) = 0;
    // Changes whenever the parameters change (update, write_params): what caches derived from them
    // (a stepper's packed weights, a simulator's embedding rows) compare to know they are stale.
    virtual std::uint64_t params_version() const = 0;

    // ---- outputs of the last step(), host-visible ----
    // Logits of the steps it computed, [logit_steps()][B][n_out] (the loss steps, or every step with
    // opt.all_logits).
    virtual std::span<const float> logits() const = 0;
    virtual int logit_steps() const = 0;
    // Its model input [T][B][C] after embedding and dropout (a copy; for batch dumps).
    virtual std::vector<float> model_input() const = 0;
    // Its states update by update; requires opt.keep_tape or gradients (with recomputation: the first
    // stretch only). Throws std::logic_error otherwise.
    virtual StateTrace state_trace() const = 0;
    // Bytes of activation storage it needed (tape, checkpoints, recorded outputs).
    virtual std::size_t activation_bytes() const = 0;

    // ---- streaming inference ----
    virtual std::unique_ptr<Stepper> make_stepper(int B) = 0;
};

}  // namespace elm::sim
