// The CPU backend's Stepper (sim/backend.hpp): B streams of one network advanced update by update
// without a tape — a double buffer of NetworkState (previous / next), the forward workspace, scratch
// for the MLP pre-activations and memory drive, and a cache of StepDecays keyed by dt (clock mode
// has one dt, an event schedule one per gap length), so that once every dt has been seen no update
// allocates or recomputes a decay.
//
// Every update runs the same network_step_forward as training (sim/cpu/forward.hpp) and then the same
// readout_forward (sim/cpu/readout.hpp) on one step, so a clock-mode simulation gives the evaluator's
// floats bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/forward.hpp"
#include "elmsim/sim/cpu/tape.hpp"

namespace elm::sim::cpu {

class CpuStepper final : public Stepper {
public:
    // `params_version` is the backend's parameter version: when it changes, the derived weights and
    // cached decays are rebuilt at the next update.
    CpuStepper(const models::Network<float>& net, Executor& ex, int B, const std::uint64_t* params_version);

    int batch() const override { return B_; }
    void reset() override;
    void advance(double dt_ms, const float* x) override;
    void advance_rows(const double* dt_ms, int active, const float* x) override;
    StepperView view() const override;
    void write_rows(const NetworkState<float>& s) override;
    void read_rows(NetworkState<float>& s) const override;
    std::int64_t decay_computations() const override { return decay_computations_; }

private:
    const StepDecays<float>& decays_for(double dt_ms);
    void readout();

    // Decays by dt. Event schedules have one dt per gap length (at most max_dt / resolution of them),
    // clock mode one. The cache holds about kDecayCacheBytes (8 to 1024 entries, each 4 N d_m floats)
    // and is emptied when full.
    static constexpr std::size_t kDecayCacheBytes = std::size_t{64} << 20;
    static constexpr std::size_t kDecayCacheMin = 8, kDecayCacheMax = 1024;

    const models::Network<float>& net_;
    Executor& ex_;
    int B_;
    const std::uint64_t* params_version_;
    std::uint64_t seen_version_;
    NetworkState<float> prev_, next_;  // state before / after the running update (swapped after each)
    ForwardWorkspace<float> ws_;
    std::vector<float> a_, dm_;  // MLP pre-activations and memory drive (not kept: no tape)
    std::vector<float> logits_;  // [B][n_out]
    std::vector<const StepDecays<float>*> rows_;  // [B] the decays of each row's update
    std::vector<double> dt_rows_;                 // [B] advance's dt for every row
    std::unordered_map<double, std::unique_ptr<StepDecays<float>>> cache_;
    std::size_t cache_capacity_ = kDecayCacheMin;
    std::int64_t decay_computations_ = 0;
};

}  // namespace elm::sim::cpu
