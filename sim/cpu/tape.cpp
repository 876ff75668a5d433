// CPU engine: per-dt decays (spec section 2) and the tape of sim/cpu/tape.hpp.
#include "elmsim/sim/cpu/tape.hpp"

#include <algorithm>

#include "elmsim/sim/step_constants.hpp"

namespace elm::sim::cpu {

using models::ModelConfig;
using models::OutputMode;
using models::TensorId;

template <class Real>
void compute_decays(const models::Network<Real>& net, double dt_ms, StepDecays<Real>& d) {
    const ModelConfig& cfg = net.cfg;
    const StepScalars<Real> sc = step_scalars<Real>(cfg, dt_ms);
    const Real dt = sc.dt;
    d.dt = dt;
    d.kappa_b = sc.kappa_b;
    d.kappa_v = sc.kappa_v;
    d.rate_gain = sc.rate_gain;
    if (cfg.output_mode == OutputMode::lif) return;
    const std::size_t n = static_cast<std::size_t>(cfg.N) * cfg.d_m;
    d.kappa_m.resize(n);
    d.kappa_l.resize(n);
    d.dkm_draw.resize(n);
    d.dkl_draw.resize(n);
    d.kappa_u.resize(n);
    d.dku_draw.resize(n);
    const Real tmin = static_cast<Real>(cfg.tau_min_ms), tmax = static_cast<Real>(cfg.tau_max_ms);
    const Real lambda = static_cast<Real>(cfg.lambda);
    const Real* raw = net.tensor(TensorId::tau_m_raw);
    const bool rate_gain = cfg.memory_gain == models::MemoryGain::rate;
    const bool clock_input = cfg.memory_input == models::MemoryInput::clock_decay;
    const Real clock_dt = static_cast<Real>(cfg.dt_ms);
    d.input_is_kappa_m = models::memory_input_is_kappa_m(dt, clock_input, clock_dt);
    for (std::size_t k = 0; k < n; ++k) {
        const models::UnitDecays<Real> u =
            models::memory_unit_decays(raw[k], dt, lambda, tmin, tmax, rate_gain, clock_input, clock_dt);
        d.kappa_m[k] = u.kappa_m;
        d.kappa_l[k] = u.kappa_l;
        d.dkm_draw[k] = u.dkm_draw;
        d.dkl_draw[k] = u.dkl_draw;
        d.kappa_u[k] = u.kappa_u;
        d.dku_draw[k] = u.dku_draw;
    }
}

template <class Real>
void Tape<Real>::resize(const ModelConfig& cfg, int steps, int batch) {
    T = steps;
    B = batch;
    const SlotSizes sz = slot_sizes(cfg, batch);
    b_stride = sz.b;
    m_stride = sz.m;
    y_stride = sz.y;
    a_stride = sz.a;
    const std::size_t slots = static_cast<std::size_t>(steps) + 1;
    b.resize(slots * b_stride);
    m.resize(slots * m_stride);
    v.resize(slots * y_stride);
    y.resize(slots * y_stride);
    a.resize(static_cast<std::size_t>(steps) * a_stride);
    dm.resize(static_cast<std::size_t>(steps) * m_stride);
}

template <class Real>
void Tape<Real>::load_state(const NetworkState<Real>& s) {
    std::copy(s.b.begin(), s.b.end(), b.begin());
    std::copy(s.m.begin(), s.m.end(), m.begin());
    std::copy(s.v.begin(), s.v.end(), v.begin());
    std::copy(s.y.begin(), s.y.end(), y.begin());
}

template <class Real>
void Tape<Real>::store_state(int slot, NetworkState<Real>& s) const {
    const auto at = [slot](const TapeArray<Real>& src, std::size_t stride) {
        return src.begin() + static_cast<std::ptrdiff_t>(slot * stride);
    };
    std::copy(at(b, b_stride), at(b, b_stride) + static_cast<std::ptrdiff_t>(b_stride), s.b.begin());
    std::copy(at(m, m_stride), at(m, m_stride) + static_cast<std::ptrdiff_t>(m_stride), s.m.begin());
    std::copy(at(v, y_stride), at(v, y_stride) + static_cast<std::ptrdiff_t>(y_stride), s.v.begin());
    std::copy(at(y, y_stride), at(y, y_stride) + static_cast<std::ptrdiff_t>(y_stride), s.y.begin());
}

template void compute_decays<float>(const models::Network<float>&, double, StepDecays<float>&);
template void compute_decays<double>(const models::Network<double>&, double, StepDecays<double>&);
template struct Tape<float>;
template struct Tape<double>;

}  // namespace elm::sim::cpu
