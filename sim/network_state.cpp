#include "elmsim/sim/network_state.hpp"

namespace elm::sim {

template <class Real>
void NetworkState<Real>::reset(const models::ModelConfig& cfg, int batch) {
    B = batch;
    const std::size_t nb = static_cast<std::size_t>(cfg.N) * batch;
    const bool elm = cfg.output_mode != models::OutputMode::lif;
    b.assign(elm ? nb * cfg.n_b : 0, Real(0));
    m.assign(elm ? nb * cfg.d_m : 0, Real(0));
    v.assign(nb, Real(0));
    y.assign(nb, Real(0));
}

template struct NetworkState<float>;
template struct NetworkState<double>;

}  // namespace elm::sim
