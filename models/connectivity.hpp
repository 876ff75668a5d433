// Connectivity: the seeded draw of each neuron's k_c sources (spec section 3) and the fan-out
// table that inverts it. src[i, k] < C is input channel src; src[i, k] >= C is neuron src - C read
// from the previous step. Each row holds k_in distinct inputs and k_c - k_in distinct other neurons,
// shuffled so that branches mix input and recurrent synapses.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/model_config.hpp"

namespace elm::models {

// Row-major [N, k_c] source indices into [0, C + N) where C = cfg.input_width().
std::vector<std::int32_t> draw_connectivity(const ModelConfig& cfg);

// Throws InputError when `src` does not fit cfg (shape, range, duplicates, self-synapses).
void validate_connectivity(const ModelConfig& cfg, const std::vector<std::int32_t>& src);

// For each source (input channel or neuron), the synapses that read it, as flat indices i * k_c + k
// in ascending order. Backward gathers gradients through it in a fixed order (deterministic for any
// thread count); spike-mode simulation walks it to touch only the synapses whose source fired.
struct FanOut {
    std::vector<std::int32_t> start;     // [C + N + 1] offsets into `synapse`
    std::vector<std::int32_t> synapse;   // [N * k_c] flat synapse indices grouped by source
    int num_sources() const { return static_cast<int>(start.size()) - 1; }
};

FanOut build_fan_out(const ModelConfig& cfg, const std::vector<std::int32_t>& src);

}  // namespace elm::models
