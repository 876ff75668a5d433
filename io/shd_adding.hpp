// SHD-Adding (spec elm-network.md section 1): two SHD samples drawn independently and uniformly,
// each cut to one window (1 s), the second shifted by one window; target = (label_a mod 10) +
// (label_b mod 10), 19 classes, language ignored.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/rng.hpp"

namespace elm::io {

constexpr int kAddingClasses = 19;

struct AddingPair {
    std::int64_t a = 0, b = 0;  // sample indices
    int label = 0;              // (label_a mod 10) + (label_b mod 10)
};

// Label of the pair (a, b) of `ds`.
int adding_label(const SpikeDataset& ds, std::int64_t a, std::int64_t b);
// a and b independent and uniform over the samples (two draws of rng.below). InputError if ds is empty.
AddingPair draw_adding_pair(const SpikeDataset& ds, elm::Rng& rng);
// `count` pairs from Rng(seed): a fixed set (same seed, same pairs).
std::vector<AddingPair> fixed_adding_pairs(const SpikeDataset& ds, std::int64_t count, std::uint64_t seed);
// THE evaluation pairs of an SHD-Adding run: the first `count` pairs of the fixed set seeded by the
// run's training seed + kEvaluationSeedOffset. Training evaluations, `eval` and `simulate` all score
// these, so their numbers are comparable.
inline constexpr std::uint64_t kEvaluationSeedOffset = 7919;
std::vector<AddingPair> evaluation_pairs(const SpikeDataset& ds, std::int64_t count, std::uint64_t train_seed);
// Bins the pair into batch column b of x [T][B][C]: sample a in steps [0, T1), sample b in
// [T1, 2 T1), T1 = num_steps(window_ms, dt_ms), each cut to window_ms. Requires T >= 2 T1.
void bin_adding_pair(const SpikeDataset& ds, const AddingPair& pair, double dt_ms, double window_ms, float* x,
                     std::int64_t T, std::int64_t B, std::int64_t b, int C);

}  // namespace elm::io
