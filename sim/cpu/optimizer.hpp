// The CPU backend's optimizer: global gradient-norm clipping and the per-parameter updates of
// sim/optimizer_math.hpp over the trainable ranges of the flat parameter buffer (ParamLayout order;
// tensors that are not trainable, tau_m_raw when learn_tau_m = 0, are never touched). Moments are
// allocated at the first Adam/Adamax update.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "elmsim/models/param_layout.hpp"
#include "elmsim/models/train_config.hpp"
#include "elmsim/sim/backend.hpp"

namespace elm::sim::cpu {

class Optimizer {
public:
    explicit Optimizer(const models::ParamLayout& layout);

    // One update of `params` from `grads` (both layout-sized). Clips to cfg.clip_norm (Adam/Adamax
    // only: "sgd" is plain SGD, as the contract's one-step comparison needs). Returns the global
    // gradient norm before clipping; InputError when it is not finite.
    double step(const models::TrainConfig& cfg, float* params, const float* grads, double lr);

    const OptimizerState& state() const { return state_; }
    // Moments must each be empty or layout-sized (std::invalid_argument otherwise).
    void set_state(OptimizerState s);

private:
    std::size_t total_;
    std::vector<std::pair<std::size_t, std::size_t>> ranges_;  // trainable [offset, offset + size)
    OptimizerState state_;
};

}  // namespace elm::sim::cpu
