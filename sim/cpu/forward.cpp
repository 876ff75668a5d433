// Forward step: per neuron i and sample b (spec section 2; section 5 for the timing)
//   z = x_t[src] | y_{t-1}[src - C] g(dt) (analog sources: held rates, g = 1 on the clock step; spike
//   and LIF sources are impulses, g = 1);  b_t = kappa_b b_{t-1} + branch_sum(w z)
//   u = [b_t, kappa_u m_{t-1}];  h = phi(W1 u + b1) (l layers);  dm = 1.7159 tanh(2/3 (W2 h + b2))
//   m_t = kappa_m m_{t-1} + (1 - kappa_l) dm;  v_t = wy . m_t + c;  y_t = v_t | H(v_t - theta)
// LIF (section 6): v_t = kappa_v v_{t-1} (1 - s_{t-1}) + w . z;  y_t = s_t = H(v_t - 1).
//
// Speed: each neuron's layer is one [B x in] x [in x out] GEMM over weights transposed and packed in
// column panels once per parameter version (sim/cpu/small_gemm.hpp), so each step streams them in order;
// synapses read the step's presynaptic values as [source][batch] rows; spiking networks build the
// synaptic drive by scattering only from sources that fired (spec section 5). Every decay, and g, is
// the row's own on an event-schedule batch (sim/cpu/step_timing.hpp); padded rows hold their state.
#include "elmsim/sim/cpu/forward.hpp"

#include <algorithm>
#include <utility>

#include "elmsim/models/elm_math.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "elmsim/sim/cpu/vector_math.hpp"

