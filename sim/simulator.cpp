// Single-sample simulation in clock or event mode on any backend (spec elm-network.md sections 2, 3,
// 5; see simulator.hpp).
#include "elmsim/sim/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

using models::TensorId;

Simulator::Simulator(Backend& backend)
    : backend_(backend), cfg_(backend.config()), stepper_(backend.make_stepper(1)), C_raw_(cfg_.C_e > 0 ? 256 : cfg_.C),
      C_model_(cfg_.input_width()) {
    if (cfg_.C_e > 0) refresh_embedding();
    x_.assign(static_cast<std::size_t>(C_model_), 0.0f);
    nz_channel_.reserve(static_cast<std::size_t>(C_raw_));
    nz_count_.reserve(static_cast<std::size_t>(C_raw_));
}

void Simulator::refresh_embedding() {
    // The simulator builds each update's model input on the host from the embedding rows.
    std::vector<float> params(backend_.layout().total_size());
    backend_.read_params(params);
    const auto& spec = backend_.layout()[TensorId::embedding];
    embedding_.assign(params.begin() + static_cast<std::ptrdiff_t>(spec.offset),
                      params.begin() + static_cast<std::ptrdiff_t>(spec.offset + spec.size));
    embedding_version_ = backend_.params_version();
}

void Simulator::reset() {
    stepper_->reset();
    updates_ = 0;
    time_ms_ = 0.0;
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
    for (std::size_t k = 0; k < n; ++k)
        if (channels[k] < 0 || channels[k] >= C_raw_)
            throw InputError(fmt::format("input event on channel {} at {} ms: the model reads channels 0..{}",
                                         channels[k], time_ms, C_raw_ - 1));
    if (cfg_.C_e > 0) {
        if (backend_.params_version() != embedding_version_) refresh_embedding();
        // sum_c count_c E[c]: for a single byte exactly its embedding row (0 + 1 * e = e).
        std::fill(x_.begin(), x_.end(), 0.0f);
        for (std::size_t k = 0; k < n; ++k) {
            const float* row = embedding_.data() + static_cast<std::size_t>(channels[k]) * C_model_;
            const float c = counts[k];
            for (int j = 0; j < C_model_; ++j) x_[j] += c * row[j];
        }
        advance(time_ms, dt_ms, x_.data());
        return;
    }
    for (std::size_t k = 0; k < n; ++k) x_[channels[k]] += counts[k];
    try {
        advance(time_ms, dt_ms, x_.data());
    } catch (...) {
        for (std::size_t k = 0; k < n; ++k) x_[channels[k]] = 0.0f;
        throw;
    }
    // Only the touched entries go back to zero: an update costs its impulses, not C.
    for (std::size_t k = 0; k < n; ++k) x_[channels[k]] = 0.0f;
}

void Simulator::step_dense(double time_ms, double dt_ms, const float* x) {
    if (cfg_.C_e > 0) {
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
    advance(time_ms, dt_ms, x);  // the row is already the model input
}

void Simulator::run_clock(const float* x, std::int64_t T, const UpdateObserver& observer) {
    const double dt = cfg_.dt_ms;
    for (std::int64_t t = 0; t < T; ++t) {
        step_dense(static_cast<double>(t + 1) * dt, dt, x + static_cast<std::size_t>(t) * C_raw_);
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
    v.y = s.y;
    v.v = s.v;
    v.m = s.m;
    v.b = s.b;
    v.logits = s.logits;
    return v;
}

}  // namespace elm::sim
