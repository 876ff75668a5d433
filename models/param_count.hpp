// Parameter accounting of spec section 4: k_e (per-neuron complexity), k_c (connectivity) and the
// total budget P, by the closed formula. Tests check it against ParamLayout::trainable_size(), the
// count of the tensors the trainer really updates, so the two cannot drift apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elmsim/models/model_config.hpp"

namespace elm::models {

struct ParamCount {
    std::int64_t k_e = 0;        // per-neuron parameters besides synapses
    std::int64_t k_c = 0;        // synapses per neuron
    std::int64_t mlp = 0;        // per neuron: W1, b1, hidden layers, W2, b2
    std::int64_t output = 0;     // per neuron: wy, c
    std::int64_t tau = 0;        // per neuron: tau_m when learned
    std::int64_t readout = 0;    // n_out (N + 1)
    std::int64_t embedding = 0;  // 256 C_e
    std::int64_t P = 0;          // N (k_c + k_e) + readout + embedding
};

ParamCount count_params(const ModelConfig& cfg);

}  // namespace elm::models
