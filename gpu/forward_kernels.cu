// Forward kernels of the CUDA backend: the model input, the per-unit decays, one update of every
// neuron (sim/cpu/forward.cpp's step, one thread per neuron and row) and the readout.
//
// One thread computes one neuron's update for one row: its drive, branch traces, MLP (weights read
// by every thread of the block at the same address: one broadcast load), memory units and output.
// The MLP layers sum their terms in ascending order from the bias with fmaf, as the CPU's AVX2
// GEMMs do (sim/cpu/small_gemm_avx2.cpp); every other operation is the shared formula itself.
#include "elmsim/gpu/kernels.hpp"
#include "elmsim/gpu/launch.hpp"
#include "elmsim/models/elm_math.hpp"

namespace elm::gpu {

namespace {

constexpr int kThreads = 128;

unsigned blocks_for(std::size_t n, int threads = kThreads) {
    return static_cast<unsigned>((n + static_cast<std::size_t>(threads) - 1) / static_cast<std::size_t>(threads));
}

__global__ void dense_input_kernel(const float* __restrict__ x, const float* __restrict__ keep, float* __restrict__ xt,
                                   int T, int B, int C) {
    const std::size_t n = static_cast<std::size_t>(T) * B * C;
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        // k indexes the output [T][C][B]
        const std::size_t b = k % B, c = (k / B) % C, t = k / (static_cast<std::size_t>(B) * C);
        const std::size_t in = (t * B + b) * C + c;
        float v = x[in];
        if (keep) v *= keep[in];
        xt[k] = v;
    }
}

__global__ void embedded_input_kernel(const float* __restrict__ E, const std::uint8_t* __restrict__ tokens,
                                      const float* __restrict__ keep, float* __restrict__ xt, int T, int B, int C) {
    const std::size_t n = static_cast<std::size_t>(T) * B * C;
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const std::size_t b = k % B, c = (k / B) % C, t = k / (static_cast<std::size_t>(B) * C);
        const std::size_t tb = t * B + b;
        float v = E[static_cast<std::size_t>(tokens[tb]) * C + c];
        if (keep) v *= keep[tb * C + c];
        xt[k] = v;
    }
}

__global__ void unit_decays_kernel(NetDims d, const float* __restrict__ raw, const float* __restrict__ dt, int slots,
                                   float* km, float* kl, float* dkm, float* dkl, float* ku, float* dku) {
    const std::size_t units = static_cast<std::size_t>(d.N) * d.d_m, n = units * slots;
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const std::size_t unit = k % units, slot = k / units;
        const models::UnitDecays<float> u =
            models::memory_unit_decays(raw[unit], dt[slot], d.lambda, d.tau_min, d.tau_max, d.rate_memory_gain,
                                       d.clock_memory_input, d.clock_dt);
        km[k] = u.kappa_m;
        kl[k] = u.kappa_l;
        dkm[k] = u.dkm_draw;
        dkl[k] = u.dkl_draw;
        ku[k] = u.kappa_u;
        dku[k] = u.dku_draw;
    }
}

// Drive `j` of neuron i for row b: its synapses in the CPU engine's order (DeviceConnectivity), starting
// from 0. Spiking sources are impulses and only non-zero ones are added (the CPU scatters from the
// sources that fired); analog neuron outputs are rates held over the update, scaled by g(dt).
__device__ float synaptic_drive(const NetDims& d, const float* __restrict__ w, const DeviceConnectivity& cn,
                                const ForwardStep& st, int i, int j, int b, float gain) {
    const bool event = d.kind != NeuronKind::analog;
    const std::size_t row = static_cast<std::size_t>(i) * d.k_c;
    float acc = 0.0f;
    for (int q = j * d.per_drive; q < (j + 1) * d.per_drive; ++q) {
        const int k = cn.drive_order[row + q];
        const int src = cn.src[row + k];
        float z;
        if (src < d.C) {
            z = st.x[static_cast<std::size_t>(src) * st.B + b];
        } else {
            const float y = st.prev.y[static_cast<std::size_t>(src - d.C) * st.B + b];
            z = event ? y : gain * y;
        }
        if (event && z == 0.0f) continue;
        acc += w[row + k] * z;
    }
    return acc;
}

