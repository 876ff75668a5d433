// Single-sample simulation in clock or event mode (spec elm-network.md sections 2, 3, 5; see
// simulator.hpp).
#include "elmsim/sim/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/readout.hpp"

namespace elm::sim {

using models::TensorId;

template <class Real>
Simulator<Real>::Simulator(const models::Network<Real>& net, Executor& ex)
    : net_(net), ex_(ex), C_raw_(net.cfg.C_e > 0 ? 256 : net.cfg.C), C_model_(net.cfg.input_width()) {
    const auto& cfg = net.cfg;
    const bool lif = cfg.output_mode == models::OutputMode::lif;
    ws_.resize(cfg);
    a_.assign(lif ? 0 : static_cast<std::size_t>(cfg.N) * cfg.l * cfg.d_h, Real(0));
    dm_.assign(lif ? 0 : static_cast<std::size_t>(cfg.N) * cfg.d_m, Real(0));
    x_.assign(static_cast<std::size_t>(C_model_), Real(0));
    nz_channel_.reserve(static_cast<std::size_t>(C_raw_));
    nz_count_.reserve(static_cast<std::size_t>(C_raw_));
    logits_.assign(static_cast<std::size_t>(cfg.n_out), Real(0));
    reset();
}

template <class Real>
void Simulator<Real>::reset() {
    prev_.reset(net_.cfg, 1);
    next_.reset(net_.cfg, 1);
    updates_ = 0;
    time_ms_ = 0.0;
    readout();  // the readout of the zero state (b_o): what a prompt-less generator samples from
}

template <class Real>
const StepDecays<Real>& Simulator<Real>::decays_for(double dt_ms) {
    DecayEntry* lru = &cache_[0];
    for (auto& e : cache_) {
        if (e.dt_ms == dt_ms) {
            e.used = ++clock_;
            return e.decays;
        }
        if (e.used < lru->used) lru = &e;
    }
    compute_decays(net_, dt_ms, lru->decays);
    lru->dt_ms = dt_ms;
    lru->used = ++clock_;
    ++decay_computations_;
    return lru->decays;
}

template <class Real>
void Simulator<Real>::readout() {
    // The trainer's own readout on one step of B = 1, so the floats agree with evaluation.
    readout_forward(net_, prev_.y.data(), 1, 1, logits_.data(), ex_);
}

template <class Real>
void Simulator<Real>::advance(double time_ms, double dt_ms, const Real* x_model) {
    if (!(dt_ms > 0.0) || !std::isfinite(dt_ms))
        throw std::invalid_argument(
            fmt::format("Simulator: update at {} ms has dt = {} ms, expected > 0", time_ms, dt_ms));
    const StepDecays<Real>& dec = decays_for(dt_ms);
    const StepSlots<Real> slots{prev_.b.data(), prev_.m.data(), prev_.v.data(), prev_.y.data(),  // read
                                next_.b.data(), next_.m.data(), next_.v.data(), next_.y.data(),  // written
                                a_.data(),      dm_.data()};
    network_step_forward(net_, dec, x_model, 1, slots, ws_, ex_);
    std::swap(prev_, next_);  // swaps the vectors' buffers: no copy, no allocation
    readout();
    ++updates_;
    time_ms_ = time_ms;
    last_dt_ms_ = dt_ms;
}

template <class Real>
void Simulator<Real>::step(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts,
                           std::size_t n) {
    for (std::size_t k = 0; k < n; ++k)
        if (channels[k] < 0 || channels[k] >= C_raw_)
            throw InputError(fmt::format("input event on channel {} at {} ms: the model reads channels 0..{}",
                                         channels[k], time_ms, C_raw_ - 1));
    if (net_.cfg.C_e > 0) {
        // sum_c count_c E[c]: for a single byte exactly its embedding row (0 + 1 * e = e).
        const Real* E = net_.tensor(TensorId::embedding);
        std::fill(x_.begin(), x_.end(), Real(0));
        for (std::size_t k = 0; k < n; ++k) {
            const Real* row = E + static_cast<std::size_t>(channels[k]) * C_model_;
            const Real c = static_cast<Real>(counts[k]);
            for (int j = 0; j < C_model_; ++j) x_[j] += c * row[j];
        }
        advance(time_ms, dt_ms, x_.data());
        return;
    }
    for (std::size_t k = 0; k < n; ++k) x_[channels[k]] += static_cast<Real>(counts[k]);
    try {
        advance(time_ms, dt_ms, x_.data());
    } catch (...) {
        for (std::size_t k = 0; k < n; ++k) x_[channels[k]] = Real(0);
        throw;
    }
    // Only the touched entries go back to zero: an update costs its impulses, not C.
    for (std::size_t k = 0; k < n; ++k) x_[channels[k]] = Real(0);
}

template <class Real>
void Simulator<Real>::step_dense(double time_ms, double dt_ms, const float* x) {
    if (net_.cfg.C_e > 0) {
        nz_channel_.clear();
        nz_count_.clear();
        for (int c = 0; c < C_raw_; ++c)
            if (x[c] != 0.0f) {
                nz_channel_.push_back(c);
                nz_count_.push_back(x[c]);
            }
        step(time_ms, dt_ms, nz_channel_.data(), nz_count_.data(), nz_channel_.size());
        return;
    }
    if constexpr (std::is_same_v<Real, float>) {
        advance(time_ms, dt_ms, x);  // the row is already the model input
    } else {
        std::copy(x, x + C_model_, x_.begin());
        advance(time_ms, dt_ms, x_.data());
        std::fill(x_.begin(), x_.end(), Real(0));
    }
}

template <class Real>
void Simulator<Real>::run_clock(const float* x, std::int64_t T, const UpdateObserver<Real>& observer) {
    const double dt = net_.cfg.dt_ms;
    for (std::int64_t t = 0; t < T; ++t) {
        step_dense(static_cast<double>(t + 1) * dt, dt, x + static_cast<std::size_t>(t) * C_raw_);
        if (observer) observer(view());
    }
}

template <class Real>
void Simulator<Real>::run_event(const EventSchedule& s, const UpdateObserver<Real>& observer) {
    for (std::int64_t u = 0; u < s.updates(); ++u) {
        const std::int64_t k = s.start[u];
        step(s.time_ms[u], s.dt_ms[u], s.channel.data() + k, s.count.data() + k,
             static_cast<std::size_t>(s.start[u + 1] - k));
        if (observer) observer(view());
    }
}

template <class Real>
UpdateView<Real> Simulator<Real>::view() const {
    UpdateView<Real> v;
    v.index = updates_ - 1;
    v.time_ms = time_ms_;
    v.dt_ms = last_dt_ms_;
    v.y = prev_.y.data();
    v.v = prev_.v.data();
    v.m = prev_.m.empty() ? nullptr : prev_.m.data();
    v.b = prev_.b.empty() ? nullptr : prev_.b.data();
    v.logits = logits_.data();
    return v;
}

template class Simulator<float>;
template class Simulator<double>;

}  // namespace elm::sim
