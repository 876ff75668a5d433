// Per step t (backwards), neuron i, sample b — the chain rule through sim/cpu/forward.cpp:
//   g_v = g_y (analog) | g_y H'(v - theta) (spike, surrogate);  g_wy += g_v m_t;  g_c += g_v
//   g_m += g_v wy;  g_dm = g_m (1 - kappa_l);  g_kappa_m += g_m m_{t-1};  g_kappa_l -= g_m dm
//   g_a2 = g_dm dm'(a2);  g_W2 += g_a2 h^T;  g_h = W2^T g_a2;  ... through l layers ... g_u = W1^T g_a1
//   g_b += g_u[:n_b];  g_m_prev = g_m kappa_m + g_u[n_b:] kappa_m;  g_kappa_m += g_u[n_b:] m_{t-1}
//   g_w += g_b[branch] z;  g_z = g_b[branch] w (summed per source by the gather);  g_b_prev = kappa_b g_b
// and kappa gradients reach tau_m_raw through StepDecays::dk*_draw.
// LIF: g_s = g_y - G kappa_v v_t;  g_v = g_s H'(v_t - 1) + G kappa_v (1 - s_t), G = dL/dv_{t+1}.
#include "elmsim/sim/cpu/backward.hpp"

#include <algorithm>

#include "elmsim/models/elm_math.hpp"
#include "elmsim/sim/cpu/forward.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "elmsim/sim/cpu/vector_math.hpp"

