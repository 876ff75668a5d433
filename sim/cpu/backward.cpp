// Per step t (backwards), neuron i, sample b — the chain rule through sim/cpu/forward.cpp:
//   g_v = g_y (analog) | g_y H'(v - theta) (spike, surrogate);  g_wy += g_v m_t;  g_c += g_v
//   g_m += g_v wy;  g_dm = g_m (1 - kappa_l);  g_kappa_m += g_m m_{t-1};  g_kappa_l -= g_m dm
//   g_a2 = g_dm dm'(a2);  g_W2 += g_a2 h^T;  g_h = W2^T g_a2;  ... through l layers ... g_u = W1^T g_a1
//   g_b += g_u[:n_b];  g_m_prev = g_m kappa_m + g_u[n_b:] kappa_u;  g_kappa_u += g_u[n_b:] m_{t-1}
//   (g_kappa_u joins g_kappa_m where kappa_u is kappa_m: StepDecays::input_is_kappa_m)
//   g_w += g_b[branch] z;  g_z = g_b[branch] w (summed per source by the gather);  g_b_prev = kappa_b g_b
//   g_y_{t-1}[src - C] += g_z g(dt) for analog sources (z = y g(dt), the rate rule)
// and kappa gradients reach tau_m_raw through StepDecays::dk*_draw (per row when the rows of a step
// have their own dt; padded rows get no gradient).
// LIF: g_s = g_y - G kappa_v v_t;  g_v = g_s H'(v_t - 1) + G kappa_v (1 - s_t), G = dL/dv_{t+1}.
#include "elmsim/sim/cpu/backward.hpp"

#include <algorithm>
#include <utility>

#include "elmsim/models/elm_math.hpp"
#include "elmsim/sim/cpu/forward.hpp"
#include "elmsim/sim/cpu/row_dots.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "elmsim/sim/cpu/vector_math.hpp"

