// SHD generator (see shd_generator.hpp for the class structure and why it looks like this).
#include "elmsim/io/shd_generator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include "elmsim/io/generated_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"

namespace elm::io {
namespace {

constexpr int kChannels = 700;
constexpr int kSegments = 3;
constexpr double kWindowS = 1.0;  // every event stays inside the 1 s window

// Eight band centres spread over the cochlear axis, and five families of three bands.
constexpr std::array<double, 8> kBandCentre = {60, 142, 224, 306, 388, 470, 552, 634};
constexpr std::array<std::array<int, kSegments>, 5> kFamilyBands = {{{0, 3, 6}, {1, 4, 7}, {2, 5, 7}, {0, 2, 4}, {1, 3, 5}}};
// The four variants of a family: segment order and sweep directions (+1 up, -1 down). Variants 0
// and 3 have the same order and opposite sweeps; 0, 1 and 2 the same sweeps in different orders.
struct Variant {
    std::array<int, kSegments> order;
    std::array<int, kSegments> direction;
};
constexpr std::array<Variant, 4> kVariants = {{{{0, 1, 2}, {+1, -1, +1}},
                                              {{2, 1, 0}, {+1, -1, +1}},
                                              {{1, 2, 0}, {+1, -1, +1}},
                                              {{0, 1, 2}, {-1, +1, -1}}}};

struct Speaker {
    double shift = 0.0;
    SpeakerInfo info;
};

// Poisson count: exact (Knuth) for small means, normal approximation above (where it is close and
// much cheaper).
std::int64_t poisson(elm::Rng& rng, double mean) {
    if (mean <= 0.0) return 0;
    if (mean < 30.0) {
        const double limit = std::exp(-mean);
        std::int64_t k = 0;
        double p = rng.uniform();
        while (p > limit) {
            ++k;
            p *= rng.uniform();
        }
        return k;
    }
    return std::max<std::int64_t>(0, std::llround(mean + std::sqrt(mean) * rng.normal()));
}

SpikeSample make_sample(int label, int speaker_id, const Speaker& speaker, const ShdGeneratorOptions& o,
                        elm::Rng& rng) {
    const int family = label / 4;
    const Variant& variant = kVariants[label % 4];
    const double base_duration = 0.60 + 0.05 * family;  // s; shared by the family
    const double duration = base_duration * rng.uniform(1.0 - o.time_warp, 1.0 + o.time_warp);
    const double onset = rng.uniform(0.01, 0.04);
    // Segment lengths: equal thirds, each jittered by up to +-15 %, rescaled to the duration.
    std::array<double, kSegments> len{};
    double total = 0.0;
    for (auto& l : len) total += (l = rng.uniform(0.85, 1.15));
    const double sample_shift = speaker.shift + rng.uniform(-1.0, 1.0);

    std::vector<std::pair<double, std::uint16_t>> events;  // (time s, channel)
    double start = onset;
    for (int k = 0; k < kSegments; ++k) {
        const double seg = duration * len[k] / total;
        const double centre = kBandCentre[kFamilyBands[family][variant.order[k]]] + sample_shift;
        const double sweep = variant.direction[k] * o.sweep_span;
        const std::int64_t n = poisson(rng, o.spikes_per_segment);
        for (std::int64_t i = 0; i < n; ++i) {
            const double u = rng.uniform();
            const double t = start + u * seg + 1e-3 * o.jitter_ms * rng.normal();
            const double c = std::round(centre + sweep * (u - 0.5) + o.band_width * rng.normal());
            if (t < 0.0 || t >= kWindowS || c < 0.0 || c >= kChannels) continue;
            events.emplace_back(t, static_cast<std::uint16_t>(c));
        }
        start += seg;
    }
    const std::int64_t noise = poisson(rng, o.noise_rate_hz * kWindowS);
    for (std::int64_t i = 0; i < noise; ++i)
        events.emplace_back(rng.uniform(0.0, kWindowS), static_cast<std::uint16_t>(rng.below(kChannels)));

    // Round to the stored float16 seconds first, so the in-memory sample equals what the file
    // holds and the order is the stored order (ms = float16 * 1000 is exact in float64).
    for (auto& e : events) e.first = round_to_float16(e.first) * 1000.0;
    return sample_from_events(std::move(events), kWindowS * 1000.0, label, speaker_id);
}

}  // namespace

SpikeDataset generate_shd(std::int64_t samples, std::uint64_t seed, const ShdGeneratorOptions& o) {
    if (samples < 0) throw ParameterError("samples", "expected a number >= 0, got " + std::to_string(samples));
    if (o.num_speakers < 1 || o.num_speakers > 65536)
        throw InputError("gen-shd: expected 1..65536 speakers, got " + std::to_string(o.num_speakers));
    if (!(o.time_warp >= 0.0 && o.time_warp < 0.3) || !(o.spikes_per_segment >= 0.0) || !(o.noise_rate_hz >= 0.0))
        throw InputError("gen-shd: expected time_warp in [0, 0.3) and non-negative spike rates");
    elm::Rng rng(seed);
    std::vector<Speaker> speakers(static_cast<std::size_t>(o.num_speakers));
    for (std::size_t k = 0; k < speakers.size(); ++k) {
        speakers[k].shift = rng.uniform(-o.max_speaker_shift, o.max_speaker_shift);
        speakers[k].info.gender = (k % 2 == 0) ? "female" : "male";
        speakers[k].info.age = 20 + static_cast<int>(rng.below(41));
        speakers[k].info.body_height = std::round(rng.uniform(1.55, 1.95) * 100.0) / 100.0;
    }
    return generated_shd_dataset("<generated seed=" + std::to_string(seed) + ">", samples, speakers, rng, [&](int label, int speaker) {
        return make_sample(label, speaker, speakers[static_cast<std::size_t>(speaker)], o, rng);
    });
}

}  // namespace elm::io
