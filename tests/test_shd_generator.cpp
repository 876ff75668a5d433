// Tests of the SHD generator (io/shd_generator): determinism, balance, SHD-like ranges, and that
// the classes are told apart by temporal structure rather than by channel or spike counts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"

using namespace elm::io;

namespace {

// Features for the separability check: counts over 35 channel groups of 20 channels, per time
// bin (time_bins = 1: channel histogram only), normalised to unit length.
std::vector<double> histogram_features(const SpikeSample& s, int time_bins) {
    std::vector<double> f(static_cast<std::size_t>(time_bins) * 35, 0.0);
    for (std::size_t j = 0; j < s.times_ms.size(); ++j) {
        const int t = std::min(time_bins - 1, static_cast<int>(s.times_ms[j] * time_bins / 1000.0));
        f[static_cast<std::size_t>(t) * 35 + s.units[j] / 20] += 1.0;
    }
    double norm = 0.0;
    for (const double v : f) norm += v * v;
    for (double& v : f) v /= std::sqrt(norm);
    return f;
}

// Nearest-class-mean accuracy on `test` with class means from `train` (cosine similarity).
double nearest_mean_accuracy(const SpikeDataset& train, const SpikeDataset& test, int time_bins) {
    std::vector<std::vector<double>> mean(20, std::vector<double>(static_cast<std::size_t>(time_bins) * 35, 0.0));
    for (const auto& s : train.samples) {
        const auto f = histogram_features(s, time_bins);
        for (std::size_t k = 0; k < f.size(); ++k) mean[s.label][k] += f[k];
    }
    int correct = 0;
    for (const auto& s : test.samples) {
        const auto f = histogram_features(s, time_bins);
        int best = 0;
        double best_score = -1e300;
        for (int c = 0; c < 20; ++c) {
            double dot = 0.0, norm = 0.0;
            for (std::size_t k = 0; k < f.size(); ++k) {
                dot += f[k] * mean[c][k];
                norm += mean[c][k] * mean[c][k];
            }
            const double score = dot / std::sqrt(norm);
            if (score > best_score) best_score = score, best = c;
        }
        correct += best == s.label;
    }
    return static_cast<double>(correct) / static_cast<double>(test.samples.size());
}

}  // namespace

TEST_CASE("SHD generator: deterministic, balanced, SHD-like counts and ranges", "[io]") {
    const auto t0 = std::chrono::steady_clock::now();
    const SpikeDataset a = generate_shd(400, 11);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Cost: ~0.4 s per 1000 samples at -O2, ~2 s in a Debug build; the bound leaves room for
    // sanitizer builds and loaded machines.
    CHECK(seconds < 8.0);
    const SpikeDataset b = generate_shd(400, 11);
    const SpikeDataset c = generate_shd(400, 12);
    REQUIRE(a.samples.size() == 400);
    CHECK(a.num_channels == 700);
    CHECK(a.num_classes == 20);
    std::vector<int> per_class(20, 0);
    bool same = true, differ = false, valid = true;
    std::size_t min_count = SIZE_MAX, max_count = 0;
    for (std::size_t i = 0; i < a.samples.size(); ++i) {
        const SpikeSample& s = a.samples[i];
        same = same && s.times_ms == b.samples[i].times_ms && s.units == b.samples[i].units && s.label == b.samples[i].label;
        differ = differ || s.times_ms != c.samples[i].times_ms;
        ++per_class[s.label];
        valid = valid && s.times_ms.size() == s.units.size();
        min_count = std::min(min_count, s.times_ms.size());
        max_count = std::max(max_count, s.times_ms.size());
        // Plain loop (not one assertion per event: ~2M events): in the window, already float16,
        // ascending, channel in range.
        for (std::size_t j = 0; j < s.times_ms.size(); ++j) {
            const double t = s.times_ms[j];
            valid = valid && t >= 0.0 && t < 1000.0 && t == round_to_float16(t / 1000.0) * 1000.0 &&
                    (j == 0 || t >= s.times_ms[j - 1]) && s.units[j] < 700;
        }
    }
    CHECK(valid);
    CHECK(min_count >= 1000);
    CHECK(max_count <= 3000);
    CHECK(same);
    CHECK(differ);
    for (const int n : per_class) CHECK(n == 20);
    CHECK(generate_shd(7, 1).samples.size() == 7);
    CHECK(generate_shd(0, 1).samples.empty());
    CHECK_THROWS_AS(generate_shd(-1, 1), elm::InputError);
}

// What is checked: (1) every class has the same mean total spike count (within 3 %), so counts
// say nothing; (2) the four classes of a family (labels 4f..4f+3) have near-identical channel
// histograms (cosine > 0.97), and a nearest-class-mean classifier on the channel histogram alone
// stays near family level (< 40 %; 25 % = knowing the family); (3) the same classifier given the
// histogram in 10 time bins is far above chance (> 80 %), i.e. the class is in the temporal order.
TEST_CASE("SHD generator classes differ in temporal structure, not in channel counts", "[io]") {
    const SpikeDataset train = generate_shd(400, 21);
    const SpikeDataset test = generate_shd(200, 22);
    std::vector<double> total(20, 0.0), n(20, 0.0);
    std::vector<std::vector<double>> hist(20, std::vector<double>(35, 0.0));
    double all = 0.0;
    for (const auto& s : train.samples) {
        total[s.label] += static_cast<double>(s.times_ms.size());
        n[s.label] += 1.0;
        all += static_cast<double>(s.times_ms.size());
        for (const auto u : s.units) hist[s.label][u / 20] += 1.0;
    }
    all /= static_cast<double>(train.samples.size());
    for (int c = 0; c < 20; ++c) CHECK(std::fabs(total[c] / n[c] - all) < 0.03 * all);
    for (int c = 0; c < 20; ++c) {
        const int first = (c / 4) * 4;
        double dot = 0.0, na = 0.0, nb = 0.0;
        for (int k = 0; k < 35; ++k) {
            dot += hist[c][k] * hist[first][k];
            na += hist[c][k] * hist[c][k];
            nb += hist[first][k] * hist[first][k];
        }
        CHECK(dot / std::sqrt(na * nb) > 0.97);
    }
    const double channel_only = nearest_mean_accuracy(train, test, 1);
    const double with_time = nearest_mean_accuracy(train, test, 10);
    INFO("channel histogram: " << channel_only << ", 10 time bins: " << with_time);
    CHECK(channel_only < 0.40);
    CHECK(with_time > 0.80);
}
