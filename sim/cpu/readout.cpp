#include "elmsim/sim/cpu/readout.hpp"

#include <algorithm>

namespace elm::sim::cpu {

using models::TensorId;

template <class Real>
void readout_forward(const models::Network<Real>& net, const Real* y, int steps, int B, Real* logits, Executor& ex) {
    const int N = net.cfg.N, n_out = net.cfg.n_out;
    const Real* Wo = net.tensor(TensorId::W_o);
    const Real* bo = net.tensor(TensorId::b_o);
    const std::size_t slot = static_cast<std::size_t>(N) * B;
    ex.parallel_for(steps, [&](int begin, int end) {
        for (int r = begin; r < end; ++r) {
            const Real* yr = y + r * slot;
            for (int b = 0; b < B; ++b) {
                Real* out = logits + (static_cast<std::size_t>(r) * B + b) * n_out;
                for (int o = 0; o < n_out; ++o) {
                    const Real* row = Wo + static_cast<std::size_t>(o) * N;
                    Real acc = bo[o];
                    for (int i = 0; i < N; ++i) acc += row[i] * yr[static_cast<std::size_t>(i) * B + b];
                    out[o] = acc;
                }
            }
        }
    });
}

template <class Real>
void readout_backward(const models::Network<Real>& net, const Real* y, int steps, int B, const Real* g_logits,
                      Real* grads, Real* g_y, Executor& ex) {
    const int N = net.cfg.N, n_out = net.cfg.n_out;
    const Real* Wo = net.tensor(TensorId::W_o);
    Real* gWo = grads + net.layout[TensorId::W_o].offset;
    Real* gbo = grads + net.layout[TensorId::b_o].offset;
    const std::size_t slot = static_cast<std::size_t>(N) * B;
    // Parameter gradients: one task per output row, summed over steps and batch in a fixed order.
    ex.parallel_for(n_out, [&](int begin, int end) {
        for (int o = begin; o < end; ++o) {
            Real* grow = gWo + static_cast<std::size_t>(o) * N;
            for (int r = 0; r < steps; ++r) {
                const Real* yr = y + r * slot;
                for (int b = 0; b < B; ++b) {
                    const Real g = g_logits[(static_cast<std::size_t>(r) * B + b) * n_out + o];
                    gbo[o] += g;
                    for (int i = 0; i < N; ++i) grow[i] += g * yr[static_cast<std::size_t>(i) * B + b];
                }
            }
        }
    });
    ex.parallel_for(steps, [&](int begin, int end) {
        for (int r = begin; r < end; ++r) {
            Real* gy = g_y + r * slot;
            std::fill(gy, gy + slot, Real(0));
            for (int b = 0; b < B; ++b) {
                const Real* gl = g_logits + (static_cast<std::size_t>(r) * B + b) * n_out;
                for (int o = 0; o < n_out; ++o) {
                    const Real* row = Wo + static_cast<std::size_t>(o) * N;
                    for (int i = 0; i < N; ++i) gy[static_cast<std::size_t>(i) * B + b] += row[i] * gl[o];
                }
            }
        }
    });
}

template void readout_forward<float>(const models::Network<float>&, const float*, int, int, float*, Executor&);
template void readout_forward<double>(const models::Network<double>&, const double*, int, int, double*, Executor&);
template void readout_backward<float>(const models::Network<float>&, const float*, int, int, const float*, float*,
                                      float*, Executor&);
template void readout_backward<double>(const models::Network<double>&, const double*, int, int, const double*,
                                       double*, double*, Executor&);

}  // namespace elm::sim::cpu
