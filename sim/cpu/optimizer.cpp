#include "elmsim/sim/cpu/optimizer.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/optimizer_math.hpp"

namespace elm::sim::cpu {

using models::OptimizerKind;

Optimizer::Optimizer(const models::ParamLayout& layout) : total_(layout.total_size()) {
    for (const auto* s : layout.tensors())
        if (s->trainable) ranges_.emplace_back(s->offset, s->offset + s->size);
}

void Optimizer::set_state(OptimizerState s) {
    for (const auto* m : {&s.m1, &s.m2})
        if (!m->empty() && m->size() != total_)
            throw std::invalid_argument(
                fmt::format("optimizer state: {} moment values for a layout of {}", m->size(), total_));
    state_ = std::move(s);
}

double Optimizer::step(const models::TrainConfig& cfg, float* params, const float* grads, double lr) {
    double sq = 0.0;
    for (auto [lo, hi] : ranges_)
        for (std::size_t k = lo; k < hi; ++k) sq += static_cast<double>(grads[k]) * grads[k];
    const double norm = std::sqrt(sq);
    if (!std::isfinite(norm)) throw InputError("training diverged: the gradient norm is not finite (lower train.lr?)");
    const std::int64_t t = ++state_.t;
    if (cfg.optimizer == OptimizerKind::sgd) {
        const float a = static_cast<float>(lr);
        for (auto [lo, hi] : ranges_)
            for (std::size_t k = lo; k < hi; ++k) params[k] = sgd_update(params[k], grads[k], a);
        return norm;
    }
    if (state_.m1.empty()) state_.m1.assign(total_, 0.0f);
    if (state_.m2.empty()) state_.m2.assign(total_, 0.0f);
    AdamCoefficients c{};
    c.scale = cfg.clip_norm > 0.0 && norm > cfg.clip_norm ? static_cast<float>(cfg.clip_norm / norm) : 1.0f;
    c.beta1 = static_cast<float>(cfg.beta1);
    c.beta2 = static_cast<float>(cfg.beta2);
    c.eps = static_cast<float>(cfg.eps);
    const double bc1 = 1.0 - std::pow(cfg.beta1, static_cast<double>(t));
    c.step_size = static_cast<float>(lr / bc1);
    float* m1 = state_.m1.data();
    float* m2 = state_.m2.data();
    if (cfg.optimizer == OptimizerKind::adam) {
        c.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(cfg.beta2, static_cast<double>(t))));
        for (auto [lo, hi] : ranges_)
            for (std::size_t k = lo; k < hi; ++k) adam_update(params[k], m1[k], m2[k], grads[k], c);
    } else {
        for (auto [lo, hi] : ranges_)
            for (std::size_t k = lo; k < hi; ++k) adamax_update(params[k], m1[k], m2[k], grads[k], c);
    }
    return norm;
}

}  // namespace elm::sim::cpu
