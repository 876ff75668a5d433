// SHD-Adding pair sampler and binning (spec elm-network.md section 1; see shd_adding.hpp).
#include "elmsim/io/shd_adding.hpp"

#include <stdexcept>
#include <string>

#include "elmsim/io/spike_binning.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace {

void check_index(const SpikeDataset& ds, std::int64_t i) {
    if (i < 0 || i >= static_cast<std::int64_t>(ds.samples.size()))
        throw std::out_of_range("SHD-Adding: sample index " + std::to_string(i) + " outside 0.." +
                                std::to_string(ds.samples.size()) + " of " + ds.path);
}

}  // namespace

int adding_label(const SpikeDataset& ds, std::int64_t a, std::int64_t b) {
    check_index(ds, a);
    check_index(ds, b);
    return ds.samples[a].label % 10 + ds.samples[b].label % 10;
}

AddingPair draw_adding_pair(const SpikeDataset& ds, elm::Rng& rng) {
    if (ds.samples.empty()) throw InputError(ds.path + ": SHD-Adding needs at least one sample, found none");
    const auto n = static_cast<std::uint64_t>(ds.samples.size());
    AddingPair p;
    p.a = static_cast<std::int64_t>(rng.below(n));
    p.b = static_cast<std::int64_t>(rng.below(n));
    p.label = adding_label(ds, p.a, p.b);
    return p;
}

std::vector<AddingPair> fixed_adding_pairs(const SpikeDataset& ds, std::int64_t count, std::uint64_t seed) {
    if (count < 0) throw InputError("SHD-Adding: expected a non-negative number of pairs, got " + std::to_string(count));
    elm::Rng rng(seed);
    std::vector<AddingPair> pairs;
    pairs.reserve(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) pairs.push_back(draw_adding_pair(ds, rng));
    return pairs;
}

std::vector<AddingPair> evaluation_pairs(const SpikeDataset& ds, std::int64_t count, std::uint64_t train_seed) {
    return fixed_adding_pairs(ds, count, train_seed + kEvaluationSeedOffset);
}

void bin_adding_pair(const SpikeDataset& ds, const AddingPair& pair, double dt_ms, double window_ms, float* x,
                     std::int64_t T, std::int64_t B, std::int64_t b, int C) {
    check_index(ds, pair.a);
    check_index(ds, pair.b);
    const std::int64_t t1 = models::num_steps(window_ms, dt_ms);
    bin_sample(ds.samples[pair.a], dt_ms, window_ms, 0, x, T, B, b, C);
    bin_sample(ds.samples[pair.b], dt_ms, window_ms, t1, x, T, B, b, C);
}

}  // namespace elm::io