__device__ void hold_row(const NetDims& d, const ForwardStep& st, std::size_t nbi) {
    st.next.v[nbi] = st.prev.v[nbi];
    st.next.y[nbi] = st.prev.y[nbi];
    if (d.kind == NeuronKind::lif) return;
    for (int j = 0; j < d.n_b; ++j) st.next.b[nbi * d.n_b + j] = st.prev.b[nbi * d.n_b + j];
    for (int k = 0; k < d.d_m; ++k) st.next.m[nbi * d.d_m + k] = st.prev.m[nbi * d.d_m + k];
}

// grid (N, row blocks): one thread per neuron i and row b.
__global__ void forward_step_kernel(NetDims d, const float* __restrict__ P, ParamOffsets o, DeviceConnectivity cn,
                                    DecayTable dec, ForwardStep st) {
    const int i = static_cast<int>(blockIdx.x);
    const int b = static_cast<int>(blockIdx.y * blockDim.x + threadIdx.x);
    if (b >= st.B) return;
    const int B = st.B;
    const std::size_t I = static_cast<std::size_t>(i), nbi = I * B + b;
    if (b >= st.active) {
        hold_row(d, st, nbi);
        return;
    }
    const int slot = st.row_slot[b];
    const float* w = P + o.w_syn;
    if (d.kind == NeuronKind::lif) {
        const float current = synaptic_drive(d, w, cn, st, i, 0, b, 1.0f);
        const float v = models::lif_membrane(st.prev.v[nbi], st.prev.y[nbi], dec.kappa_v[slot], current);
        st.next.v[nbi] = v;
        st.next.y[nbi] = models::lif_output(v, d.beta, st.soft_spikes != 0);
        return;
    }
    const int nb = d.n_b, dmn = d.d_m, dh = d.d_h, in = d.in, ah = d.ah;
    const bool silu = d.silu != 0;
    const std::size_t units = static_cast<std::size_t>(d.N) * dmn;
    const float* km = dec.kappa_m + slot * units + I * dmn;
    const float* kl = dec.kappa_l + slot * units + I * dmn;
    const float* ku = dec.kappa_u + slot * units + I * dmn;
    const float kb = dec.kappa_b[slot], gain = dec.rate_gain[slot];
    // Per-thread vectors, batch innermost: element q of row b at [(i * width + q) * B + b].
    float* U = st.u + I * in * B + b;
    float* H = st.h + I * ah * B + b;
    float* A = st.a + I * ah * B + b;
    float* D = st.dm + I * dmn * B + b;
    for (int j = 0; j < nb; ++j) {
        const float drive = synaptic_drive(d, w, cn, st, i, j, b, gain);
        const float bt = models::branch_trace(kb, st.prev.b[nbi * nb + j], drive);
        st.next.b[nbi * nb + j] = bt;
        U[static_cast<std::size_t>(j) * B] = bt;
    }
    const float* mp = st.prev.m + nbi * dmn;
    for (int k = 0; k < dmn; ++k) U[static_cast<std::size_t>(nb + k) * B] = models::decayed_memory(ku[k], mp[k]);
    // layer 0: a = b1 + W1 u
    const float* W1 = P + o.W1 + I * dh * in;
    const float* b1 = P + o.b1 + I * dh;
    for (int q = 0; q < dh; ++q) {
        float acc = b1[q];
        for (int p = 0; p < in; ++p) acc = fmaf(U[static_cast<std::size_t>(p) * B], W1[q * in + p], acc);
        A[static_cast<std::size_t>(q) * B] = acc;
        H[static_cast<std::size_t>(q) * B] = models::phi_forward(acc, silu);
    }
    for (int layer = 1; layer < d.l; ++layer) {
        const float* Wh = P + o.Wh + (I * (d.l - 1) + layer - 1) * dh * dh;
        const float* bh = P + o.bh + (I * (d.l - 1) + layer - 1) * dh;
        const std::size_t prev = static_cast<std::size_t>(layer - 1) * dh, cur = static_cast<std::size_t>(layer) * dh;
        for (int q = 0; q < dh; ++q) {
            float acc = bh[q];
            for (int p = 0; p < dh; ++p) acc = fmaf(H[(prev + p) * B], Wh[q * dh + p], acc);
            A[(cur + q) * B] = acc;
            H[(cur + q) * B] = models::phi_forward(acc, silu);
        }
    }
    const float* W2 = P + o.W2 + I * dmn * dh;
    const float* b2 = P + o.b2 + I * dmn;
    const std::size_t last = static_cast<std::size_t>(d.l - 1) * dh;
    float* mo = st.next.m + nbi * dmn;
    for (int k = 0; k < dmn; ++k) {
        float acc = b2[k];
        for (int p = 0; p < dh; ++p) acc = fmaf(H[(last + p) * B], W2[k * dh + p], acc);
        const float dmv = models::dm_activation(acc);
        D[static_cast<std::size_t>(k) * B] = dmv;
        mo[k] = models::memory_update(mp[k], dmv, km[k], kl[k]);
    }
    const float v = models::unit_readout(P + o.wy + I * dmn, mo, dmn, P[o.c + I]);
    st.next.v[nbi] = v;
    st.next.y[nbi] = d.kind == NeuronKind::spike ? models::spike_output(v, d.theta, d.beta, st.soft_spikes != 0) : v;
}

