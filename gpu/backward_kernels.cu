// Backward kernels of the CUDA backend: the readout's, one BPTT step of every neuron
// (sim/cpu/backward.cpp's chain rule) and the gathers that carry gradients to presynaptic neurons,
// inputs and embedding rows.
//
// Determinism: no float atomics. A step's parameter gradients of neuron i are summed by the block
// that owns neuron i: first one thread per row computes the row's terms (phase A), then one thread
// per parameter adds them over the rows in ascending order (phase B) — the order the CPU engine adds
// them in, so a run repeats bit for bit and sums like the CPU. Gradients that cross neurons are
// gathered through the fan-out table in ascending synapse order.
#include "elmsim/gpu/kernels.hpp"
#include "elmsim/gpu/launch.hpp"
#include "elmsim/models/elm_math.hpp"

namespace elm::gpu {

namespace {

constexpr int kThreads = 128;

unsigned grid_for(std::size_t n) {
    const std::size_t g = (n + kThreads - 1) / kThreads;
    return g < 1 ? 1u : (g > 65535 ? 65535u : static_cast<unsigned>(g));
}

#define ELM_GRID_STRIDE(k, n)                                                                \
    for (std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; k < (n); \
         k += static_cast<std::size_t>(gridDim.x) * blockDim.x)

// ---- readout: the gradients by fused multiply-adds, in the order of the CPU's window-wide products ----
__global__ void readout_grad_weights_kernel(NetDims d, const float* __restrict__ y, int steps, int B,
                                            const float* __restrict__ g_logits, float* __restrict__ gWo,
                                            float* __restrict__ gbo) {
    const std::size_t n = static_cast<std::size_t>(d.n_out) * (d.N + 1);
    const std::size_t slot = static_cast<std::size_t>(d.N) * B;
    ELM_GRID_STRIDE(k, n) {
        const std::size_t out = k / (d.N + 1), i = k % (d.N + 1);
        if (i == static_cast<std::size_t>(d.N)) {  // b_o
            float acc = gbo[out];
            for (int r = 0; r < steps; ++r)
                for (int b = 0; b < B; ++b) acc += g_logits[(static_cast<std::size_t>(r) * B + b) * d.n_out + out];
            gbo[out] = acc;
        } else {
            float acc = gWo[out * d.N + i];
            for (int r = 0; r < steps; ++r)
                for (int b = 0; b < B; ++b)
                    acc = fmaf(g_logits[(static_cast<std::size_t>(r) * B + b) * d.n_out + out], y[r * slot + i * B + b],
                               acc);
            gWo[out * d.N + i] = acc;
        }
    }
}

__global__ void readout_grad_outputs_kernel(NetDims d, const float* __restrict__ Wo, int steps, int B,
                                            const float* __restrict__ g_logits, float* __restrict__ g_y) {
    const std::size_t n = static_cast<std::size_t>(steps) * d.N * B;
    ELM_GRID_STRIDE(k, n) {
        // k indexes g_y [steps][N][B]
        const std::size_t b = k % B, i = (k / B) % d.N, r = k / (static_cast<std::size_t>(d.N) * B);
        const float* gl = g_logits + (r * B + b) * d.n_out;
        float acc = 0.0f;
        for (int out = 0; out < d.n_out; ++out) acc = fmaf(gl[out], Wo[static_cast<std::size_t>(out) * d.N + i], acc);
        g_y[k] = acc;
    }
}

// ---- one BPTT step ----

// The presynaptic value synapse k of neuron i read for row b in the forward (see forward_kernels.cu).
__device__ float presynaptic(const NetDims& d, const BackwardStep& st, int src, int b, float gain) {
    if (src < d.C) return st.x[static_cast<std::size_t>(src) * st.B + b];
    const float y = st.prev.y[static_cast<std::size_t>(src - d.C) * st.B + b];
    return d.kind == NeuronKind::analog ? gain * y : y;
}

// Phase A of an ELM neuron for row b: output, memory update and MLP backward of one row.
__device__ void elm_row_backward(const NetDims& d, const float* __restrict__ P, const ParamOffsets& o,
                                 const DecayTable& dec, const BackwardStep& st, int i, int b) {
    const int B = st.B, nb = d.n_b, dmn = d.d_m, dh = d.d_h, in = d.in, ah = d.ah;
    const bool silu = d.silu != 0;
    const std::size_t I = static_cast<std::size_t>(i), nbi = I * B + b, Bz = static_cast<std::size_t>(B);
    const int slot = st.row_slot[b];
    const std::size_t units = static_cast<std::size_t>(d.N) * dmn;
    const float* km = dec.kappa_m + slot * units + I * dmn;
    const float* kl = dec.kappa_l + slot * units + I * dmn;
    const float* ku = dec.kappa_u + slot * units + I * dmn;
    const float kb = dec.kappa_b[slot];
    const float* wy = P + o.wy + I * dmn;
    const float* W1 = P + o.W1 + I * dh * in;
    const float* W2 = P + o.W2 + I * dmn * dh;
    const float* m_prev = st.prev.m + nbi * dmn;
    const float* A = st.a + I * ah * Bz + b;
    const float* DM = st.dm + I * dmn * Bz + b;
    float* gm = st.g_m + nbi * dmn;
    float* gbr = st.g_b + nbi * nb;
    float* U = st.u + I * in * Bz + b;
    float* H = st.h + I * ah * Bz + b;
    float* GA = st.ga + I * ah * Bz + b;
    float* GH = st.gh + I * dh * Bz + b;
    float* GA2 = st.ga2 + I * dmn * Bz + b;
    float* C1 = st.c_km1 + I * dmn * Bz + b;
    float* C2 = st.c_km2 + I * dmn * Bz + b;
    float* CL = st.c_kl + I * dmn * Bz + b;

    const float v = st.next.v[nbi];
    const float gy = st.g_y_readout[nbi] + st.g_yrec[nbi];
    const float gv = d.kind == NeuronKind::spike ? models::spike_output_grad(gy, v, d.theta, d.beta) : gy;
    st.gv[nbi] = gv;
    for (int k = 0; k < dmn; ++k) {
        const std::size_t q = static_cast<std::size_t>(k) * Bz;
        const float dmv = DM[q];
        float g = gm[k];
        g += models::unit_readout_grad_memory(gv, wy[k]);
        C1[q] = models::memory_update_grad_kappa_m(g, m_prev[k]);
        CL[q] = models::memory_update_grad_kappa_l(g, dmv);
        GA2[q] = models::memory_update_grad_drive(g, kl[k]) * models::dm_activation_grad_from_output(dmv);
        gm[k] = models::memory_update_grad_prev(g, km[k]);  // the path through u is added below
    }
    const float* b_new = st.next.b + nbi * nb;
    for (int j = 0; j < nb; ++j) U[static_cast<std::size_t>(j) * Bz] = b_new[j];
    for (int k = 0; k < dmn; ++k) U[static_cast<std::size_t>(nb + k) * Bz] = models::decayed_memory(ku[k], m_prev[k]);
    for (int q = 0; q < ah; ++q) H[static_cast<std::size_t>(q) * Bz] = models::phi_forward(A[static_cast<std::size_t>(q) * Bz], silu);
    // gH = W2^T gA2
    for (int q = 0; q < dh; ++q) {
        float acc = 0.0f;
        for (int k = 0; k < dmn; ++k) acc = fmaf(GA2[static_cast<std::size_t>(k) * Bz], W2[k * dh + q], acc);
        GH[static_cast<std::size_t>(q) * Bz] = acc;
    }
    for (int layer = d.l - 1; layer >= 1; --layer) {
        const std::size_t off = static_cast<std::size_t>(layer) * dh;
        const float* Wh = P + o.Wh + (I * (d.l - 1) + layer - 1) * dh * dh;
        for (int q = 0; q < dh; ++q)
            GA[(off + q) * Bz] = GH[static_cast<std::size_t>(q) * Bz] * models::phi_grad(A[(off + q) * Bz], silu);
        for (int p = 0; p < dh; ++p) {
            float acc = 0.0f;
            for (int q = 0; q < dh; ++q) acc = fmaf(GA[(off + q) * Bz], Wh[q * dh + p], acc);
            GH[static_cast<std::size_t>(p) * Bz] = acc;
        }
    }
    for (int q = 0; q < dh; ++q)
        GA[static_cast<std::size_t>(q) * Bz] = GH[static_cast<std::size_t>(q) * Bz] * models::phi_grad(A[static_cast<std::size_t>(q) * Bz], silu);
    // gU = W1^T gA: the branch half feeds the drives and b_{t-1}, the memory half m_{t-1} and kappa_u.
    for (int p = 0; p < in; ++p) {
        float acc = 0.0f;
        for (int q = 0; q < dh; ++q) acc = fmaf(GA[static_cast<std::size_t>(q) * Bz], W1[q * in + p], acc);
        if (p < nb) {
            const float g = gbr[p] + acc;
            st.g_drive[(I * nb + p) * Bz + b] = g;
            gbr[p] = models::branch_trace_grad_prev(g, kb);
        } else {
            const int k = p - nb;
            C2[static_cast<std::size_t>(k) * Bz] = models::decayed_memory_grad_kappa(acc, m_prev[k]);
            gm[k] += models::decayed_memory_grad_prev(acc, ku[k]);
        }
    }
}

// Phase B of an ELM neuron: parameter e of neuron i summed over the step's rows.
__device__ void elm_param_backward(const NetDims& d, const ParamOffsets& o,
                                   const DeviceConnectivity& cn, const DecayTable& dec, const BackwardStep& st, int i,
                                   int e, float* __restrict__ G) {
    const int Ba = st.active, nb = d.n_b, dmn = d.d_m, dh = d.d_h, in = d.in, ah = d.ah, kc = d.k_c;
    const std::size_t I = static_cast<std::size_t>(i), Bz = static_cast<std::size_t>(st.B);
    const int hidden = d.l - 1;
    const float* GA = st.ga + I * ah * Bz;
    const float* H = st.h + I * ah * Bz;
    // e walks: c | wy[d_m] | b2[d_m] | W2[d_m d_h] | bh[(l-1) d_h] | Wh[(l-1) d_h d_h] | b1[d_h] | W1[d_h in] |
    //          w_syn[k_c] | tau_m_raw[d_m]
    if (e == 0) {
        float acc = G[o.c + I];
        for (int b = 0; b < Ba; ++b) acc += st.gv[I * Bz + b];
        G[o.c + I] = acc;
        return;
    }
    e -= 1;
    if (e < dmn) {
        float acc = G[o.wy + I * dmn + e];
        for (int b = 0; b < Ba; ++b)
            acc += models::unit_readout_grad_weight(st.gv[I * Bz + b], st.next.m[(I * Bz + b) * dmn + e]);
        G[o.wy + I * dmn + e] = acc;
        return;
    }
    e -= dmn;
    if (e < dmn) {
        const float* ga2 = st.ga2 + (I * dmn + e) * Bz;
        float acc = G[o.b2 + I * dmn + e];
        for (int b = 0; b < Ba; ++b) acc += ga2[b];
        G[o.b2 + I * dmn + e] = acc;
        return;
    }
    e -= dmn;
    if (e < dmn * dh) {
        const int k = e / dh, q = e % dh;
        const float* ga2 = st.ga2 + (I * dmn + k) * Bz;
        const float* h = H + (static_cast<std::size_t>(hidden) * dh + q) * Bz;
        float acc = G[o.W2 + I * dmn * dh + e];
        for (int b = 0; b < Ba; ++b) acc = fmaf(ga2[b], h[b], acc);
        G[o.W2 + I * dmn * dh + e] = acc;
        return;
    }
    e -= dmn * dh;
    if (e < hidden * dh) {
        const int layer = 1 + e / dh, q = e % dh;
        const float* ga = GA + (static_cast<std::size_t>(layer) * dh + q) * Bz;
        float acc = G[o.bh + I * hidden * dh + e];
        for (int b = 0; b < Ba; ++b) acc += ga[b];
        G[o.bh + I * hidden * dh + e] = acc;
        return;
    }
    e -= hidden * dh;
    if (e < hidden * dh * dh) {
        const int layer = 1 + e / (dh * dh), q = (e / dh) % dh, p = e % dh;
        const float* ga = GA + (static_cast<std::size_t>(layer) * dh + q) * Bz;
        const float* h = H + (static_cast<std::size_t>(layer - 1) * dh + p) * Bz;
        float acc = G[o.Wh + I * hidden * dh * dh + e];
        for (int b = 0; b < Ba; ++b) acc = fmaf(ga[b], h[b], acc);
        G[o.Wh + I * hidden * dh * dh + e] = acc;
        return;
    }
    e -= hidden * dh * dh;
    if (e < dh) {
        const float* ga = GA + static_cast<std::size_t>(e) * Bz;
        float acc = G[o.b1 + I * dh + e];
        for (int b = 0; b < Ba; ++b) acc += ga[b];
        G[o.b1 + I * dh + e] = acc;
        return;
    }
    e -= dh;
    if (e < dh * in) {
        const int q = e / in, p = e % in;
        const float* ga = GA + static_cast<std::size_t>(q) * Bz;
        const float* u = st.u + (I * in + p) * Bz;
        float acc = G[o.W1 + I * dh * in + e];
        for (int b = 0; b < Ba; ++b) acc = fmaf(ga[b], u[b], acc);
        G[o.W1 + I * dh * in + e] = acc;
        return;
    }
    e -= dh * in;
    if (e < kc) {
        const int src = cn.src[I * kc + e];
        const float* g = st.g_drive + (I * nb + e / d.per_drive) * Bz;
        float acc = G[o.w_syn + I * kc + e];
        for (int b = 0; b < Ba; ++b) acc += g[b] * presynaptic(d, st, src, b, dec.rate_gain[st.row_slot[b]]);
        G[o.w_syn + I * kc + e] = acc;
        return;
    }
    e -= kc;
    if (e < dmn && d.learn_tau) {
        const std::size_t units = static_cast<std::size_t>(d.N) * dmn, u = I * dmn + e;
        const float* c1 = st.c_km1 + u * Bz;
        const float* c2 = st.c_km2 + u * Bz;
        const float* cl = st.c_kl + u * Bz;
        // c2 joins kappa_m's sum where kappa_u is kappa_m; elsewhere every row's kappa_u is the clock
        // step's, one sum with one derivative (the CPU engine's order: sim/cpu/backward.cpp).
        const auto input_is_kappa_m = [&](int b) {
            return models::memory_input_is_kappa_m(dec.dt[st.row_slot[b]], d.clock_memory_input, d.clock_dt);
        };
        float acc = G[o.tau_m_raw + u];
        float gku = 0.0f;
        std::size_t s_u = 0;
        bool clock_input = false;
        if (st.uniform) {  // one sum over the rows, then the derivative of the shared decays
            float gkm = 0.0f, gkl = 0.0f;
            for (int b = 0; b < Ba; ++b) gkm += c1[b];
            for (int b = 0; b < Ba; ++b) gkl += cl[b];
            const std::size_t s = static_cast<std::size_t>(st.row_slot[0]) * units + u;
            if (Ba > 0 && !input_is_kappa_m(0)) {
                for (int b = 0; b < Ba; ++b) gku += c2[b];
                clock_input = true;
                s_u = s;
            } else {
                for (int b = 0; b < Ba; ++b) gkm += c2[b];
            }
            acc += models::tau_raw_grad(gkm, dec.dkm_draw[s], gkl, dec.dkl_draw[s]);
        } else {  // each row with the derivative of its own decays
            for (int b = 0; b < Ba; ++b) {
                const std::size_t s = static_cast<std::size_t>(st.row_slot[b]) * units + u;
                float gkm = 0.0f + c1[b];
                if (input_is_kappa_m(b)) {
                    gkm += c2[b];
                } else {
                    gku += c2[b];
                    clock_input = true;
                    s_u = s;
                }
                const float gkl = 0.0f + cl[b];
                acc += models::tau_raw_grad(gkm, dec.dkm_draw[s], gkl, dec.dkl_draw[s]);
            }
        }
        if (clock_input) acc += models::memory_input_tau_grad(gku, dec.dku_draw[s_u]);
        G[o.tau_m_raw + u] = acc;
    }
}

int elm_params_per_neuron(const NetDims& d) {
    const int hidden = d.l - 1;
    return 1 + 2 * d.d_m + d.d_m * d.d_h + hidden * d.d_h + hidden * d.d_h * d.d_h + d.d_h + d.d_h * d.in + d.k_c +
           d.d_m;
}

// grid N: block i owns neuron i's gradients.
__global__ void elm_backward_step_kernel(NetDims d, const float* __restrict__ P, ParamOffsets o, DeviceConnectivity cn,
                                         DecayTable dec, BackwardStep st, float* __restrict__ G, int per_neuron) {
    const int i = static_cast<int>(blockIdx.x);
    for (int b = static_cast<int>(threadIdx.x); b < st.active; b += blockDim.x) elm_row_backward(d, P, o, dec, st, i, b);
    __syncthreads();
    for (int e = static_cast<int>(threadIdx.x); e < per_neuron; e += blockDim.x)
        elm_param_backward(d, o, cn, dec, st, i, e, G);
}

// LIF (section 6): g_v carries dL/dv_{t+1} in and dL/dv_t out; the synapses' gradients per neuron.
__global__ void lif_backward_step_kernel(NetDims d, const float* __restrict__ P, ParamOffsets o, DeviceConnectivity cn,
                                         DecayTable dec, BackwardStep st, float* __restrict__ G) {
    (void)P;
    const int i = static_cast<int>(blockIdx.x);
    const std::size_t I = static_cast<std::size_t>(i), Bz = static_cast<std::size_t>(st.B);
    for (int b = static_cast<int>(threadIdx.x); b < st.active; b += blockDim.x) {
        const std::size_t nbi = I * Bz + b;
        const int slot = st.next_row_slot ? st.next_row_slot[b] : st.row_slot[b];  // no step t + 1: G is 0
        st.g_v[nbi] = models::lif_backward(st.g_y_readout[nbi] + st.g_yrec[nbi], st.g_v[nbi], st.next.v[nbi],
                                           st.next.y[nbi], dec.kappa_v[slot], d.beta);
    }
    __syncthreads();
    for (int k = static_cast<int>(threadIdx.x); k < d.k_c; k += blockDim.x) {
        const int src = cn.src[I * d.k_c + k];
        float acc = G[o.w_syn + I * d.k_c + k];
        for (int b = 0; b < st.active; ++b) acc += st.g_v[I * Bz + b] * presynaptic(d, st, src, b, 1.0f);
        G[o.w_syn + I * d.k_c + k] = acc;
    }
}

// ---- gathers ----
__device__ float gather_source(const float* __restrict__ w, const DeviceConnectivity& cn, const float* __restrict__ g_rows,
                               int source, int B, int b) {
    float acc = 0.0f;
    for (int e = cn.fan_start[source]; e < cn.fan_start[source + 1]; ++e)
        acc += w[cn.fan_synapse[e]] * g_rows[static_cast<std::size_t>(cn.fan_drive_row[e]) * B + b];
    return acc;
}

__global__ void gather_recurrent_kernel(NetDims d, const float* __restrict__ w, DeviceConnectivity cn, DecayTable dec,
                                        const std::int32_t* __restrict__ row_slot, const float* __restrict__ g_rows,
                                        int B, int active, float* __restrict__ g_yrec) {
    const std::size_t n = static_cast<std::size_t>(d.N) * active;
    ELM_GRID_STRIDE(k, n) {
        const int j = static_cast<int>(k / active), b = static_cast<int>(k % active);
        float g = gather_source(w, cn, g_rows, d.C + j, B, b);
        if (d.kind == NeuronKind::analog) g *= dec.rate_gain[row_slot[b]];  // y_{t-1} entered as y_{t-1} g(dt)
        g_yrec[static_cast<std::size_t>(j) * B + b] = g;
    }
}

__global__ void gather_input_kernel(NetDims d, const float* __restrict__ w, DeviceConnectivity cn,
                                    const float* __restrict__ g_rows, int B, int active, float* __restrict__ g_x) {
    const std::size_t n = static_cast<std::size_t>(d.C) * B;
    ELM_GRID_STRIDE(k, n) {
        const int c = static_cast<int>(k / B), b = static_cast<int>(k % B);
        g_x[static_cast<std::size_t>(b) * d.C + c] = b < active ? gather_source(w, cn, g_rows, c, B, b) : 0.0f;
    }
}

// One thread per embedding entry (row v, column c), adding the tokens equal to v in ascending order.
__global__ void embedding_backward_kernel(const float* __restrict__ g_x, const std::uint8_t* __restrict__ tokens,
                                          const float* __restrict__ keep, std::int64_t TB, int C, float* __restrict__ gE) {
    const std::size_t n = static_cast<std::size_t>(256) * C;
    ELM_GRID_STRIDE(k, n) {
        const int v = static_cast<int>(k / C), c = static_cast<int>(k % C);
        float acc = gE[k];
        for (std::int64_t tb = 0; tb < TB; ++tb) {
            if (tokens[tb] != v) continue;
            const std::size_t x = static_cast<std::size_t>(tb) * C + c;
            acc += g_x[x] * (keep ? keep[x] : 1.0f);
        }
        gE[k] = acc;
    }
}

}  // namespace

void launch_readout_backward(const NetDims& d, const float* params, const ParamOffsets& o, const float* y, int steps,
                             int B, const float* g_logits, float* grads, float* g_y, cudaStream_t s) {
    ELM_LAUNCH(readout_grad_weights_kernel, grid_for(static_cast<std::size_t>(d.n_out) * (d.N + 1)), kThreads, s, d, y,
               steps, B, g_logits, grads + o.W_o, grads + o.b_o);
    ELM_LAUNCH(readout_grad_outputs_kernel, grid_for(static_cast<std::size_t>(steps) * d.N * B), kThreads, s, d,
               params + o.W_o, steps, B, g_logits, g_y);
}

void launch_backward_step(const NetDims& d, const float* params, const ParamOffsets& o, const DeviceConnectivity& cn,
                          const DecayTable& dt, const BackwardStep& st, float* grads, cudaStream_t s) {
    if (d.kind == NeuronKind::lif)
        ELM_LAUNCH(lif_backward_step_kernel, static_cast<unsigned>(d.N), kThreads, s, d, params, o, cn, dt, st, grads);
    else
        ELM_LAUNCH(elm_backward_step_kernel, static_cast<unsigned>(d.N), kThreads, s, d, params, o, cn, dt, st, grads,
                   elm_params_per_neuron(d));
}

void launch_backward_gather(const NetDims& d, const float* params, const ParamOffsets& o, const DeviceConnectivity& cn,
                            const DecayTable& dt, const std::int32_t* row_slot, const float* g_rows, int B, int active,
                            float* g_yrec, float* g_x, cudaStream_t s) {
    ELM_LAUNCH(gather_recurrent_kernel, grid_for(static_cast<std::size_t>(d.N) * active), kThreads, s, d,
               params + o.w_syn, cn, dt, row_slot, g_rows, B, active, g_yrec);
    if (g_x)
        ELM_LAUNCH(gather_input_kernel, grid_for(static_cast<std::size_t>(d.C) * B), kThreads, s, d, params + o.w_syn, cn,
                   g_rows, B, active, g_x);
}

void launch_embedding_backward(const float* g_x, const std::uint8_t* tokens, const float* keep, std::int64_t TB, int C,
                               float* g_embedding, cudaStream_t s) {
    ELM_LAUNCH(embedding_backward_kernel, grid_for(static_cast<std::size_t>(256) * C), kThreads, s, g_x, tokens, keep,
               TB, C, g_embedding);
}

}  // namespace elm::gpu