namespace elm::sim::cpu {

using models::ModelConfig;
using models::OutputMode;
using models::TensorId;

bool uses_event_drive(const ModelConfig& cfg) { return cfg.output_mode != OutputMode::analog; }

namespace {
// Branches of the synaptic drive: n_b for ELM neurons, one (the membrane current) for LIF.
int drive_width(const ModelConfig& cfg) { return cfg.output_mode == OutputMode::lif ? 1 : cfg.n_b; }

// Each [rows][cols] block (out x in, the parameter layout) transposed to in x out and packed in
// column panels of kGemmPanel (gemm_nn_acc_packed's operand layout).
template <class Real>
void pack_blocks(const Real* src, Real* dst, std::size_t blocks, int rows, int cols) {
    const std::size_t size = static_cast<std::size_t>(rows) * cols;
    for (std::size_t blk = 0; blk < blocks; ++blk) pack_panels(rows, cols, src + blk * size, dst + blk * size);
}
}  // namespace

template <class Real>
void ForwardWorkspace<Real>::resize(const ModelConfig& cfg) {
    // Sized for one sample; network_step_forward grows it for larger batches.
    scratch.resize(static_cast<std::size_t>(cfg.N) * (cfg.mlp_in() + cfg.l * cfg.d_h));
    batch = 1;
    prepared = false;
}

template <class Real>
void ForwardWorkspace<Real>::prepare(const models::Network<Real>& net) {
    const ModelConfig& cfg = net.cfg;

    if (uses_event_drive(cfg) && fan_out.start.empty()) fan_out = models::build_fan_out(cfg, net.src);
    Wot.resize(net.layout[TensorId::W_o].size);
    pack_panels(cfg.n_out, cfg.N, net.tensor(TensorId::W_o), Wot.data());
    if (cfg.output_mode != OutputMode::lif) {
        const std::size_t N = cfg.N;
        W1t.resize(net.layout[TensorId::W1].size);
        W2t.resize(net.layout[TensorId::W2].size);
        Wht.resize(net.layout[TensorId::Wh].size);
        pack_blocks(net.tensor(TensorId::W1), W1t.data(), N, cfg.d_h, cfg.mlp_in());
        pack_blocks(net.tensor(TensorId::W2), W2t.data(), N, cfg.d_m, cfg.d_h);
        if (cfg.l > 1) pack_blocks(net.tensor(TensorId::Wh), Wht.data(), N * (cfg.l - 1), cfg.d_h, cfg.d_h);
    }
    prepared = true;
}

namespace {

// Drive of neuron i's branches for the whole batch by gathering every synapse (analog networks):
// U[b][j] = sum over branch j's synapses k (ascending) of w[k] z[src[k]][b], each synapse one
// contiguous row of B values; `acc` is scratch for B values.
template <class Real>
inline void gather_drive(const models::Network<Real>& net, int i, int B, const PresynapticRows<Real>& presyn, int nb,
                         Real* __restrict U, int ldu, Real* __restrict acc) {
    const int kc = net.cfg.k_c, per_branch = kc / nb;
    const std::int32_t* src = net.src.data() + static_cast<std::size_t>(i) * kc;
    const Real* w = net.tensor(TensorId::w_syn) + static_cast<std::size_t>(i) * kc;
    for (int j = 0; j < nb; ++j) {
        const int k0 = j * per_branch;
        weighted_row_sum(
            static_cast<std::size_t>(B), per_branch,
            [&](int e) { return std::pair<Real, const Real*>{w[k0 + e], presyn.row(src[k0 + e])}; }, acc);
        for (int b = 0; b < B; ++b) U[static_cast<std::size_t>(b) * ldu + j] = acc[b];
    }
}

// Drive of every neuron by scattering from non-zero sources through the fan-out table, in ascending
// source order (a fixed order, so any thread count gives the same floats). Cost ~ active synapses.
// Rows [0, active) only.
template <class Real>
void scatter_drive(const models::Network<Real>& net, const models::FanOut& fo, int B, int active, const Real* x_t,
                   const Real* y_prev, Real* drive) {
    const ModelConfig& cfg = net.cfg;
    const int C = cfg.input_width(), kc = cfg.k_c, nb = drive_width(cfg), per_branch = kc / nb;
    const Real* w = net.tensor(TensorId::w_syn);
    std::fill(drive, drive + static_cast<std::size_t>(cfg.N) * B * nb, Real(0));
    auto deliver = [&](int source, int b, Real value) {
        for (int e = fo.start[source]; e < fo.start[source + 1]; ++e) {
            const int syn = fo.synapse[e];
            const std::size_t i = static_cast<std::size_t>(syn / kc);
            drive[(i * B + b) * nb + (syn % kc) / per_branch] += w[syn] * value;
        }
    };
    for (int b = 0; b < active; ++b) {
        for (int c = 0; c < C; ++c) {
            const Real x = x_t[static_cast<std::size_t>(c) * B + b];
            if (x != Real(0)) deliver(c, b, x);
        }
        for (int j = 0; j < cfg.N; ++j) {
            const Real y = y_prev[static_cast<std::size_t>(j) * B + b];
            if (y != Real(0)) deliver(C + j, b, y);
        }
    }
}

// m_t = kappa_m m_{t-1} + (1 - kappa_l) dm for one row (distinct arrays: vectorised over the units).
template <class Real>
inline void memory_update_row(int dmn, const Real* __restrict mp, const Real* __restrict dm, const Real* __restrict km,
                              const Real* __restrict kl, Real* __restrict mo) {
    for (int k = 0; k < dmn; ++k) mo[k] = models::memory_update(mp[k], dm[k], km[k], kl[k]);
}

// Rows [active, B) of neuron i hold their state: padding of an event-schedule batch.
template <class Real>
void hold_rows(const ModelConfig& cfg, int i, int B, int active, const StepSlots<Real>& s) {
    if (active >= B) return;
    const std::size_t I = static_cast<std::size_t>(i), lo = I * B + active, hi = (I + 1) * B;
    std::copy(s.v_prev + lo, s.v_prev + hi, s.v + lo);
    std::copy(s.y_prev + lo, s.y_prev + hi, s.y + lo);
    if (cfg.output_mode == OutputMode::lif) return;
    const std::size_t nb = cfg.n_b, dm = cfg.d_m;
    std::copy(s.b_prev + lo * nb, s.b_prev + hi * nb, s.b + lo * nb);
    std::copy(s.m_prev + lo * dm, s.m_prev + hi * dm, s.m + lo * dm);
}

// One neuron over the batch's updating rows: the MLP layers are [B x in] x [in x out] products (small
// GEMMs) on rows [0, active).
template <class Real>
void elm_neuron_forward(const models::Network<Real>& net, const ForwardWorkspace<Real>& ws,
                        const StepTiming<Real>& timing, int i, const Real* x_t, const Real* y_presyn, int B,
                        const StepSlots<Real>& s, Real* scratch, bool scattered) {
    const ModelConfig& cfg = net.cfg;
    const int nb = cfg.n_b, dmn = cfg.d_m, dh = cfg.d_h, in = cfg.mlp_in(), nl = cfg.l, ah = nl * dh;
    const int Ba = timing.active;
    const bool silu = cfg.phi == models::Phi::silu;
    const std::size_t I = static_cast<std::size_t>(i), IB = I * B;
    const Real* W1t = ws.W1t.data() + I * dh * in;
    const Real* b1 = net.tensor(TensorId::b1) + I * dh;
    const Real* Wht = nl > 1 ? ws.Wht.data() + I * (nl - 1) * dh * dh : nullptr;
    const Real* bh = nl > 1 ? net.tensor(TensorId::bh) + I * (nl - 1) * dh : nullptr;
    const Real* W2t = ws.W2t.data() + I * dmn * dh;
    const Real* b2 = net.tensor(TensorId::b2) + I * dmn;
    const Real* wy = net.tensor(TensorId::wy) + I * dmn;
    const Real c = net.tensor(TensorId::c)[i];
    const Real theta = static_cast<Real>(cfg.theta), beta = static_cast<Real>(cfg.beta);
    Real* U = scratch;                                   // [B][in]
    Real* H = scratch + static_cast<std::size_t>(B) * in;  // [B][l d_h]
    Real* A = s.a + IB * ah;                             // [B][l d_h] pre-activations (tape)
    Real* D = s.dm + IB * dmn;                           // [B][d_m] W2 h + b2, then dm (tape)
    if (!scattered)  // H: scratch until the MLP
        gather_drive(net, i, Ba, PresynapticRows<Real>{x_t, y_presyn, cfg.input_width(), B}, nb, U, in, H);
    for (int b = 0; b < Ba; ++b) {
        const StepDecays<Real>& dec = *timing.rows[b];
        const Real* ku = dec.kappa_u.data() + I * dmn;
        const std::size_t nbi = IB + b;
        Real* u = U + static_cast<std::size_t>(b) * in;
        if (scattered) copy_short(ws.drive.data() + nbi * nb, nb, u);
        const Real* bp = s.b_prev + nbi * nb;
        Real* bo = s.b + nbi * nb;
        for (int j = 0; j < nb; ++j) {
            bo[j] = models::branch_trace(dec.kappa_b, bp[j], u[j]);
            u[j] = bo[j];
        }
        const Real* mp = s.m_prev + nbi * dmn;
        for (int k = 0; k < dmn; ++k) u[nb + k] = models::decayed_memory(ku[k], mp[k]);
        copy_short(b1, dh, A + static_cast<std::size_t>(b) * ah);
    }
    gemm_nn_acc_packed(Ba, dh, in, U, in, W1t, A, ah);
    for (int b = 0; b < Ba; ++b)
        for (int o = 0; o < dh; ++o) H[b * ah + o] = models::phi_forward(A[b * ah + o], silu);
    for (int layer = 1; layer < nl; ++layer) {
        const std::size_t off = static_cast<std::size_t>(layer) * dh;
        for (int b = 0; b < Ba; ++b)
            copy_short(bh + (layer - 1) * dh, dh, A + static_cast<std::size_t>(b) * ah + off);
        gemm_nn_acc_packed(Ba, dh, dh, H + off - dh, ah, Wht + static_cast<std::size_t>(layer - 1) * dh * dh, A + off,
                           ah);
        for (int b = 0; b < Ba; ++b)
            for (int o = 0; o < dh; ++o) H[b * ah + off + o] = models::phi_forward(A[b * ah + off + o], silu);
    }
    for (int b = 0; b < Ba; ++b) copy_short(b2, dmn, D + static_cast<std::size_t>(b) * dmn);
    gemm_nn_acc_packed(Ba, dmn, dh, H + static_cast<std::size_t>(nl - 1) * dh, ah, W2t, D, dmn);
    dm_activation_inplace(D, static_cast<std::size_t>(Ba) * dmn);
    for (int b = 0; b < Ba; ++b) {
        const StepDecays<Real>& dec = *timing.rows[b];
        const Real* km = dec.kappa_m.data() + I * dmn;
        const Real* kl = dec.kappa_l.data() + I * dmn;
        const std::size_t nbi = IB + b;
        const Real* mp = s.m_prev + nbi * dmn;
        Real* mo = s.m + nbi * dmn;
        const Real* dmo = D + static_cast<std::size_t>(b) * dmn;
        memory_update_row(dmn, mp, dmo, km, kl, mo);
        const Real v = models::unit_readout(wy, mo, dmn, c);
        s.v[nbi] = v;
        s.y[nbi] = cfg.output_mode == OutputMode::spike ? models::spike_output(v, theta, beta, ws.soft_spikes) : v;
    }
    hold_rows(cfg, i, B, Ba, s);
}

template <class Real>
void lif_neuron_forward(const ModelConfig& cfg, const ForwardWorkspace<Real>& ws, const StepTiming<Real>& timing, int i,
                        int B, const StepSlots<Real>& s, Real beta) {
    for (int b = 0; b < timing.active; ++b) {
        const std::size_t nbi = static_cast<std::size_t>(i) * B + b;
        const Real v = models::lif_membrane(s.v_prev[nbi], s.y_prev[nbi], timing.rows[b]->kappa_v, ws.drive[nbi]);
        s.v[nbi] = v;
        s.y[nbi] = models::lif_output(v, beta, ws.soft_spikes);
    }
    hold_rows(cfg, i, B, timing.active, s);
}

}  // namespace

template <class Real>
const Real* presynaptic_outputs(const ModelConfig& cfg, const StepTiming<Real>& timing, const Real* y_prev, int B,
                                std::vector<Real>& scratch) {
    if (!timing.scaled) return y_prev;
    scratch.resize(static_cast<std::size_t>(cfg.N) * B);
    for (int j = 0; j < cfg.N; ++j)
        for (int b = 0; b < timing.active; ++b) {
            const std::size_t k = static_cast<std::size_t>(j) * B + b;
            scratch[k] = timing.rows[b]->rate_gain * y_prev[k];
        }
    return scratch.data();
}

template <class Real>
void network_step_forward(const models::Network<Real>& net, const StepTiming<Real>& timing, const Real* x_t, int B,
                          const StepSlots<Real>& s, ForwardWorkspace<Real>& ws, Executor& ex) {
    const ModelConfig& cfg = net.cfg;
    if (!ws.prepared) ws.prepare(net);
    const bool scattered = uses_event_drive(cfg);
    if (scattered) {
        ws.drive.resize(static_cast<std::size_t>(cfg.N) * B * drive_width(cfg));
        scatter_drive(net, ws.fan_out, B, timing.active, x_t, s.y_prev, ws.drive.data());
    }
    // Spiking outputs are impulses; an analog output is a rate held over the update (spec section 5).
    const Real* y_presyn = scattered ? s.y_prev : presynaptic_outputs(cfg, timing, s.y_prev, B, ws.y_rate);
    const std::size_t per_neuron = static_cast<std::size_t>(B) * (cfg.mlp_in() + cfg.l * cfg.d_h);
    if (ws.batch != B) {
        ws.scratch.resize(static_cast<std::size_t>(cfg.N) * per_neuron);
        ws.batch = B;
    }
    ex.parallel_for(cfg.N, [&](int begin, int end) {
        for (int i = begin; i < end; ++i) {
            if (cfg.output_mode == OutputMode::lif)
                lif_neuron_forward(cfg, ws, timing, i, B, s, static_cast<Real>(cfg.beta));
            else
                elm_neuron_forward(net, ws, timing, i, x_t, y_presyn, B, s, ws.scratch.data() + i * per_neuron,
                                   scattered);
        }
    });
}

template <class Real>
StepSlots<Real> tape_slots(Tape<Real>& tape, int t) {
    const std::size_t p = static_cast<std::size_t>(t), o = p + 1;
    return StepSlots<Real>{tape.b.data() + p * tape.b_stride, tape.m.data() + p * tape.m_stride,
                           tape.v.data() + p * tape.y_stride, tape.y.data() + p * tape.y_stride,
                           tape.b.data() + o * tape.b_stride, tape.m.data() + o * tape.m_stride,
                           tape.v.data() + o * tape.y_stride, tape.y.data() + o * tape.y_stride,
                           tape.a.data() + p * tape.a_stride, tape.dm.data() + p * tape.m_stride};
}

template <class Real>
void sequence_forward(const models::Network<Real>& net, const BatchTiming<Real>& timing, const Real* x, Tape<Real>& tape,
                      ForwardWorkspace<Real>& ws, Executor& ex) {
    if (!ws.prepared) ws.prepare(net);
    const std::size_t step_in = static_cast<std::size_t>(tape.B) * net.cfg.input_width();
    for (int t = 0; t < tape.T; ++t)
        network_step_forward(net, timing.at(t), x + t * step_in, tape.B, tape_slots(tape, t), ws, ex);
}

#define ELM_INSTANTIATE(Real)                                                                                     \
    template struct ForwardWorkspace<Real>;                                                                       \
    template const Real* presynaptic_outputs<Real>(const ModelConfig&, const StepTiming<Real>&, const Real*, int, \
                                                   std::vector<Real>&);                                          \
    template void network_step_forward<Real>(const models::Network<Real>&, const StepTiming<Real>&, const Real*, \
                                             int, const StepSlots<Real>&, ForwardWorkspace<Real>&, Executor&);  \
    template StepSlots<Real> tape_slots<Real>(Tape<Real>&, int);                                                  \
    template void sequence_forward<Real>(const models::Network<Real>&, const BatchTiming<Real>&, const Real*,    \
                                         Tape<Real>&, ForwardWorkspace<Real>&, Executor&);
ELM_INSTANTIATE(float)
ELM_INSTANTIATE(double)
#undef ELM_INSTANTIATE

}  // namespace elm::sim::cpu
