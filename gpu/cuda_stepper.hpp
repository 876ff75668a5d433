// The CUDA backend's Stepper (sim/backend.hpp): B streams advanced update by update on the GPU — a
// double buffer of device states, the forward kernel of training (gpu/forward_kernels.cu) and the
// readout on one step, so a clock-mode simulation computes the evaluator's floats. Decays are cached
// by dt in a fixed table of device slots (clock mode uses one, an event schedule one per gap length;
// emptied when full). view() copies the state and logits of the last update to the host, once per
// update, when asked.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include <cuda_runtime_api.h>

#include "elmsim/gpu/device_decays.hpp"
#include "elmsim/gpu/device_network.hpp"
#include "elmsim/gpu/device_state.hpp"
#include "elmsim/sim/backend.hpp"

namespace elm::gpu {

class CudaStepper final : public sim::Stepper {
public:
    CudaStepper(DeviceNetwork& net, cudaStream_t stream, int B, const std::uint64_t* params_version);

    int batch() const override { return B_; }
    void reset() override;
    void advance(double dt_ms, const float* x) override;
    void advance_rows(const double* dt_ms, int active, const float* x) override;
    sim::StepperView view() const override;
    void write_rows(const sim::NetworkState<float>& s) override;
    void read_rows(sim::NetworkState<float>& s) const override;
    std::int64_t decay_computations() const override { return decay_computations_; }

private:
    int slot_for(double dt_ms);
    void readout();

    DeviceNetwork& net_;
    cudaStream_t s_;
    int B_;
    const std::uint64_t* params_version_;
    std::uint64_t seen_version_;
    DeviceDecays decays_;
    std::map<double, int> slot_of_dt_;
    int slots_used_ = 0;
    std::int64_t decay_computations_ = 0;
    DeviceState prev_, next_;
    DeviceBuffer<float> a_, dm_, u_, h_, x_, logits_;
    DeviceBuffer<std::int32_t> row_slot_;
    std::vector<std::int32_t> host_slots_;
    std::vector<double> dt_rows_;
    // host copies for view()
    mutable bool viewed_ = false;
    mutable std::vector<float> hy_, hv_, hm_, hb_, hlogits_;
};

}  // namespace elm::gpu
