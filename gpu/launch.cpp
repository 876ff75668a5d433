// The launch check of gpu/launch.hpp and the counters of gpu/launch_counts.hpp.
#include "elmsim/gpu/launch.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "elmsim/gpu/launch_counts.hpp"

namespace elm::gpu {

namespace {

std::atomic<std::uint64_t> kernels{0}, memory_ops{0}, host_syncs{0};

bool sync_requested() {
#if !defined(NDEBUG) || defined(ELM_CUDA_DEBUG_SYNC)
    return true;
#else
    const char* env = std::getenv("ELM_CUDA_SYNC_LAUNCHES");
    return env && *env && std::strcmp(env, "0") != 0;
#endif
}

}  // namespace

void count_kernel_launch() { kernels.fetch_add(1, std::memory_order_relaxed); }
void count_memory_op() { memory_ops.fetch_add(1, std::memory_order_relaxed); }
void count_host_sync() { host_syncs.fetch_add(1, std::memory_order_relaxed); }

LaunchCounts launch_counts() {
    return {kernels.load(std::memory_order_relaxed), memory_ops.load(std::memory_order_relaxed),
            host_syncs.load(std::memory_order_relaxed)};
}

bool launches_synchronised() {
    static const bool sync = sync_requested();
    return sync;
}

void check_launch(const char* kernel, const char* file, int line) {
    count_kernel_launch();
    cudaError_t err = cudaGetLastError();
    const bool waited = err == cudaSuccess && launches_synchronised();
    if (waited) err = cudaDeviceSynchronize();
    if (err == cudaSuccess) return;
    if (waited)
        throw CudaError(fmt::format("CUDA error {} ({}) in kernel {} launched at {}:{}", cudaGetErrorName(err),
                                    cudaGetErrorString(err), kernel, file, line));
    // Unsynchronised, the error may be an earlier kernel's fault that surfaced at this launch.
    throw CudaError(fmt::format("CUDA error {} ({}) at the launch of kernel {} at {}:{} (this launch, or a fault of an "
                                "earlier kernel: ELM_CUDA_SYNC_LAUNCHES=1 names the kernel)",
                                cudaGetErrorName(err), cudaGetErrorString(err), kernel, file, line));
}

}  // namespace elm::gpu
