// Simulator<Real>: one sample at a time (B = 1) through the ELM Network without a tape, in clock mode
// (fixed dt, spec elm-network.md sections 1-3) or event mode (one update per EventSchedule entry, each
// with its own dt, section 5). It owns a double buffer of NetworkState (previous / next), the forward
// workspace, scratch for the MLP pre-activations and memory drive, the model-input vector and a small
// cache of StepDecays keyed by dt, so that after the first updates no update allocates.
//
// Every update runs the same network_step_forward as training (sim/forward.hpp) and then the same
// readout_forward (sim/readout.hpp) on one step, so a clock-mode run gives the evaluator's floats bit
// for bit. The network's parameters must not change while a Simulator uses it (the forward workspace
// derives transposed weights from them on the first update).
//
// Inputs are given on the task's RAW channels (C of the task: 700 spike channels, 256 byte values):
// counts per channel, which with a byte embedding (C_e > 0) become sum_c count_c E[c] (for one byte
// exactly its embedding row, as the trainer feeds it).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/event_schedule.hpp"
#include "elmsim/sim/executor.hpp"
#include "elmsim/sim/forward.hpp"
#include "elmsim/sim/network_state.hpp"

namespace elm::sim {

// What an observer sees after each update. Arrays are the whole network for the one sample:
// y [N], v [N], m [N][d_m], b [N][n_b] (m and b are null for LIF), logits [n_out].
template <class Real>
struct UpdateView {
    std::int64_t index = 0;  // 0-based update number since reset()
    double time_ms = 0.0;    // end of this update
    double dt_ms = 0.0;      // its step length
    const Real* y = nullptr;
    const Real* v = nullptr;
    const Real* m = nullptr;
    const Real* b = nullptr;
    const Real* logits = nullptr;
};

template <class Real>
using UpdateObserver = std::function<void(const UpdateView<Real>&)>;

template <class Real>
class Simulator {
public:
    Simulator(const models::Network<Real>& net, Executor& ex);

    // All states back to zero, time 0, update count 0 (keeps every buffer).
    void reset();

    // One update of length dt_ms (> 0) ending at time_ms, with input impulses (channels[k], counts[k])
    // on the raw channels; InputError for a channel outside [0, C). Computes the logits.
    void step(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts, std::size_t n);
    // Same with a dense raw input row x [C] (counts per channel).
    void step_dense(double time_ms, double dt_ms, const float* x);

    // Clock mode: T updates of dt = cfg.dt_ms over x [T][C] (raw counts, e.g. io::bin_sample with
    // B = 1), update t ending at (t + 1) dt. Starts from the current state (call reset() first).
    void run_clock(const float* x, std::int64_t T, const UpdateObserver<Real>& observer);
    // Event mode: every update of `schedule` with its own dt. Starts from the current state.
    void run_event(const EventSchedule& schedule, const UpdateObserver<Real>& observer);

    // State after the last update (B = 1 layouts: [N], [N][d_m], [N][n_b]).
    UpdateView<Real> view() const;
    const Real* logits() const { return logits_.data(); }
    std::int64_t updates() const { return updates_; }
    double time_ms() const { return time_ms_; }
    // Distinct dt values whose decays were computed (cache misses): tests check the cache works.
    std::int64_t decay_computations() const { return decay_computations_; }

private:
    const StepDecays<Real>& decays_for(double dt_ms);
    void advance(double time_ms, double dt_ms, const Real* x_model);
    void readout();

    // A handful of entries covers clock mode (one dt) and event mode (the tick dt, the resolution,
    // and a few gap lengths); misses recompute into the least recently used entry, reusing its vectors.
    static constexpr std::size_t kDecayCacheSize = 8;
    struct DecayEntry {
        double dt_ms = -1.0;
        std::uint64_t used = 0;
        StepDecays<Real> decays;
    };

    const models::Network<Real>& net_;
    Executor& ex_;
    int C_raw_;                       // task channels the inputs are given on
    int C_model_;                     // model input width (C_e with an embedding)
    NetworkState<Real> prev_, next_;  // state before / after the running update (swapped after each)
    ForwardWorkspace<Real> ws_;
    std::vector<Real> a_, dm_;              // MLP pre-activations and memory drive (not kept: no tape)
    std::vector<Real> x_;                   // model input of one update [C_model], all zero between updates
    std::vector<std::int32_t> nz_channel_;  // step_dense with an embedding: the row's non-zero channels
    std::vector<float> nz_count_;
    std::vector<Real> logits_;  // [n_out]
    std::array<DecayEntry, kDecayCacheSize> cache_;
    std::uint64_t clock_ = 0;
    std::int64_t updates_ = 0, decay_computations_ = 0;
    double time_ms_ = 0.0, last_dt_ms_ = 0.0;
};

}  // namespace elm::sim
