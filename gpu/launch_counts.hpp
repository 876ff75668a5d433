// What the CUDA backend has enqueued since the process started: kernel launches, memory operations on
// a stream (cudaMemcpy*Async, cudaMemsetAsync) and host waits (cudaStreamSynchronize), over every
// backend, device and thread of the process. Always on (one relaxed atomic add each). Read it before
// and after the work to measure and subtract: docs/benchmarks.md gives launches per training step.
// Host header: no CUDA types.
#pragma once

#include <cstdint>

namespace elm::gpu {

struct LaunchCounts {
    std::uint64_t kernels = 0;
    std::uint64_t memory_ops = 0;
    std::uint64_t host_syncs = 0;
};

LaunchCounts launch_counts();

inline LaunchCounts operator-(const LaunchCounts& a, const LaunchCounts& b) {
    return {a.kernels - b.kernels, a.memory_ops - b.memory_ops, a.host_syncs - b.host_syncs};
}

// Called by ELM_LAUNCH (gpu/launch.hpp) and by every stream copy and wait of the backend.
void count_kernel_launch();
void count_memory_op();
void count_host_sync();

}  // namespace elm::gpu
