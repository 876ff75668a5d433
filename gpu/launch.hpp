// ELM_LAUNCH(kernel, grid, block, stream, args...): one kernel launch. Built by nvcc it is the
// triple-chevron launch; in the host-emulation build (ELM_CUDA=EMULATE, gpu/emulation/) the same
// kernel source runs on host threads, one OS thread per CUDA thread of a block, blocks one after
// another, __syncthreads a barrier — so the backend's logic is testable on a machine without a GPU.
#pragma once

#if defined(ELM_CUDA_EMULATION)
#include "elmsim/gpu/emulation/emulated_device.hpp"
#define ELM_LAUNCH(kernel, grid, block, stream, ...) \
    ((void)(stream), ::elm::gpu::emulation::launch(dim3(grid), dim3(block), [&] { kernel(__VA_ARGS__); }))
#else
#define ELM_LAUNCH(kernel, grid, block, stream, ...) kernel<<<grid, block, 0, stream>>>(__VA_ARGS__)
#endif
