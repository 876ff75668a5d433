#include "elmsim/sim/network_state.hpp"

namespace elm::sim {

SlotSizes slot_sizes(const models::ModelConfig& cfg, int batch) {
    const std::size_t nb = static_cast<std::size_t>(cfg.N) * batch;
    const bool elm = cfg.output_mode != models::OutputMode::lif;
    SlotSizes s;
    s.b = elm ? nb * cfg.n_b : 0;
    s.m = elm ? nb * cfg.d_m : 0;
    s.y = nb;
    s.a = elm ? nb * cfg.l * cfg.d_h : 0;
    return s;
}

template <class Real>
void NetworkState<Real>::reset(const models::ModelConfig& cfg, int batch) {
    B = batch;
    const SlotSizes s = slot_sizes(cfg, batch);
    b.assign(s.b, Real(0));
    m.assign(s.m, Real(0));
    v.assign(s.y, Real(0));
    y.assign(s.y, Real(0));
}

template struct NetworkState<float>;
template struct NetworkState<double>;

}  // namespace elm::sim
