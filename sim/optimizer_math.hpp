// One parameter's update under each optimizer of learning mode (spec elm-network.md section 7; the
// conventions of torch.optim: Adam with bias correction of both moments, Adamax with an infinity-norm
// second moment), written once for every backend (ELM_HD: host and device). A backend runs them over
// the trainable ranges of ParamLayout; the global-norm clip scale is computed by the backend (a
// reduction) and applied here.
#pragma once

#include <cmath>

#include "elmsim/models/elm_math.hpp"

namespace elm::sim {

// Per-update constants: bias corrections depend on the update count t, computed once per update.
struct AdamCoefficients {
    float beta1, beta2, eps;
    float step_size;  // lr / (1 - beta1^t)
    float bc2_sqrt;   // sqrt(1 - beta2^t) (Adam only)
    float scale;      // gradient clip scale (1 = no clipping)
};

// Plain SGD, p -= lr g (no momentum, no clipping: the contract's one-step comparison).
ELM_HD float sgd_update(float p, float g, float lr) { return p - lr * g; }

ELM_HD void adam_update(float& p, float& m1, float& m2, float grad, const AdamCoefficients& c) {
    const float g = grad * c.scale;
    m1 = c.beta1 * m1 + (1.0f - c.beta1) * g;
    m2 = c.beta2 * m2 + (1.0f - c.beta2) * g * g;
    p -= c.step_size * m1 / (std::sqrt(m2) / c.bc2_sqrt + c.eps);
}

ELM_HD void adamax_update(float& p, float& m1, float& m2, float grad, const AdamCoefficients& c) {
    const float g = grad * c.scale;
    m1 = c.beta1 * m1 + (1.0f - c.beta1) * g;
    const float decayed = c.beta2 * m2, floor = std::fabs(g) + c.eps;
    m2 = decayed < floor ? floor : decayed;  // max(beta2 m2, |g| + eps), as std::max
    p -= c.step_size * m1 / m2;
}

}  // namespace elm::sim
