#include "elmsim/sim/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

double learning_rate(const TrainConfig& cfg, std::int64_t step) {
    if (cfg.warmup_steps > 0 && step < cfg.warmup_steps)
        return cfg.lr * static_cast<double>(step + 1) / static_cast<double>(cfg.warmup_steps);
    if (cfg.schedule == Schedule::constant) return cfg.lr;
    const double span = static_cast<double>(std::max<std::int64_t>(1, cfg.max_steps - cfg.warmup_steps));
    const double progress = std::clamp(static_cast<double>(step - cfg.warmup_steps) / span, 0.0, 1.0);
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + std::cos(3.141592653589793 * progress));
}

Optimizer::Optimizer(const TrainConfig& cfg, const models::ParamLayout& layout) : cfg_(cfg) {
    for (const auto* s : layout.tensors())
        if (s->trainable) ranges_.emplace_back(s->offset, s->offset + s->size);
    if (cfg.optimizer != OptimizerKind::sgd) {
        m1_.assign(layout.total_size(), 0.0f);
        m2_.assign(layout.total_size(), 0.0f);
    }
}

void Optimizer::restore(std::int64_t t, std::vector<float> m1, std::vector<float> m2) {
    if (m1.size() != m1_.size() || m2.size() != m2_.size())
        throw InputError(fmt::format("optimizer state: expected {} moment values, found {} and {}", m1_.size(),
                                     m1.size(), m2.size()));
    t_ = t;
    m1_ = std::move(m1);
    m2_ = std::move(m2);
}

double Optimizer::step(std::vector<float>& params, std::vector<float>& grads, double lr) {
    double sq = 0.0;
    for (auto [lo, hi] : ranges_)
        for (std::size_t k = lo; k < hi; ++k) sq += static_cast<double>(grads[k]) * grads[k];
    const double norm = std::sqrt(sq);
    if (!std::isfinite(norm)) throw InputError("training diverged: the gradient norm is not finite (lower train.lr?)");
    ++t_;
    if (cfg_.optimizer == OptimizerKind::sgd) {
        const float a = static_cast<float>(lr);
        for (auto [lo, hi] : ranges_)
            for (std::size_t k = lo; k < hi; ++k) params[k] -= a * grads[k];
        return norm;
    }
    const float scale = cfg_.clip_norm > 0.0 && norm > cfg_.clip_norm ? static_cast<float>(cfg_.clip_norm / norm) : 1.0f;
    const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
    const float eps = static_cast<float>(cfg_.eps);
    const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
    if (cfg_.optimizer == OptimizerKind::adam) {
        const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
        const float step_size = static_cast<float>(lr / bc1);
        const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
        for (auto [lo, hi] : ranges_)
            for (std::size_t k = lo; k < hi; ++k) {
                const float g = grads[k] * scale;
                m1_[k] = b1 * m1_[k] + (1.0f - b1) * g;
                m2_[k] = b2 * m2_[k] + (1.0f - b2) * g * g;
                params[k] -= step_size * m1_[k] / (std::sqrt(m2_[k]) / bc2_sqrt + eps);
            }
    } else {  // Adamax: infinity-norm second moment, as torch.optim.Adamax
        const float step_size = static_cast<float>(lr / bc1);
        for (auto [lo, hi] : ranges_)
            for (std::size_t k = lo; k < hi; ++k) {
                const float g = grads[k] * scale;
                m1_[k] = b1 * m1_[k] + (1.0f - b1) * g;
                m2_[k] = std::max(b2 * m2_[k], std::abs(g) + eps);
                params[k] -= step_size * m1_[k] / m2_[k];
            }
    }
    return norm;
}

}  // namespace elm::sim
