// Single-sample simulation in clock or event mode on any backend (spec elm-network.md sections 2, 3,
// 5; see simulator.hpp).
#include "elmsim/sim/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

Simulator::Simulator(Backend& backend)
    : cfg_(backend.config()), stepper_(backend.make_stepper(1)), input_(backend) {
    x_.assign(static_cast<std::size_t>(input_.width()), 0.0f);
    nz_channel_.reserve(static_cast<std::size_t>(input_.raw_channels()));
    nz_count_.reserve(static_cast<std::size_t>(input_.raw_channels()));
}

void Simulator::reset() {
    stepper_->reset();
    updates_ = 0;
    time_ms_ = 0.0;
    last_inputs_ = 0.0;
}

void Simulator::advance(double time_ms, double dt_ms, const float* x_model) {
    if (!(dt_ms > 0.0) || !std::isfinite(dt_ms))
        throw std::invalid_argument(
            fmt::format("Simulator: update at {} ms has dt = {} ms, expected > 0", time_ms, dt_ms));
    stepper_->advance(dt_ms, x_model);
    ++updates_;
    time_ms_ = time_ms;
    last_dt_ms_ = dt_ms;
}

void Simulator::step(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts, std::size_t n) {
    input_.check(channels, n, time_ms);
    input_.add(channels, counts, n, x_.data(), 1);
    try {
        advance(time_ms, dt_ms, x_.data());
    } catch (...) {
        input_.clear(channels, n, x_.data(), 1);
        throw;
    }
    input_.clear(channels, n, x_.data(), 1);
    last_inputs_ = 0.0;
    for (std::size_t k = 0; k < n; ++k) last_inputs_ += counts[k];
}

void Simulator::step_dense(double time_ms, double dt_ms, const float* x) {
    if (cfg_.C_e > 0) {
        nz_channel_.clear();
        nz_count_.clear();
        for (int c = 0; c < input_.raw_channels(); ++c)
            if (x[c] != 0.0f) {
                nz_channel_.push_back(c);
                nz_count_.push_back(x[c]);
            }
        step(time_ms, dt_ms, nz_channel_.data(), nz_count_.data(), nz_channel_.size());
        return;
    }
    advance(time_ms, dt_ms, x);  // the row is already the model input
    last_inputs_ = 0.0;
    for (int c = 0; c < input_.raw_channels(); ++c) last_inputs_ += x[c];
}

void Simulator::run_clock(const float* x, std::int64_t T, const UpdateObserver& observer) {
    const double dt = cfg_.dt_ms;
    for (std::int64_t t = 0; t < T; ++t) {
        step_dense(static_cast<double>(t + 1) * dt, dt, x + static_cast<std::size_t>(t) * input_.raw_channels());
        if (observer) observer(view());
    }
}

void Simulator::run_event(const models::EventSchedule& s, const UpdateObserver& observer) {
    for (std::int64_t u = 0; u < s.updates(); ++u) {
        const std::int64_t k = s.start[u];
        step(s.time_ms[u], s.dt_ms[u], s.channel.data() + k, s.count.data() + k,
             static_cast<std::size_t>(s.start[u + 1] - k));
        if (observer) observer(view());
    }
}

UpdateView Simulator::view() const {
    const StepperView s = stepper_->view();
    UpdateView v;
    v.index = updates_ - 1;
    v.time_ms = time_ms_;
    v.dt_ms = last_dt_ms_;
    v.inputs = last_inputs_;
    v.y = s.y;
    v.v = s.v;
    v.m = s.m;
    v.b = s.b;
    v.logits = s.logits;
    return v;
}

}  // namespace elm::sim
