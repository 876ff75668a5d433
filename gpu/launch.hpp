// ELM_LAUNCH(kernel, grid, block, stream, args...): one kernel launch, counted (gpu/launch_counts.hpp)
// and checked (check_launch below). Built by nvcc it is the triple-chevron launch; in the
// host-emulation build (ELM_CUDA=EMULATE, gpu/emulation/) the same kernel source runs on host threads,
// one OS thread per CUDA thread of a block, blocks one after another, __syncthreads a barrier — so the
// backend's logic is testable on a machine without a GPU.
#pragma once

#include "elmsim/gpu/cuda_error.hpp"

namespace elm::gpu {

// After every launch: counts it, and throws CudaError naming the kernel and the launch site when the
// launch failed (bad configuration, no kernel image for this device, a fault of an earlier kernel).
// When launches are synchronised — debug builds (no NDEBUG), -DELM_CUDA_DEBUG_SYNC=ON, or
// ELM_CUDA_SYNC_LAUNCHES=1 in the environment — it also waits for the device, so that a fault inside
// the kernel (illegal address, misaligned access) is reported here, with this kernel's name, instead
// of at a later unrelated call. Release builds pay one cudaGetLastError per launch.
void check_launch(const char* kernel, const char* file, int line);
// Whether check_launch waits for the device after each launch (decided once per process).
bool launches_synchronised();

}  // namespace elm::gpu

#if defined(ELM_CUDA_EMULATION)
#include "elmsim/gpu/emulation/emulated_device.hpp"
#define ELM_LAUNCH(kernel, grid, block, stream, ...)                                                  \
    do {                                                                                              \
        (void)(stream);                                                                               \
        ::elm::gpu::emulation::launch(dim3(grid), dim3(block), [&] { kernel(__VA_ARGS__); });        \
        ::elm::gpu::check_launch(#kernel, __FILE__, __LINE__);                                        \
    } while (0)
#else
#define ELM_LAUNCH(kernel, grid, block, stream, ...)                  \
    do {                                                              \
        kernel<<<grid, block, 0, stream>>>(__VA_ARGS__);              \
        ::elm::gpu::check_launch(#kernel, __FILE__, __LINE__);        \
    } while (0)
#endif
