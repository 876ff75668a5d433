// Network<Real>: one ELM Network — its structure (config + connectivity draw) and its parameters in
// one flat buffer laid out by ParamLayout. Real is float for training/simulation and double for the
// finite-difference tests; both run the same templated engine.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "elmsim/models/connectivity.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/param_layout.hpp"

namespace elm::models {

template <class Real>
struct Network {
    ModelConfig cfg;
    std::vector<std::int32_t> src;  // [N, k_c]
    ParamLayout layout;
    std::vector<Real> params;       // layout.total_size()

    explicit Network(const ModelConfig& c) : cfg(c), layout(c), params(layout.total_size(), Real(0)) {}

    Real* tensor(TensorId id) { return params.data() + layout[id].offset; }
    const Real* tensor(TensorId id) const { return params.data() + layout[id].offset; }

    template <class Other>
    Network<Other> cast() const {
        Network<Other> out(cfg);
        out.src = src;
        for (std::size_t k = 0; k < params.size(); ++k) out.params[k] = static_cast<Other>(params[k]);
        return out;
    }
};

// Draw connectivity and initialise every tensor as in spec section 3 (seeded by cfg.seed).
template <class Real>
Network<Real> make_network(const ModelConfig& cfg);

// tau_m value at initialisation for memory unit k of d_m: log-spaced over
// [tau_init_min_ms, tau_init_max_ms], moved 1e-6 ms inside (tau_min, tau_max) if on a bound.
double initial_tau_m(const ModelConfig& cfg, int k);

}  // namespace elm::models
