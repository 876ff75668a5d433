// Host emulation of the CUDA execution model for gpu/*.cu (ELM_CUDA=EMULATE builds only): the
// built-in index variables (per OS thread), __shared__ memory (one static array per kernel, shared by
// the threads of the block that runs), __syncthreads (a barrier of the block's threads) and launch,
// which runs a grid's blocks one after another, each block's threads as blockDim.x OS threads of a
// pool. Only what the backend's kernels use: 1-D blocks, 1- or 2-D grids, no atomics, no warps.
#pragma once

#include <functional>

#include <cuda_runtime_api.h>

#undef __shared__
#define __shared__ static

namespace elm::gpu::emulation {
// The built-in variables of the calling (emulated) CUDA thread.
struct ThreadIndices {
    uint3 thread{}, block{}, block_dim{}, grid_dim{};
};
ThreadIndices& indices();
}  // namespace elm::gpu::emulation

#define threadIdx (::elm::gpu::emulation::indices().thread)
#define blockIdx (::elm::gpu::emulation::indices().block)
#define blockDim (::elm::gpu::emulation::indices().block_dim)
#define gridDim (::elm::gpu::emulation::indices().grid_dim)

void __syncthreads();

namespace elm::gpu::emulation {

// Runs `body` once per thread of every block of `grid` x `block`; returns when all have finished.
void launch(dim3 grid, dim3 block, const std::function<void()>& body);

}  // namespace elm::gpu::emulation
