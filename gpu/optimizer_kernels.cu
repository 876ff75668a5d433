// Optimizer kernels of the CUDA backend: the gradient norm (a fixed-shape reduction in double, so it
// repeats bit for bit on one device) and the updates of sim/optimizer_math.hpp, one thread per
// parameter, over the trainable ones only.
#include "elmsim/gpu/kernels.hpp"
#include "elmsim/gpu/launch.hpp"

namespace elm::gpu {

namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::size_t n) {
    const std::size_t g = (n + kThreads - 1) / kThreads;
    return g < 1 ? 1u : (g > 65535 ? 65535u : static_cast<unsigned>(g));
}

// Tree sum of the block's values in shared memory, in a fixed order; the result is in sh[0].
__device__ void block_sum(double* sh) {
    for (int stride = kThreads / 2; stride > 0; stride /= 2) {
        __syncthreads();
        if (static_cast<int>(threadIdx.x) < stride) sh[threadIdx.x] += sh[threadIdx.x + stride];
    }
    __syncthreads();
}

__global__ void squared_norm_partial_kernel(const float* __restrict__ g, const std::uint8_t* __restrict__ trainable,
                                            std::size_t n, double* __restrict__ partial) {
    __shared__ double sh[kThreads];
    double acc = 0.0;
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(kThreads) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(kNormBlocks) * kThreads)
        if (trainable[k]) acc += static_cast<double>(g[k]) * static_cast<double>(g[k]);
    sh[threadIdx.x] = acc;
    block_sum(sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

__global__ void squared_norm_final_kernel(const double* __restrict__ partial, double* __restrict__ out) {
    __shared__ double sh[kThreads];
    sh[threadIdx.x] = threadIdx.x < kNormBlocks ? partial[threadIdx.x] : 0.0;
    block_sum(sh);
    if (threadIdx.x == 0) out[0] = sh[0];
}

__global__ void sgd_kernel(float* __restrict__ p, const float* __restrict__ g, const std::uint8_t* __restrict__ trainable,
                           std::size_t n, float lr) {
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x)
        if (trainable[k]) p[k] = sim::sgd_update(p[k], g[k], lr);
}

__global__ void adam_kernel(float* __restrict__ p, float* __restrict__ m1, float* __restrict__ m2,
                            const float* __restrict__ g, const std::uint8_t* __restrict__ trainable, std::size_t n,
                            sim::AdamCoefficients c, int adamax) {
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        if (!trainable[k]) continue;
        if (adamax)
            sim::adamax_update(p[k], m1[k], m2[k], g[k], c);
        else
            sim::adam_update(p[k], m1[k], m2[k], g[k], c);
    }
}

}  // namespace

static_assert(kNormBlocks <= kThreads, "the final norm reduction holds one partial per thread");

void launch_squared_norm(const float* grads, const std::uint8_t* trainable, std::size_t n, double* partial, double* out,
                         cudaStream_t s) {
    ELM_LAUNCH(squared_norm_partial_kernel, kNormBlocks, kThreads, s, grads, trainable, n, partial);
    ELM_LAUNCH(squared_norm_final_kernel, 1, kThreads, s, partial, out);
}

void launch_sgd(float* params, const float* grads, const std::uint8_t* trainable, std::size_t n, float lr,
                cudaStream_t s) {
    if (n == 0) return;
    ELM_LAUNCH(sgd_kernel, grid_for(n), kThreads, s, params, grads, trainable, n, lr);
}

void launch_adam(float* params, float* m1, float* m2, const float* grads, const std::uint8_t* trainable, std::size_t n,
                 const sim::AdamCoefficients& c, bool adamax, cudaStream_t s) {
    if (n == 0) return;
    ELM_LAUNCH(adam_kernel, grid_for(n), kThreads, s, params, m1, m2, grads, trainable, n, c, adamax ? 1 : 0);
}

}  // namespace elm::gpu
