// Optimizers of learning mode (spec section 7): plain SGD, Adam and Adamax over the flat parameter
// buffer, with global gradient-norm clipping and constant / cosine learning-rate schedules.
// Moments share ParamLayout's order; tensors that are not trainable (tau_m_raw when learn_tau_m = 0)
// are never touched.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "elmsim/models/param_layout.hpp"
#include "elmsim/sim/loss.hpp"

namespace elm::sim {

// Learning rate at optimizer step `step` (0-based): linear warm-up, then constant or cosine decay to
// lr_min at max_steps.
double learning_rate(const TrainConfig& cfg, std::int64_t step);

class Optimizer {
public:
    Optimizer(const TrainConfig& cfg, const models::ParamLayout& layout);

    // One update. Clips `grads` in place to clip_norm (Adam/Adamax only: "sgd" is plain SGD, as the
    // contract's one-step comparison needs). Returns the global gradient norm before clipping.
    double step(std::vector<float>& params, std::vector<float>& grads, double lr);

    std::int64_t t() const { return t_; }
    const std::vector<float>& moment1() const { return m1_; }
    const std::vector<float>& moment2() const { return m2_; }
    // Restore state from a checkpoint (sizes must match the layout).
    void restore(std::int64_t t, std::vector<float> m1, std::vector<float> m2);

private:
    TrainConfig cfg_;
    std::vector<std::pair<std::size_t, std::size_t>> ranges_;  // trainable [offset, offset + size)
    std::int64_t t_ = 0;
    std::vector<float> m1_, m2_;
};

}  // namespace elm::sim