__global__ void readout_forward_kernel(NetDims d, const float* __restrict__ P, ParamOffsets o,
                                       const float* __restrict__ y, int steps, int B, float* __restrict__ logits) {
    const std::size_t n = static_cast<std::size_t>(steps) * B * d.n_out;
    const std::size_t slot = static_cast<std::size_t>(d.N) * B;
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < n;
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        const std::size_t out = k % d.n_out, b = (k / d.n_out) % B, r = k / (static_cast<std::size_t>(d.n_out) * B);
        const float* row = P + o.W_o + out * d.N;
        const float* yr = y + r * slot + b;
        float acc = P[o.b_o + out];
        for (int i = 0; i < d.N; ++i) acc += row[i] * yr[static_cast<std::size_t>(i) * B];
        logits[k] = acc;
    }
}

unsigned grid_for(std::size_t n) {
    const unsigned g = blocks_for(n);
    return g < 1u ? 1u : (g > 65535u ? 65535u : g);
}

}  // namespace

void launch_dense_input(const float* x, const float* keep, float* xt, int T, int B, int C, cudaStream_t s) {
    const std::size_t n = static_cast<std::size_t>(T) * B * C;
    if (n == 0) return;
    ELM_LAUNCH(dense_input_kernel, grid_for(n), kThreads, s, x, keep, xt, T, B, C);
}

void launch_embedded_input(const float* embedding, const std::uint8_t* tokens, const float* keep, float* xt, int T,
                           int B, int C, cudaStream_t s) {
    const std::size_t n = static_cast<std::size_t>(T) * B * C;
    if (n == 0) return;
    ELM_LAUNCH(embedded_input_kernel, grid_for(n), kThreads, s, embedding, tokens, keep, xt, T, B, C);
}

void launch_unit_decays(const NetDims& d, const float* tau_m_raw, const float* dt, int slots, float* kappa_m,
                        float* kappa_l, float* dkm_draw, float* dkl_draw, float* kappa_u, float* dku_draw,
                        cudaStream_t s) {
    const std::size_t n = static_cast<std::size_t>(d.N) * d.d_m * slots;
    if (n == 0) return;
    ELM_LAUNCH(unit_decays_kernel, grid_for(n), kThreads, s, d, tau_m_raw, dt, slots, kappa_m, kappa_l, dkm_draw, dkl_draw,
               kappa_u, dku_draw);
}

void launch_forward_step(const NetDims& d, const float* params, const ParamOffsets& o, const DeviceConnectivity& cn,
                         const DecayTable& dt, const ForwardStep& st, cudaStream_t s) {
    const int threads = st.B >= kThreads ? kThreads : ((st.B + 31) / 32) * 32;
    const dim3 grid(static_cast<unsigned>(d.N), blocks_for(static_cast<std::size_t>(st.B), threads));
    ELM_LAUNCH(forward_step_kernel, grid, threads, s, d, params, o, cn, dt, st);
}

void launch_readout_forward(const NetDims& d, const float* params, const ParamOffsets& o, const float* y, int steps,
                            int B, float* logits, cudaStream_t s) {
    const std::size_t n = static_cast<std::size_t>(steps) * B * d.n_out;
    if (n == 0) return;
    ELM_LAUNCH(readout_forward_kernel, grid_for(n), kThreads, s, d, params, o, y, steps, B, logits);
}

}  // namespace elm::gpu