namespace elm::sim::cpu {

using models::ModelConfig;
using models::OutputMode;
using models::TensorId;

namespace {

template <class Real>
std::size_t scratch_per_neuron(const ModelConfig& cfg, int B) {
    // U, g_U [B][in]; H [B][l d_h]; g_H, g_A [B][d_h]; g_A2 [B][d_m]; g_km, g_kl [d_m]
    return static_cast<std::size_t>(B) * (2 * cfg.mlp_in() + cfg.l * cfg.d_h + 2 * cfg.d_h + cfg.d_m) + 2 * cfg.d_m;
}

// One neuron over the whole batch at step t; the MLP's backward is a set of small GEMMs.
template <class Real>
void elm_neuron_backward(const models::Network<Real>& net, const StepDecays<Real>& dec, int i, int t,
                         const PresynapticRows<Real>& presyn, const Tape<Real>& tape, const Real* g_y_readout_t,
                         Real* grads, BackwardWorkspace<Real>& ws, Real* scratch) {
    const ModelConfig& cfg = net.cfg;
    const models::ParamLayout& L = net.layout;
    const int B = tape.B, kc = cfg.k_c, nb = cfg.n_b, dmn = cfg.d_m, dh = cfg.d_h;
    const int in = cfg.mlp_in(), nl = cfg.l, ah = nl * dh, per_branch = kc / nb;
    const bool silu = cfg.phi == models::Phi::silu;
    const bool spike = cfg.output_mode == OutputMode::spike;
    const Real theta = static_cast<Real>(cfg.theta), beta = static_cast<Real>(cfg.beta);
    const std::size_t I = static_cast<std::size_t>(i), IB = I * B;

    const std::int32_t* src = net.src.data() + I * kc;
    const Real* W1 = net.tensor(TensorId::W1) + I * dh * in;
    const Real* Wh = nl > 1 ? net.tensor(TensorId::Wh) + I * (nl - 1) * dh * dh : nullptr;
    const Real* W2 = net.tensor(TensorId::W2) + I * dmn * dh;
    const Real* wy = net.tensor(TensorId::wy) + I * dmn;
    Real* gw = grads + L[TensorId::w_syn].offset + I * kc;
    Real* gW1 = grads + L[TensorId::W1].offset + I * dh * in;
    Real* gb1 = grads + L[TensorId::b1].offset + I * dh;
    Real* gWh = nl > 1 ? grads + L[TensorId::Wh].offset + I * (nl - 1) * dh * dh : nullptr;
    Real* gbh = nl > 1 ? grads + L[TensorId::bh].offset + I * (nl - 1) * dh : nullptr;
    Real* gW2 = grads + L[TensorId::W2].offset + I * dmn * dh;
    Real* gb2 = grads + L[TensorId::b2].offset + I * dmn;
    Real* gwy = grads + L[TensorId::wy].offset + I * dmn;
    Real* gc = grads + L[TensorId::c].offset + I;
    Real* gtau = grads + L[TensorId::tau_m_raw].offset + I * dmn;
    const Real* km = dec.kappa_m.data() + I * dmn;
    const Real* kl = dec.kappa_l.data() + I * dmn;

    const std::size_t Bz = static_cast<std::size_t>(B);
    Real* U = scratch;                 // [B][in]
    Real* gU = U + Bz * in;            // [B][in]
    Real* H = gU + Bz * in;            // [B][l d_h]
    Real* gH = H + Bz * ah;            // [B][d_h]
    Real* gA = gH + Bz * dh;           // [B][d_h]
    Real* gA2 = gA + Bz * dh;          // [B][d_m]
    Real* g_km = gA2 + Bz * dmn;       // [d_m]
    Real* g_kl = g_km + dmn;           // [d_m]
    Real* g_br = ws.g_drive.data() + I * nb * B;  // [n_b][B] dL/d(branch drive), read by the gather
    std::fill(g_km, g_km + dmn, Real(0));
    std::fill(g_kl, g_kl + dmn, Real(0));

    const std::size_t slot_prev = static_cast<std::size_t>(t), slot = slot_prev + 1;
    const Real* A = tape.a.data() + slot_prev * tape.a_stride + IB * ah;   // [B][l d_h]
    const Real* DM = tape.dm.data() + slot_prev * tape.m_stride + IB * dmn;  // [B][d_m]
    // Output and memory update, per sample; rebuild u and h from the tape.
    for (int b = 0; b < B; ++b) {
        const std::size_t nbi = IB + b;
        const Real* b_new = tape.b.data() + slot * tape.b_stride + nbi * nb;
        const Real* m_prev = tape.m.data() + slot_prev * tape.m_stride + nbi * dmn;
        const Real* m_new = tape.m.data() + slot * tape.m_stride + nbi * dmn;
        const Real* dm = DM + static_cast<std::size_t>(b) * dmn;
        const Real v = tape.v[slot * tape.y_stride + nbi];
        Real* gm = ws.g_m.data() + nbi * dmn;
        Real* ga2 = gA2 + static_cast<std::size_t>(b) * dmn;
        const Real gy = g_y_readout_t[nbi] + ws.g_yrec[nbi];
        const Real gv = spike ? models::spike_output_grad(gy, v, theta, beta) : gy;
        *gc += gv;
        for (int k = 0; k < dmn; ++k) {
            gwy[k] += models::unit_readout_grad_weight(gv, m_new[k]);
            gm[k] += models::unit_readout_grad_memory(gv, wy[k]);
            g_km[k] += models::memory_update_grad_kappa_m(gm[k], m_prev[k]);
            g_kl[k] += models::memory_update_grad_kappa_l(gm[k], dm[k]);
            ga2[k] = models::memory_update_grad_drive(gm[k], kl[k]) * models::dm_activation_grad_from_output(dm[k]);
            gb2[k] += ga2[k];
            // dL/dm_{t-1} through m_t; the path through u is added below
            gm[k] = models::memory_update_grad_prev(gm[k], km[k]);
        }
        Real* u = U + static_cast<std::size_t>(b) * in;
        std::copy(b_new, b_new + nb, u);
        for (int k = 0; k < dmn; ++k) u[nb + k] = models::decayed_memory(km[k], m_prev[k]);
        const Real* a = A + static_cast<std::size_t>(b) * ah;
        Real* h = H + static_cast<std::size_t>(b) * ah;
        for (int q = 0; q < ah; ++q) h[q] = models::phi_forward(a[q], silu);
    }
    // dm = f(W2 h + b2): gW2 += gA2^T H_last, gH = gA2 W2.
    const Real* H_last = H + static_cast<std::size_t>(nl - 1) * dh;
    gemm_tn_acc(dmn, dh, B, gA2, dmn, H_last, ah, gW2, dh);
    std::fill(gH, gH + Bz * dh, Real(0));
    gemm_nn_acc(B, dh, dmn, gA2, dmn, W2, dh, gH, dh);
    for (int layer = nl - 1; layer >= 1; --layer) {
        const std::size_t off = static_cast<std::size_t>(layer) * dh;
        Real* gbias = gbh + static_cast<std::size_t>(layer - 1) * dh;
        for (int b = 0; b < B; ++b)
            for (int o = 0; o < dh; ++o) {
                const Real g = gH[b * dh + o] * models::phi_grad(A[b * ah + off + o], silu);
                gA[b * dh + o] = g;
                gbias[o] += g;
            }
        gemm_tn_acc(dh, dh, B, gA, dh, H + off - dh, ah, gWh + static_cast<std::size_t>(layer - 1) * dh * dh, dh);
        std::fill(gH, gH + Bz * dh, Real(0));
        gemm_nn_acc(B, dh, dh, gA, dh, Wh + static_cast<std::size_t>(layer - 1) * dh * dh, dh, gH, dh);
    }
    for (int b = 0; b < B; ++b)
        for (int o = 0; o < dh; ++o) {
            const Real g = gH[b * dh + o] * models::phi_grad(A[b * ah + o], silu);
            gA[b * dh + o] = g;
            gb1[o] += g;
        }
    gemm_tn_acc(dh, in, B, gA, dh, U, in, gW1, in);
    std::fill(gU, gU + Bz * in, Real(0));
    gemm_nn_acc(B, in, dh, gA, dh, W1, in, gU, in);
    // u = [b_t, kappa_m m_{t-1}] and b_t = kappa_b b_{t-1} + branch_sum(w z).
    for (int b = 0; b < B; ++b) {
        const std::size_t nbi = IB + b;
        const Real* gu = gU + static_cast<std::size_t>(b) * in;
        const Real* m_prev = tape.m.data() + slot_prev * tape.m_stride + nbi * dmn;
        Real* gm = ws.g_m.data() + nbi * dmn;
        for (int k = 0; k < dmn; ++k) {
            const Real gum = gu[nb + k];
            g_km[k] += models::decayed_memory_grad_kappa(gum, m_prev[k]);
            gm[k] += models::decayed_memory_grad_prev(gum, km[k]);  // carry dL/dm_{t-1}
        }
        Real* gb = ws.g_b.data() + nbi * nb;
        for (int j = 0; j < nb; ++j) {
            const Real g = gb[j] + gu[j];
            g_br[static_cast<std::size_t>(j) * B + b] = g;     // dL/d(branch drive)
            gb[j] = models::branch_trace_grad_prev(g, dec.kappa_b);  // carry dL/db_{t-1}
        }
    }
    // Synapses: g_w[k] += sum_b g_branch[b] z[src[k]][b] (b ascending).
    for (int k = 0; k < kc; ++k) {
        const Real* g = g_br + static_cast<std::size_t>(k / per_branch) * B;
        const Real* z = presyn.row(src[k]);
        Real acc = gw[k];
        for (int b = 0; b < B; ++b) acc += g[b] * z[b];
        gw[k] = acc;
    }
    if (cfg.learn_tau_m) {
        const Real* dkm = dec.dkm_draw.data() + I * dmn;
        const Real* dkl = dec.dkl_draw.data() + I * dmn;
        for (int k = 0; k < dmn; ++k) gtau[k] += models::tau_raw_grad(g_km[k], dkm[k], g_kl[k], dkl[k]);
    }
}

template <class Real>
void lif_neuron_backward(const models::Network<Real>& net, const StepDecays<Real>& dec, int i, int t,
                         const PresynapticRows<Real>& presyn, const Tape<Real>& tape, const Real* g_y_readout_t,
                         Real* grads, BackwardWorkspace<Real>& ws) {
    const ModelConfig& cfg = net.cfg;
    const int B = tape.B, kc = cfg.k_c;
    const Real beta = static_cast<Real>(cfg.beta), kv = dec.kappa_v;
    const std::size_t I = static_cast<std::size_t>(i);
    const std::int32_t* src = net.src.data() + I * kc;
    Real* gw = grads + net.layout[TensorId::w_syn].offset + I * kc;
    const std::size_t slot = static_cast<std::size_t>(t) + 1;
    Real* gv = ws.g_v.data() + I * B;  // in: dL/dv_{t+1}; out: dL/dv_t
    for (int b = 0; b < B; ++b) {
        const std::size_t nbi = I * B + b;
        const Real v = tape.v[slot * tape.y_stride + nbi];
        const Real s = tape.y[slot * tape.y_stride + nbi];
        gv[b] = models::lif_backward(g_y_readout_t[nbi] + ws.g_yrec[nbi], gv[b], v, s, kv, beta);
    }
    for (int k = 0; k < kc; ++k) {
        const Real* z = presyn.row(src[k]);
        Real acc = gw[k];
        for (int b = 0; b < B; ++b) acc += gv[b] * z[b];
        gw[k] = acc;
    }
}

}  // namespace

template <class Real>
void BackwardWorkspace<Real>::resize(const models::Network<Real>& net, int batch) {
    const ModelConfig& cfg = net.cfg;
    if (fan_out.start.empty()) fan_out = models::build_fan_out(cfg, net.src);
    B = batch;
    const std::size_t nb = static_cast<std::size_t>(cfg.N) * batch;
    const bool elm = cfg.output_mode != OutputMode::lif;
    g_m.resize(elm ? nb * cfg.d_m : 0);
    g_b.resize(elm ? nb * cfg.n_b : 0);
    g_v.resize(nb);
    g_yrec.resize(nb);
    const int drives = elm ? cfg.n_b : 1, per_drive = cfg.k_c / drives;
    g_drive.resize(elm ? nb * drives : 0);  // LIF: the gather reads g_v, dL/d(membrane current)
    if (drive_row.size() != fan_out.synapse.size()) {
        drive_row.resize(fan_out.synapse.size());
        for (std::size_t e = 0; e < drive_row.size(); ++e) {
            const int syn = fan_out.synapse[e];
            drive_row[e] = (syn / cfg.k_c) * drives + (syn % cfg.k_c) / per_drive;
        }
    }
    g_x_rows.resize(static_cast<std::size_t>(cfg.input_width()) * batch);
    scratch.resize(elm ? cfg.N * scratch_per_neuron<Real>(cfg, batch) : 0);
}

template <class Real>
void begin_backward(const models::Network<Real>& net, int B, BackwardWorkspace<Real>& ws) {
    ws.resize(net, B);
    std::fill(ws.g_m.begin(), ws.g_m.end(), Real(0));
    std::fill(ws.g_b.begin(), ws.g_b.end(), Real(0));
    std::fill(ws.g_v.begin(), ws.g_v.end(), Real(0));
    std::fill(ws.g_yrec.begin(), ws.g_yrec.end(), Real(0));
}

template <class Real>
void segment_backward(const models::Network<Real>& net, const StepDecays<Real>& dec, const Real* x,
                      const Tape<Real>& tape, const Real* g_y_readout, Real* grads, Real* g_x,
                      BackwardWorkspace<Real>& ws, Executor& ex) {
    const ModelConfig& cfg = net.cfg;
    const int B = tape.B, C = cfg.input_width(), N = cfg.N;
    const std::size_t step_in = static_cast<std::size_t>(B) * C;
    const std::size_t slot = static_cast<std::size_t>(N) * B;
    const std::size_t per_neuron = scratch_per_neuron<Real>(cfg, B);
    const bool lif = cfg.output_mode == OutputMode::lif;
    const auto& fo = ws.fan_out;
    for (int t = tape.T - 1; t >= 0; --t) {
        const Real* x_t = x + t * step_in;
        const Real* gyr = g_y_readout + t * slot;
        const PresynapticRows<Real> presyn{x_t, tape.y_at(t), C, B};
        ex.parallel_for(N, [&](int begin, int end) {
            for (int i = begin; i < end; ++i) {
                if (lif)
                    lif_neuron_backward(net, dec, i, t, presyn, tape, gyr, grads, ws);
                else
                    elm_neuron_backward(net, dec, i, t, presyn, tape, gyr, grads, ws,
                                        ws.scratch.data() + i * per_neuron);
            }
        });
        // Gather dL/dy of the previous slot (and dL/dx) through the fan-out table, synapses in
        // ascending order: synapse e adds w[e] times its drive's gradient row (B contiguous values), the
        // per-synapse dL/dz = g_drive w computed on the fly instead of stored.
        const Real* w = net.tensor(TensorId::w_syn);
        const Real* g_rows = lif ? ws.g_v.data() : ws.g_drive.data();  // [N][drives][B]
        auto gather_source = [&](int source, Real* acc) {
            std::fill(acc, acc + B, Real(0));
            for (int e = fo.start[source]; e < fo.start[source + 1]; ++e)
                axpy(B, w[fo.synapse[e]], g_rows + static_cast<std::size_t>(ws.drive_row[e]) * B, acc);
        };
        ex.parallel_for(N, [&](int begin, int end) {
            for (int j = begin; j < end; ++j) gather_source(C + j, ws.g_yrec.data() + static_cast<std::size_t>(j) * B);
        });
        if (g_x) {
            Real* gx = g_x + t * step_in;
            ex.parallel_for(C, [&](int begin, int end) {
                for (int c = begin; c < end; ++c) {
                    Real* acc = ws.g_x_rows.data() + static_cast<std::size_t>(c) * B;
                    gather_source(c, acc);
                    for (int b = 0; b < B; ++b) gx[static_cast<std::size_t>(b) * C + c] = acc[b];
                }
            });
        }
    }
}

template <class Real>
void sequence_backward(const models::Network<Real>& net, const StepDecays<Real>& dec, const Real* x,
                       const Tape<Real>& tape, const Real* g_y_readout, Real* grads, Real* g_x,
                       BackwardWorkspace<Real>& ws, Executor& ex) {
    begin_backward(net, tape.B, ws);
    segment_backward(net, dec, x, tape, g_y_readout, grads, g_x, ws, ex);
}

#define ELM_INSTANTIATE(Real)                                                                                  \
    template struct BackwardWorkspace<Real>;                                                                   \
    template void sequence_backward<Real>(const models::Network<Real>&, const StepDecays<Real>&, const Real*, \
                                          const Tape<Real>&, const Real*, Real*, Real*, BackwardWorkspace<Real>&, \
                                          Executor&);                                                     \
    template void begin_backward<Real>(const models::Network<Real>&, int, BackwardWorkspace<Real>&);         \
    template void segment_backward<Real>(const models::Network<Real>&, const StepDecays<Real>&, const Real*,  \
                                         const Tape<Real>&, const Real*, Real*, Real*, BackwardWorkspace<Real>&, \
                                         Executor&);
ELM_INSTANTIATE(float)
ELM_INSTANTIATE(double)
#undef ELM_INSTANTIATE

}  // namespace elm::sim::cpu