namespace elm::sim::cpu {

using models::ModelConfig;
using models::OutputMode;
using models::TensorId;

namespace {

template <class Real>
std::size_t scratch_per_neuron(const ModelConfig& cfg, int B) {
    // U, g_U [B][in]; H [B][l d_h]; g_H, g_A [B][d_h]; g_A2 [B][d_m]; g_km, g_kl [B][d_m] (row 0 only
    // when the step's rows share their decays); g_ku [d_m]
    return static_cast<std::size_t>(B) * (2 * cfg.mlp_in() + cfg.l * cfg.d_h + 2 * cfg.d_h + 3 * cfg.d_m) +
           static_cast<std::size_t>(cfg.d_m);
}

// The output and memory update of one row, backwards: per memory unit k (the same floats as one loop
// over k; the pointers are distinct arrays, which lets the compiler vectorise over k).
template <class Real>
inline void memory_update_backward_row(int dmn, Real gv, const Real* __restrict wy, const Real* __restrict m_new,
                                       const Real* __restrict m_prev, const Real* __restrict dm,
                                       const Real* __restrict km, const Real* __restrict kl, Real* __restrict gwy,
                                       Real* __restrict gm, Real* __restrict gkm, Real* __restrict gkl,
                                       Real* __restrict ga2, Real* __restrict gb2) {
    for (int k = 0; k < dmn; ++k) {
        gwy[k] += models::unit_readout_grad_weight(gv, m_new[k]);
        const Real g = gm[k] + models::unit_readout_grad_memory(gv, wy[k]);
        gkm[k] += models::memory_update_grad_kappa_m(g, m_prev[k]);
        gkl[k] += models::memory_update_grad_kappa_l(g, dm[k]);
        const Real a2 = models::memory_update_grad_drive(g, kl[k]) * models::dm_activation_grad_from_output(dm[k]);
        ga2[k] = a2;
        gb2[k] += a2;
        // dL/dm_{t-1} through m_t; the path through u is added below
        gm[k] = models::memory_update_grad_prev(g, km[k]);
    }
}

// u's memory part kappa_u m_{t-1}, backwards, for one row: dL/dkappa_u and the carried dL/dm_{t-1}.
template <class Real>
inline void decayed_memory_backward_row(int dmn, const Real* __restrict gum, const Real* __restrict m_prev,
                                        const Real* __restrict ku, Real* __restrict gku, Real* __restrict gm) {
    for (int k = 0; k < dmn; ++k) {
        gku[k] += models::decayed_memory_grad_kappa(gum[k], m_prev[k]);
        gm[k] += models::decayed_memory_grad_prev(gum[k], ku[k]);  // carry dL/dm_{t-1}
    }
}

// One neuron over the batch's updating rows at step t; the MLP's backward is a set of small GEMMs.
template <class Real>
void elm_neuron_backward(const models::Network<Real>& net, const StepTiming<Real>& timing, int i, int t,
                         const PresynapticRows<Real>& presyn, const Tape<Real>& tape, const Real* g_y_readout_t,
                         Real* grads, BackwardWorkspace<Real>& ws, Real* scratch) {
    const ModelConfig& cfg = net.cfg;
    const models::ParamLayout& L = net.layout;
    const int B = tape.B, Ba = timing.active, kc = cfg.k_c, nb = cfg.n_b, dmn = cfg.d_m, dh = cfg.d_h;
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

    const std::size_t Bz = static_cast<std::size_t>(B);
    Real* U = scratch;                 // [B][in]
    Real* gU = U + Bz * in;            // [B][in]
    Real* H = gU + Bz * in;            // [B][l d_h]
    Real* gH = H + Bz * ah;            // [B][d_h]
    Real* gA = gH + Bz * dh;           // [B][d_h]
    Real* gA2 = gA + Bz * dh;          // [B][d_m]
    // dL/d kappa_m and dL/d kappa_l: one sum over the rows when they share their decays (the clock),
    // else one per row, each with its own derivative by tau_m_raw below.
    const int kappa_rows = timing.uniform ? 1 : Ba;
    Real* g_km = gA2 + Bz * dmn;                    // [kappa_rows][d_m]
    Real* g_kl = g_km + Bz * dmn;                   // [kappa_rows][d_m]
    Real* g_ku = g_kl + Bz * dmn;                   // [d_m] rows whose kappa_u is the clock step's
    const StepDecays<Real>* clock_input_row = nullptr;  // one such row: every one has the same kappa_u
    const auto kappa_row = [&](int b) { return static_cast<std::size_t>(timing.uniform ? 0 : b) * dmn; };
    Real* g_br = ws.g_drive.data() + I * nb * B;  // [n_b][B] dL/d(branch drive), read by the gather
    std::fill(g_km, g_km + static_cast<std::size_t>(kappa_rows) * dmn, Real(0));
    std::fill(g_kl, g_kl + static_cast<std::size_t>(kappa_rows) * dmn, Real(0));
    std::fill(g_ku, g_ku + dmn, Real(0));

    const std::size_t slot_prev = static_cast<std::size_t>(t), slot = slot_prev + 1;
    const Real* A = tape.a.data() + slot_prev * tape.a_stride + IB * ah;   // [B][l d_h]
    const Real* DM = tape.dm.data() + slot_prev * tape.m_stride + IB * dmn;  // [B][d_m]
    // Output and memory update, per sample; rebuild u and h from the tape.
    for (int b = 0; b < Ba; ++b) {
        const StepDecays<Real>& dec = *timing.rows[b];
        const Real* km = dec.kappa_m.data() + I * dmn;
        const Real* kl = dec.kappa_l.data() + I * dmn;
        Real* gkm = g_km + kappa_row(b);
        Real* gkl = g_kl + kappa_row(b);
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
        memory_update_backward_row(dmn, gv, wy, m_new, m_prev, dm, km, kl, gwy, gm, gkm, gkl, ga2, gb2);
        Real* u = U + static_cast<std::size_t>(b) * in;
        copy_short(b_new, nb, u);
        const Real* ku = dec.kappa_u.data() + I * dmn;
        for (int k = 0; k < dmn; ++k) u[nb + k] = models::decayed_memory(ku[k], m_prev[k]);
        const Real* a = A + static_cast<std::size_t>(b) * ah;
        Real* h = H + static_cast<std::size_t>(b) * ah;
        for (int q = 0; q < ah; ++q) h[q] = models::phi_forward(a[q], silu);
    }
    // dm = f(W2 h + b2): gW2 += gA2^T H_last, gH = gA2 W2.
    const Real* H_last = H + static_cast<std::size_t>(nl - 1) * dh;
    gemm_tn_acc(dmn, dh, Ba, gA2, dmn, H_last, ah, gW2, dh);
    std::fill(gH, gH + static_cast<std::size_t>(Ba) * dh, Real(0));
    gemm_nn_acc(Ba, dh, dmn, gA2, dmn, W2, dh, gH, dh);
    for (int layer = nl - 1; layer >= 1; --layer) {
        const std::size_t off = static_cast<std::size_t>(layer) * dh;
        Real* gbias = gbh + static_cast<std::size_t>(layer - 1) * dh;
        for (int b = 0; b < Ba; ++b)
            for (int o = 0; o < dh; ++o) {
                const Real g = gH[b * dh + o] * models::phi_grad(A[b * ah + off + o], silu);
                gA[b * dh + o] = g;
                gbias[o] += g;
            }
        gemm_tn_acc(dh, dh, Ba, gA, dh, H + off - dh, ah, gWh + static_cast<std::size_t>(layer - 1) * dh * dh, dh);
        std::fill(gH, gH + static_cast<std::size_t>(Ba) * dh, Real(0));
        gemm_nn_acc(Ba, dh, dh, gA, dh, Wh + static_cast<std::size_t>(layer - 1) * dh * dh, dh, gH, dh);
    }
    for (int b = 0; b < Ba; ++b)
        for (int o = 0; o < dh; ++o) {
            const Real g = gH[b * dh + o] * models::phi_grad(A[b * ah + o], silu);
            gA[b * dh + o] = g;
            gb1[o] += g;
        }
    gemm_tn_acc(dh, in, Ba, gA, dh, U, in, gW1, in);
    std::fill(gU, gU + static_cast<std::size_t>(Ba) * in, Real(0));
    gemm_nn_acc(Ba, in, dh, gA, dh, W1, in, gU, in);
    // u = [b_t, kappa_u m_{t-1}] and b_t = kappa_b b_{t-1} + branch_sum(w z).
    for (int b = 0; b < Ba; ++b) {
        const StepDecays<Real>& dec = *timing.rows[b];
        const Real* ku = dec.kappa_u.data() + I * dmn;
        if (!dec.input_is_kappa_m) clock_input_row = &dec;
        Real* gku = dec.input_is_kappa_m ? g_km + kappa_row(b) : g_ku;
        const std::size_t nbi = IB + b;
        const Real* gu = gU + static_cast<std::size_t>(b) * in;
        const Real* m_prev = tape.m.data() + slot_prev * tape.m_stride + nbi * dmn;
        Real* gm = ws.g_m.data() + nbi * dmn;
        decayed_memory_backward_row(dmn, gu + nb, m_prev, ku, gku, gm);
        Real* gb = ws.g_b.data() + nbi * nb;
        for (int j = 0; j < nb; ++j) {
            const Real g = gb[j] + gu[j];
            g_br[static_cast<std::size_t>(j) * B + b] = g;     // dL/d(branch drive)
            gb[j] = models::branch_trace_grad_prev(g, dec.kappa_b);  // carry dL/db_{t-1}
        }
    }
    // Synapses: g_w[k] += sum_b g_branch[b] z[src[k]][b] (b ascending).
    ordered_row_dots(
        kc, Ba,
        [&](int k) {
            return std::pair<const Real*, const Real*>{g_br + static_cast<std::size_t>(k / per_branch) * B,
                                                       presyn.row(src[k])};
        },
        gw);
    if (cfg.learn_tau_m) {
        for (int r = 0; r < kappa_rows; ++r) {
            const StepDecays<Real>& dec = *timing.rows[r];
            const Real* dkm = dec.dkm_draw.data() + I * dmn;
            const Real* dkl = dec.dkl_draw.data() + I * dmn;
            const Real* gkm = g_km + static_cast<std::size_t>(r) * dmn;
            const Real* gkl = g_kl + static_cast<std::size_t>(r) * dmn;
            for (int k = 0; k < dmn; ++k) gtau[k] += models::tau_raw_grad(gkm[k], dkm[k], gkl[k], dkl[k]);
        }
        if (clock_input_row) {
            const Real* dku = clock_input_row->dku_draw.data() + I * dmn;
            for (int k = 0; k < dmn; ++k) gtau[k] += models::memory_input_tau_grad(g_ku[k], dku[k]);
        }
    }
}

// `next` is the timing of step t + 1 (null at the last step): v_{t+1} = kappa_v(dt_{t+1}) v_t (1 - s_t)
// + I_{t+1} carries dL/dv_{t+1} back with the NEXT update's leak, which on an event schedule differs
// from this one's.
template <class Real>
void lif_neuron_backward(const models::Network<Real>& net, const StepTiming<Real>& timing, const StepTiming<Real>* next,
                         int i, int t, const PresynapticRows<Real>& presyn, const Tape<Real>& tape,
                         const Real* g_y_readout_t, Real* grads, BackwardWorkspace<Real>& ws) {
    const ModelConfig& cfg = net.cfg;
    const int B = tape.B, Ba = timing.active, kc = cfg.k_c;
    const Real beta = static_cast<Real>(cfg.beta);
    const std::size_t I = static_cast<std::size_t>(i);
    const std::int32_t* src = net.src.data() + I * kc;
    Real* gw = grads + net.layout[TensorId::w_syn].offset + I * kc;
    const std::size_t slot = static_cast<std::size_t>(t) + 1;
    Real* gv = ws.g_v.data() + I * B;  // in: dL/dv_{t+1}; out: dL/dv_t
    for (int b = 0; b < Ba; ++b) {
        const std::size_t nbi = I * B + b;
        const Real v = tape.v[slot * tape.y_stride + nbi];
        const Real s = tape.y[slot * tape.y_stride + nbi];
        const Real kv_next = (next ? next->rows[b] : timing.rows[b])->kappa_v;  // no step t + 1: G is 0
        gv[b] = models::lif_backward(g_y_readout_t[nbi] + ws.g_yrec[nbi], gv[b], v, s, kv_next, beta);
    }
    ordered_row_dots(
        kc, Ba, [&](int k) { return std::pair<const Real*, const Real*>{gv, presyn.row(src[k])}; }, gw);
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
void segment_backward(const models::Network<Real>& net, const BatchTiming<Real>& timing, const Real* x,
                      const Tape<Real>& tape, const Real* g_y_readout, Real* grads, Real* g_x,
                      BackwardWorkspace<Real>& ws, Executor& ex) {
    const ModelConfig& cfg = net.cfg;
    const int B = tape.B, C = cfg.input_width(), N = cfg.N;
    const std::size_t step_in = static_cast<std::size_t>(B) * C;
    const std::size_t slot = static_cast<std::size_t>(N) * B;
    const std::size_t per_neuron = scratch_per_neuron<Real>(cfg, B);
    const bool lif = cfg.output_mode == OutputMode::lif;
    const bool analog = !uses_event_drive(cfg);
    const auto& fo = ws.fan_out;
    for (int t = tape.T - 1; t >= 0; --t) {
        const StepTiming<Real> st = timing.at(t);
        const bool has_next = t + 1 < timing.steps;
        const StepTiming<Real> next = has_next ? timing.at(t + 1) : st;
        const int Ba = st.active;
        const Real* x_t = x + t * step_in;
        const Real* gyr = g_y_readout + t * slot;
        // The presynaptic values the step's synapses read: as in the forward (rates scaled by g(dt)).
        const Real* y_presyn = analog ? presynaptic_outputs(cfg, st, tape.y_at(t), B, ws.y_rate) : tape.y_at(t);
        const PresynapticRows<Real> presyn{x_t, y_presyn, C, B};
        ex.parallel_for(N, [&](int begin, int end) {
            for (int i = begin; i < end; ++i) {
                if (lif)
                    lif_neuron_backward(net, st, has_next ? &next : nullptr, i, t, presyn, tape, gyr, grads, ws);
                else
                    elm_neuron_backward(net, st, i, t, presyn, tape, gyr, grads, ws, ws.scratch.data() + i * per_neuron);
            }
        });
        // Gather dL/dy of the previous slot (and dL/dx) through the fan-out table, synapses in
        // ascending order: synapse e adds w[e] times its drive's gradient row (B contiguous values), the
        // per-synapse dL/dz = g_drive w computed on the fly instead of stored. Rows [0, Ba) only: a row
        // that held its state at this step held it at every step before (padding comes first), so its
        // gradients reach no parameter.
        const Real* w = net.tensor(TensorId::w_syn);
        const Real* g_rows = lif ? ws.g_v.data() : ws.g_drive.data();  // [N][drives][B]
        auto gather_source = [&](int source, Real* acc) {
            const int e0 = fo.start[source];
            weighted_row_sum(
                static_cast<std::size_t>(Ba), fo.start[source + 1] - e0,
                [&](int k) {
                    const int e = e0 + k;
                    return std::pair<Real, const Real*>{w[fo.synapse[e]],
                                                        g_rows + static_cast<std::size_t>(ws.drive_row[e]) * B};
                },
                acc);
        };
        ex.parallel_for(N, [&](int begin, int end) {
            for (int j = begin; j < end; ++j) {
                Real* g = ws.g_yrec.data() + static_cast<std::size_t>(j) * B;
                gather_source(C + j, g);
                if (st.scaled && analog)  // y_{t-1} entered the drive as y_{t-1} g(dt)
                    for (int b = 0; b < Ba; ++b) g[b] *= st.rows[b]->rate_gain;
            }
        });
        if (g_x) {
            Real* gx = g_x + t * step_in;
            ex.parallel_for(C, [&](int begin, int end) {
                for (int c = begin; c < end; ++c) {
                    Real* acc = ws.g_x_rows.data() + static_cast<std::size_t>(c) * B;
                    gather_source(c, acc);
                    for (int b = 0; b < Ba; ++b) gx[static_cast<std::size_t>(b) * C + c] = acc[b];
                    for (int b = Ba; b < B; ++b) gx[static_cast<std::size_t>(b) * C + c] = Real(0);
                }
            });
        }
    }
}

template <class Real>
void sequence_backward(const models::Network<Real>& net, const BatchTiming<Real>& timing, const Real* x,
                       const Tape<Real>& tape, const Real* g_y_readout, Real* grads, Real* g_x,
                       BackwardWorkspace<Real>& ws, Executor& ex) {
    begin_backward(net, tape.B, ws);
    segment_backward(net, timing, x, tape, g_y_readout, grads, g_x, ws, ex);
}

#define ELM_INSTANTIATE(Real)                                                                                   \
    template struct BackwardWorkspace<Real>;                                                                    \
    template void sequence_backward<Real>(const models::Network<Real>&, const BatchTiming<Real>&, const Real*, \
                                          const Tape<Real>&, const Real*, Real*, Real*, BackwardWorkspace<Real>&, \
                                          Executor&);                                                           \
    template void begin_backward<Real>(const models::Network<Real>&, int, BackwardWorkspace<Real>&);          \
    template void segment_backward<Real>(const models::Network<Real>&, const BatchTiming<Real>&, const Real*,  \
                                         const Tape<Real>&, const Real*, Real*, Real*, BackwardWorkspace<Real>&, \
                                         Executor&);
ELM_INSTANTIATE(float)
ELM_INSTANTIATE(double)
#undef ELM_INSTANTIATE

}  // namespace elm::sim::cpu
