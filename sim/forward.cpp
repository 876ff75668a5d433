// Forward step: per neuron i and sample b (spec section 2)
//   z = x_t[src] | y_{t-1}[src - C];  b_t = kappa_b b_{t-1} + branch_sum(w z)
//   u = [b_t, kappa_m m_{t-1}];  h = phi(W1 u + b1) (l layers);  dm = 1.7159 tanh(2/3 (W2 h + b2))
//   m_t = kappa_m m_{t-1} + (1 - kappa_l) dm;  v_t = wy . m_t + c;  y_t = v_t | H(v_t - theta)
// LIF (section 6): v_t = kappa_v v_{t-1} (1 - s_{t-1}) + w . z;  y_t = s_t = H(v_t - 1).
#include "sim/forward.hpp"

#include "sim/elm_math.hpp"

namespace elm::sim {

using models::ModelConfig;
using models::OutputMode;
using models::TensorId;

template <class Real>
void ForwardWorkspace<Real>::resize(const ModelConfig& cfg) {
    scratch.resize(static_cast<std::size_t>(cfg.N) * (cfg.mlp_in() + cfg.l * cfg.d_h));
}

namespace {

// Presynaptic value of synapse source `s` for sample b.
template <class Real>
inline Real presynaptic(int s, int C, int B, int b, const Real* x_t, const Real* y_prev) {
    return s < C ? x_t[static_cast<std::size_t>(b) * C + s] : y_prev[static_cast<std::size_t>(s - C) * B + b];
}

template <class Real>
void elm_neuron_forward(const models::Network<Real>& net, const StepDecays<Real>& dec, int i, const Real* x_t,
                        int B, const StepSlots<Real>& s, Real* scratch) {
    const ModelConfig& cfg = net.cfg;
    const int C = cfg.input_width(), kc = cfg.k_c, nb = cfg.n_b, dm_n = cfg.d_m, dh = cfg.d_h, in = cfg.mlp_in();
    const int per_branch = kc / nb;
    const bool silu = cfg.phi == models::Phi::silu;
    const std::int32_t* src = net.src.data() + static_cast<std::size_t>(i) * kc;
    const Real* w = net.tensor(TensorId::w_syn) + static_cast<std::size_t>(i) * kc;
    const Real* W1 = net.tensor(TensorId::W1) + static_cast<std::size_t>(i) * dh * in;
    const Real* b1 = net.tensor(TensorId::b1) + static_cast<std::size_t>(i) * dh;
    const Real* Wh = cfg.l > 1 ? net.tensor(TensorId::Wh) + static_cast<std::size_t>(i) * (cfg.l - 1) * dh * dh : nullptr;
    const Real* bh = cfg.l > 1 ? net.tensor(TensorId::bh) + static_cast<std::size_t>(i) * (cfg.l - 1) * dh : nullptr;
    const Real* W2 = net.tensor(TensorId::W2) + static_cast<std::size_t>(i) * dm_n * dh;
    const Real* b2 = net.tensor(TensorId::b2) + static_cast<std::size_t>(i) * dm_n;
    const Real* wy = net.tensor(TensorId::wy) + static_cast<std::size_t>(i) * dm_n;
    const Real c = net.tensor(TensorId::c)[i];
    const Real* km = dec.kappa_m.data() + static_cast<std::size_t>(i) * dm_n;
    const Real* kl = dec.kappa_l.data() + static_cast<std::size_t>(i) * dm_n;
    const Real theta = static_cast<Real>(cfg.theta);
    Real* u = scratch;
    Real* h = scratch + in;  // [l][d_h]
    for (int b = 0; b < B; ++b) {
        const std::size_t nbi = static_cast<std::size_t>(i) * B + b;
        const Real* bp = s.b_prev + nbi * nb;
        const Real* mp = s.m_prev + nbi * dm_n;
        Real* bo = s.b + nbi * nb;
        Real* mo = s.m + nbi * dm_n;
        Real* a = s.a + nbi * cfg.l * dh;
        Real* dmo = s.dm + nbi * dm_n;
        for (int j = 0; j < nb; ++j) {
            Real acc = 0;
            for (int k = j * per_branch; k < (j + 1) * per_branch; ++k)
                acc += w[k] * presynaptic(src[k], C, B, b, x_t, s.y_prev);
            bo[j] = dec.kappa_b * bp[j] + acc;
            u[j] = bo[j];
        }
        for (int k = 0; k < dm_n; ++k) u[nb + k] = km[k] * mp[k];
        for (int o = 0; o < dh; ++o) {
            const Real* row = W1 + static_cast<std::size_t>(o) * in;
            Real acc = b1[o];
            for (int q = 0; q < in; ++q) acc += row[q] * u[q];
            a[o] = acc;
            h[o] = phi_forward(acc, silu);
        }
        for (int layer = 1; layer < cfg.l; ++layer) {
            const Real* W = Wh + static_cast<std::size_t>(layer - 1) * dh * dh;
            const Real* bias = bh + static_cast<std::size_t>(layer - 1) * dh;
            const Real* h_in = h + static_cast<std::size_t>(layer - 1) * dh;
            Real* h_out = h + static_cast<std::size_t>(layer) * dh;
            Real* a_out = a + static_cast<std::size_t>(layer) * dh;
            for (int o = 0; o < dh; ++o) {
                const Real* row = W + static_cast<std::size_t>(o) * dh;
                Real acc = bias[o];
                for (int q = 0; q < dh; ++q) acc += row[q] * h_in[q];
                a_out[o] = acc;
                h_out[o] = phi_forward(acc, silu);
            }
        }
        const Real* h_last = h + static_cast<std::size_t>(cfg.l - 1) * dh;
        Real v = c;
        for (int k = 0; k < dm_n; ++k) {
            const Real* row = W2 + static_cast<std::size_t>(k) * dh;
            Real acc = b2[k];
            for (int q = 0; q < dh; ++q) acc += row[q] * h_last[q];
            const Real d = dm_activation(acc);
            dmo[k] = d;
            mo[k] = memory_update(mp[k], d, km[k], kl[k]);
            v += wy[k] * mo[k];
        }
        s.v[nbi] = v;
        s.y[nbi] = cfg.output_mode == OutputMode::spike ? heaviside(v - theta) : v;
    }
}

template <class Real>
void lif_neuron_forward(const models::Network<Real>& net, const StepDecays<Real>& dec, int i, const Real* x_t, int B,
                        const StepSlots<Real>& s) {
    const ModelConfig& cfg = net.cfg;
    const int C = cfg.input_width(), kc = cfg.k_c;
    const std::int32_t* src = net.src.data() + static_cast<std::size_t>(i) * kc;
    const Real* w = net.tensor(TensorId::w_syn) + static_cast<std::size_t>(i) * kc;
    for (int b = 0; b < B; ++b) {
        const std::size_t nbi = static_cast<std::size_t>(i) * B + b;
        Real current = 0;
        for (int k = 0; k < kc; ++k) current += w[k] * presynaptic(src[k], C, B, b, x_t, s.y_prev);
        const Real v = lif_membrane(s.v_prev[nbi], s.y_prev[nbi], dec.kappa_v, current);
        s.v[nbi] = v;
        s.y[nbi] = heaviside(v - Real(1));
    }
}

}  // namespace

template <class Real>
void network_step_forward(const models::Network<Real>& net, const StepDecays<Real>& dec, const Real* x_t, int B,
                          const StepSlots<Real>& s, ForwardWorkspace<Real>& ws, Executor& ex) {
    const ModelConfig& cfg = net.cfg;
    const std::size_t per_neuron = static_cast<std::size_t>(cfg.mlp_in() + cfg.l * cfg.d_h);
    ex.parallel_for(cfg.N, [&](int begin, int end) {
        for (int i = begin; i < end; ++i) {
            if (cfg.output_mode == OutputMode::lif)
                lif_neuron_forward(net, dec, i, x_t, B, s);
            else
                elm_neuron_forward(net, dec, i, x_t, B, s, ws.scratch.data() + i * per_neuron);
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
void sequence_forward(const models::Network<Real>& net, const StepDecays<Real>& dec, const Real* x, Tape<Real>& tape,
                      ForwardWorkspace<Real>& ws, Executor& ex) {
    const std::size_t step_in = static_cast<std::size_t>(tape.B) * net.cfg.input_width();
    for (int t = 0; t < tape.T; ++t)
        network_step_forward(net, dec, x + t * step_in, tape.B, tape_slots(tape, t), ws, ex);
}

#define ELM_INSTANTIATE(Real)                                                                                     \
    template struct ForwardWorkspace<Real>;                                                                       \
    template void network_step_forward<Real>(const models::Network<Real>&, const StepDecays<Real>&, const Real*, \
                                             int, const StepSlots<Real>&, ForwardWorkspace<Real>&, Executor&);  \
    template StepSlots<Real> tape_slots<Real>(Tape<Real>&, int);                                                  \
    template void sequence_forward<Real>(const models::Network<Real>&, const StepDecays<Real>&, const Real*,     \
                                         Tape<Real>&, ForwardWorkspace<Real>&, Executor&);
ELM_INSTANTIATE(float)
ELM_INSTANTIATE(double)
#undef ELM_INSTANTIATE

}  // namespace elm::sim
