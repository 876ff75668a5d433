// The "cuda" backend (sim/backend.hpp) on an NVIDIA GPU: what the registry
// (sim/registry/backend_registry.cpp) needs to list, check and make it. Host header: no CUDA types.
#pragma once

#include <memory>
#include <string>

#include "elmsim/gpu/launch_counts.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"

namespace elm::gpu {

// Whether a CUDA device can be used here; *why (one line) when not: no device, no driver, or a driver
// older than this build's runtime (naming both versions).
bool available(std::string* why);
bool supports(const models::ModelConfig& cfg, std::string* why);

// What benchmarks report about a device: its name, compute capability, multiprocessors, clock and
// FP32 peak (SMs x FP32 lanes per SM x 2 FLOPs per FMA x clock; lanes from the architecture).
struct DeviceInfo {
    std::string name;
    int major = 0, minor = 0, sms = 0;
    double clock_ghz = 0, fp32_peak_gflops = 0;
};
DeviceInfo device_info(int device);
std::unique_ptr<sim::Backend> make_backend(const models::Network<float>& net, const sim::BackendOptions& options);

}  // namespace elm::gpu
