// Simulator: one sample at a time (B = 1) through an ELM Network on any backend, in clock mode (fixed
// dt, spec elm-network.md sections 1-3) or event mode (one update per models::EventSchedule entry, each with
// its own dt, section 5). It turns inputs on the task's RAW channels (700 spike channels, 256 byte
// values) into the model's input — counts per channel, which with a byte embedding (C_e > 0) become
// sum_c count_c E[c] (for one byte exactly its embedding row, as the trainer feeds it) — keeps time
// and update counts, and hands each update to the backend's Stepper (sim/backend.hpp).
//
// The backend runs the same forward and readout as in training, so a clock-mode run gives the
// evaluator's floats bit for bit. Parameters changed in the backend are picked up at the next update.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/model_input.hpp"

namespace elm::sim {

// What an observer sees after each update. Arrays are the whole network for the one sample:
// y [N], v [N], m [N][d_m], b [N][n_b] (m and b are null for LIF), logits [n_out].
struct UpdateView {
    std::int64_t index = 0;  // 0-based update number since reset()
    double time_ms = 0.0;    // end of this update
    double dt_ms = 0.0;      // its step length
    double inputs = 0.0;     // input impulses it delivered (the sum of their counts)
    const float* y = nullptr;
    const float* v = nullptr;
    const float* m = nullptr;
    const float* b = nullptr;
    const float* logits = nullptr;
};

using UpdateObserver = std::function<void(const UpdateView&)>;

class Simulator {
public:
    // The backend must outlive the simulator.
    explicit Simulator(Backend& backend);

    // All states back to zero, time 0, update count 0 (keeps every buffer).
    void reset();

    // One update of length dt_ms (> 0) ending at time_ms, with input impulses (channels[k], counts[k])
    // on the raw channels; InputError for a channel outside [0, C). Computes the logits.
    void step(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts, std::size_t n);
    // Same with a dense raw input row x [C] (counts per channel).
    void step_dense(double time_ms, double dt_ms, const float* x);

    // Clock mode: T updates of dt = cfg.dt_ms over x [T][C] (raw counts, e.g. io::bin_sample with
    // B = 1), update t ending at (t + 1) dt. Starts from the current state (call reset() first).
    void run_clock(const float* x, std::int64_t T, const UpdateObserver& observer);
    // Event mode: every update of `schedule` with its own dt. Starts from the current state.
    void run_event(const models::EventSchedule& schedule, const UpdateObserver& observer);

    // State after the last update (B = 1 layouts: [N], [N][d_m], [N][n_b]).
    UpdateView view() const;
    const float* logits() const { return stepper_->view().logits; }
    int raw_channels() const { return input_.raw_channels(); }
    std::int64_t updates() const { return updates_; }
    double time_ms() const { return time_ms_; }
    std::int64_t decay_computations() const { return stepper_->decay_computations(); }

private:
    void advance(double time_ms, double dt_ms, const float* x_model);

    const models::ModelConfig cfg_;
    std::unique_ptr<Stepper> stepper_;
    ModelInput input_;                      // raw channels to the model's input
    std::vector<float> x_;                  // model input of one update [C_model], all zero between updates
    std::vector<std::int32_t> nz_channel_;  // step_dense with an embedding: the row's non-zero channels
    std::vector<float> nz_count_;
    std::int64_t updates_ = 0;
    double time_ms_ = 0.0, last_dt_ms_ = 0.0, last_inputs_ = 0.0;
};

}  // namespace elm::sim
