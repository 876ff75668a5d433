#include "elmsim/models/connectivity.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"

namespace elm::models {

namespace {
// k distinct values of `pool`, by a partial Fisher-Yates shuffle (pool is reordered).
void draw_distinct(Rng& rng, std::vector<std::int32_t>& pool, int k, std::vector<std::int32_t>& out) {
    const std::size_t n = pool.size();
    for (int j = 0; j < k; ++j) {
        const std::size_t r = j + rng.below(n - j);
        std::swap(pool[j], pool[r]);
        out.push_back(pool[j]);
    }
}
}  // namespace

std::vector<std::int32_t> draw_connectivity(const ModelConfig& cfg) {
    cfg.validate();
    const int C = cfg.input_width();
    const int k_in = cfg.k_in();
    const int k_rec = cfg.k_rec();
    Rng rng(cfg.seed, /*stream=*/1);
    std::vector<std::int32_t> src;
    src.reserve(static_cast<std::size_t>(cfg.N) * cfg.k_c);
    std::vector<std::int32_t> inputs(C), neurons, row;
    for (int i = 0; i < cfg.N; ++i) {
        std::iota(inputs.begin(), inputs.end(), 0);
        neurons.clear();
        for (int j = 0; j < cfg.N; ++j)
            if (j != i || cfg.self_synapse) neurons.push_back(C + j);
        row.clear();
        draw_distinct(rng, inputs, k_in, row);
        draw_distinct(rng, neurons, k_rec, row);
        for (int k = cfg.k_c - 1; k > 0; --k) std::swap(row[k], row[rng.below(k + 1)]);
        src.insert(src.end(), row.begin(), row.end());
    }
    return src;
}

void validate_connectivity(const ModelConfig& cfg, const std::vector<std::int32_t>& src) {
    const int C = cfg.input_width();
    if (src.size() != static_cast<std::size_t>(cfg.N) * cfg.k_c)
        throw InputError(fmt::format("model/src: expected {} x {} entries, found {}", cfg.N, cfg.k_c, src.size()));
    std::vector<std::int32_t> row;
    for (int i = 0; i < cfg.N; ++i) {
        row.assign(src.begin() + static_cast<std::ptrdiff_t>(i) * cfg.k_c,
                   src.begin() + static_cast<std::ptrdiff_t>(i + 1) * cfg.k_c);
        for (auto s : row) {
            if (s < 0 || s >= C + cfg.N)
                throw InputError(fmt::format("model/src: row {} has source {} outside [0, {})", i, s, C + cfg.N));
            if (s == C + i && !cfg.self_synapse)
                throw InputError(fmt::format("model/src: neuron {} has a self-synapse", i));
        }
        std::sort(row.begin(), row.end());
        if (std::adjacent_find(row.begin(), row.end()) != row.end())
            throw InputError(fmt::format("model/src: row {} repeats a source", i));
    }
}

FanOut build_fan_out(const ModelConfig& cfg, const std::vector<std::int32_t>& src) {
    const int sources = cfg.input_width() + cfg.N;
    FanOut f;
    f.start.assign(sources + 1, 0);
    for (auto s : src) ++f.start[s + 1];
    for (int s = 0; s < sources; ++s) f.start[s + 1] += f.start[s];
    f.synapse.resize(src.size());
    std::vector<std::int32_t> fill(f.start.begin(), f.start.end() - 1);
    for (std::size_t e = 0; e < src.size(); ++e) f.synapse[fill[src[e]]++] = static_cast<std::int32_t>(e);
    return f;
}

}  // namespace elm::models
