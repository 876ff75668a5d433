// Launchers of the CUDA backend's kernels (gpu/*_kernels.cu): host functions that enqueue one kernel
// on a stream and return at once. Each kernel combines the shared per-neuron formulas of
// models/elm_math.hpp (ELM_HD) exactly as the CPU engine does (sim/cpu/forward.cpp, backward.cpp,
// readout.cpp): the same terms summed in the same order, explicit fmaf where the CPU's AVX2 GEMMs
// fuse, plain multiply-then-add elsewhere (device code is built with --fmad=false).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "elmsim/gpu/cuda_error.hpp"
#include "elmsim/gpu/device_model.hpp"
#include "elmsim/sim/optimizer_math.hpp"

namespace elm::gpu {

// ---- inputs and decays (forward_kernels.cu) ----
// xt [T][C][B] := x [T][B][C] (times keep [T][B][C] when keep is not null).
void launch_dense_input(const float* x, const float* keep, float* xt, int T, int B, int C, cudaStream_t s);
// xt [T][C][B] := embedding rows of tokens [T][B] (times keep when not null).
void launch_embedded_input(const float* embedding, const std::uint8_t* tokens, const float* keep, float* xt, int T,
                           int B, int C, cudaStream_t s);
// Per memory unit decays of `slots` update lengths dt [slot] (floats) into the table's arrays.
void launch_unit_decays(const NetDims& d, const float* tau_m_raw, const float* dt, int slots, float* kappa_m,
                        float* kappa_l, float* dkm_draw, float* dkl_draw, float* kappa_u, float* dku_draw,
                        cudaStream_t s);

// ---- forward (forward_kernels.cu) ----
void launch_forward_step(const NetDims& d, const float* params, const ParamOffsets& o, const DeviceConnectivity& cn,
                         const DecayTable& dt, const ForwardStep& st, cudaStream_t s);
// logits [steps][B][n_out] = W_o y + b_o for y [steps][N][B].
void launch_readout_forward(const NetDims& d, const float* params, const ParamOffsets& o, const float* y, int steps,
                            int B, float* logits, cudaStream_t s);

// ---- backward (backward_kernels.cu) ----
// Parameter gradients of the readout (accumulated into grads) and dL/dy [steps][N][B] (overwritten).
void launch_readout_backward(const NetDims& d, const float* params, const ParamOffsets& o, const float* y, int steps,
                             int B, const float* g_logits, float* grads, float* g_y, cudaStream_t s);
// One step of BPTT for every neuron: parameter gradients accumulate into grads, the carried
// gradients move one step back, g_drive (ELM) or g_v (LIF) hold the step's dL/d(drive).
void launch_backward_step(const NetDims& d, const float* params, const ParamOffsets& o, const DeviceConnectivity& cn,
                          const DecayTable& dt, const BackwardStep& st, float* grads, cudaStream_t s);
// dL/dy_{t-1} through the recurrent synapses into g_yrec [N][B] (rows < active), and when g_x is not
// null dL/dx [B][C] of the step (rows >= active: 0). g_rows: g_drive (ELM) or g_v (LIF).
void launch_backward_gather(const NetDims& d, const float* params, const ParamOffsets& o, const DeviceConnectivity& cn,
                            const DecayTable& dt, const std::int32_t* row_slot, const float* g_rows, int B, int active,
                            float* g_yrec, float* g_x, cudaStream_t s);
// grads[embedding] += dL/dx through the embedding rows of tokens [T B] (times keep when not null).
void launch_embedding_backward(const float* g_x, const std::uint8_t* tokens, const float* keep, std::int64_t TB, int C,
                               float* g_embedding, cudaStream_t s);

// ---- optimizer (optimizer_kernels.cu) ----
// sum of grads[k]^2 over the trainable mask, in double, in a fixed order: partial [kNormBlocks] then out[0].
#if defined(ELM_CUDA_EMULATION)
inline constexpr int kNormBlocks = 4;  // host threads: fewer blocks, another (still fixed) summation tree
#else
inline constexpr int kNormBlocks = 256;
#endif
void launch_squared_norm(const float* grads, const std::uint8_t* trainable, std::size_t n, double* partial,
                         double* out, cudaStream_t s);
void launch_sgd(float* params, const float* grads, const std::uint8_t* trainable, std::size_t n, float lr,
                cudaStream_t s);
void launch_adam(float* params, float* m1, float* m2, const float* grads, const std::uint8_t* trainable, std::size_t n,
                 const sim::AdamCoefficients& c, bool adamax, cudaStream_t s);

}  // namespace elm::gpu
