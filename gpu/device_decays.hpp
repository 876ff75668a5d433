// DeviceDecays: the decays of a set of update lengths on the GPU (gpu/device_model.hpp DecayTable):
// the per-unit decays computed on the device from the current tau_m_raw by the shared
// models::memory_unit_decays, the per-update scalars (branch and membrane decays, rate gain) by the
// host's sim::step_scalars, as the CPU engine computes them.
#pragma once

#include <vector>

#include <cuda_runtime_api.h>

#include "elmsim/gpu/device_buffer.hpp"
#include "elmsim/gpu/device_network.hpp"

namespace elm::gpu {

class DeviceDecays {
public:
    // Slots [0, dt_ms.size()) := the decays of those update lengths (earlier slots are dropped).
    void compute(const DeviceNetwork& net, const std::vector<double>& dt_ms, cudaStream_t s);
    // Room for `slots` slots, keeping none: compute_slot then fills them one by one.
    void reserve(const DeviceNetwork& net, int slots);
    void compute_slot(const DeviceNetwork& net, int slot, double dt_ms, cudaStream_t s);
    int capacity() const { return capacity_; }
    DecayTable table() const;

private:
    void size_for(const DeviceNetwork& net, int slots);
    int capacity_ = 0;
    DeviceBuffer<float> kappa_m_, kappa_l_, dkm_, dkl_, kappa_u_, dku_, kappa_b_, kappa_v_, gain_, dt_;
    std::vector<float> host_kb_, host_kv_, host_gain_, host_dt_;
};

}  // namespace elm::gpu
