// Spoken digits through a model cochlea (see speech_spikes.hpp for the model and its parameters).
#include "elmsim/io/speech_spikes.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "elmsim/io/generated_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"

namespace elm::io {
namespace {

constexpr int kChannels = 700;
constexpr int kClasses = 20;
constexpr double kWindowMs = 1000.0;
constexpr double kLowHz = 100.0, kHighHz = 8000.0;
constexpr double kPhaseLockHz = 3000.0;  // above it the nerve no longer follows the pulses
constexpr double kRefractoryMs = 1.0;
constexpr double kStretch = 1.35;  // isolated words are spoken slowly: phones longer than in running speech

double channel_of(double hz) {
    return static_cast<double>(kChannels - 1) * std::log(hz / kLowHz) / std::log(kHighHz / kLowHz);
}
double frequency_of(int c) { return kLowHz * std::pow(kHighHz / kLowHz, c / static_cast<double>(kChannels - 1)); }
double delay_ms(int c) { return 1.5 * (1.0 - c / static_cast<double>(kChannels - 1)); }

enum class Sound { vowel, nasal, fricative, voiced_fricative, plosive };

using Formants = std::array<double, 3>;

struct Phone {
    std::string_view name;
    Sound sound;
    Formants from, to;           // Hz at the phone's start and end (voiced sounds)
    double noise_lo, noise_hi;   // Hz: the noise band (fricatives, plosive bursts)
    double ms;                   // nominal duration
    double loudness;
};

// Formant frequencies of adult speech (Peterson & Barney style averages); consonants by their place.
constexpr std::array<Phone, 26> kPhones = {{
    {"a", Sound::vowel, {730, 1090, 2440}, {730, 1090, 2440}, 0, 0, 130, 1.0},
    {"e", Sound::vowel, {530, 1840, 2480}, {530, 1840, 2480}, 0, 0, 110, 0.95},
    {"i", Sound::vowel, {270, 2290, 3010}, {270, 2290, 3010}, 0, 0, 110, 0.9},
    {"o", Sound::vowel, {570, 840, 2410}, {570, 840, 2410}, 0, 0, 120, 1.0},
    {"u", Sound::vowel, {300, 870, 2240}, {300, 870, 2240}, 0, 0, 120, 0.9},
    {"y", Sound::vowel, {300, 1700, 2100}, {300, 1700, 2100}, 0, 0, 120, 0.9},
    {"ai", Sound::vowel, {730, 1090, 2440}, {270, 2290, 3010}, 0, 0, 180, 1.0},
    {"ei", Sound::vowel, {530, 1840, 2480}, {270, 2290, 3010}, 0, 0, 170, 0.95},
    {"ou", Sound::vowel, {570, 840, 2410}, {300, 870, 2240}, 0, 0, 170, 1.0},
    {"oy", Sound::vowel, {570, 840, 2410}, {280, 1900, 2600}, 0, 0, 180, 1.0},
    {"w", Sound::vowel, {300, 610, 2200}, {300, 610, 2200}, 0, 0, 60, 0.7},
    {"r", Sound::vowel, {420, 1300, 1600}, {420, 1300, 1600}, 0, 0, 60, 0.75},
    {"l", Sound::vowel, {360, 1300, 2700}, {360, 1300, 2700}, 0, 0, 60, 0.75},
    {"n", Sound::nasal, {250, 1200, 2500}, {250, 1200, 2500}, 0, 0, 70, 0.5},
    {"m", Sound::nasal, {250, 1000, 2200}, {250, 1000, 2200}, 0, 0, 70, 0.5},
    {"s", Sound::fricative, {}, {}, 4000, 8000, 110, 0.8},
    {"f", Sound::fricative, {}, {}, 1500, 7500, 100, 0.4},
    {"th", Sound::fricative, {}, {}, 1400, 7000, 90, 0.35},
    {"x", Sound::fricative, {}, {}, 1000, 3200, 100, 0.6},
    {"z", Sound::voiced_fricative, {250, 1500, 2500}, {250, 1500, 2500}, 4000, 8000, 90, 0.7},
    {"v", Sound::voiced_fricative, {250, 1200, 2300}, {250, 1200, 2300}, 1500, 6000, 70, 0.5},
    {"t", Sound::plosive, {}, {}, 3000, 7500, 60, 0.9},
    {"k", Sound::plosive, {}, {}, 1500, 3500, 70, 0.9},
    {"d", Sound::plosive, {}, {}, 2500, 6000, 50, 0.7},
    {"b", Sound::plosive, {}, {}, 400, 2000, 50, 0.7},
    {"p", Sound::plosive, {}, {}, 500, 2500, 60, 0.8},
}};

// The words of the 20 classes, in the order of shd_class_names().
const std::array<std::vector<std::string_view>, kClasses>& words() {
    static const std::array<std::vector<std::string_view>, kClasses> w = {{
        {"z", "i", "r", "ou"}, {"w", "a", "n"},      {"t", "u"},           {"th", "r", "i"},      {"f", "o", "r"},
        {"f", "ai", "v"},      {"s", "i", "k", "s"}, {"s", "e", "v", "e", "n"}, {"ei", "t"},      {"n", "ai", "n"},
        {"n", "u", "l"},       {"ai", "n", "s"},     {"t", "s", "v", "ai"}, {"d", "r", "ai"},      {"f", "i", "r"},
        {"f", "y", "n", "f"},  {"z", "e", "k", "s"}, {"z", "i", "b", "e", "n"}, {"a", "x", "t"},  {"n", "oy", "n"},
    }};
    return w;
}

const Phone& phone(std::string_view name) {
    for (const Phone& p : kPhones)
        if (p.name == name) return p;
    throw std::logic_error("speech generator: no phone " + std::string(name));
}

bool voiced(Sound s) { return s == Sound::vowel || s == Sound::nasal || s == Sound::voiced_fricative; }

struct Speaker {
    double tract = 1.0;     // formant scale (vocal-tract length)
    double f0 = 120.0;      // Hz
    double rate = 1.0;      // phone durations scale
    double loudness = 1.0;
    SpeakerInfo info;
};

// One phone placed in time, with the formants it glides from (the previous voiced phone's end).
struct Placed {
    const Phone* p;
    double start, end;  // ms
    Formants glide_from;
};

class SampleBuilder {
public:
    SampleBuilder(const Speaker& sp, const SpeechSpikeOptions& o, elm::Rng& rng) : sp_(sp), o_(o), rng_(rng) {}

    void spike(double t_ms, int c) {
        if (c < 0 || c >= kChannels || !(t_ms >= 0.0) || t_ms >= kWindowMs) return;
        events_.emplace_back(t_ms, static_cast<std::uint16_t>(c));
    }

    // Adaptation: a channel band fires up to 3x just after its sound starts.
    static double onset_gain(double t, double onset) { return 1.0 + 2.0 * std::exp(-(t - onset) / 8.0); }

    void voiced_phone(const Placed& ph, double amplitude, double f0_at_start, double word_end) {
        const Phone& p = *ph.p;
        double t = ph.start;
        while (t < ph.end) {
            const double u = (t - ph.start) / (ph.end - ph.start);
            // Falling pitch over the word (declination), a little wander.
            const double f0 = f0_at_start * (1.0 - 0.12 * (t / word_end)) * (1.0 + 0.02 * std::sin(t / 37.0));
            const double period = 1000.0 / f0;
            for (int j = 0; j < 3; ++j) {
                // Coarticulation: the first 30 % glides in from the previous sound; then from -> to.
                const double target = p.from[j] + (p.to[j] - p.from[j]) * u;
                const double f = u < 0.3 ? ph.glide_from[j] + (target - ph.glide_from[j]) * (u / 0.3) : target;
                const double centre = channel_of(f * sp_.tract);
                const double width = 9.0 + 7.0 * j;
                const double strength = amplitude * (j == 0 ? 1.0 : j == 1 ? 0.7 : 0.45) * onset_gain(t, ph.start);
                const int lo = std::max(0, static_cast<int>(centre - 3 * width)), hi = std::min(kChannels - 1, static_cast<int>(centre + 3 * width));
                for (int c = lo; c <= hi; ++c) {
                    const double d = (c - centre) / width;
                    const double prob = std::min(0.95, 0.9 * o_.density * strength * std::exp(-0.5 * d * d));
                    if (rng_.uniform() >= prob) continue;
                    const double when = frequency_of(c) < kPhaseLockHz ? t + delay_ms(c) + o_.jitter_ms * rng_.normal()
                                                                        : t + rng_.uniform() * period;
                    spike(when, c);
                }
            }
            t += period;
        }
    }

    void noise(double start, double end, double lo_hz, double hi_hz, double rate_hz, double onset) {
        const int lo = std::max(0, static_cast<int>(channel_of(lo_hz * sp_.tract)));
        const int hi = std::min(kChannels - 1, static_cast<int>(channel_of(hi_hz * sp_.tract)));
        for (int c = lo; c <= hi; ++c) {
            // Poisson process per channel, thinned by the onset gain (its peak, 3, bounds it).
            double t = start;
            for (;;) {
                t += -std::log(1.0 - rng_.uniform()) * 1000.0 / (3.0 * rate_hz);
                if (t >= end) break;
                if (rng_.uniform() * 3.0 < onset_gain(t, onset)) spike(t + delay_ms(c) + o_.jitter_ms * rng_.normal(), c);
            }
        }
    }

    SpikeSample finish(int label, int speaker_id) {
        // Spontaneous firing over the whole window.
        const double expected = o_.spontaneous_hz * kChannels * kWindowMs / 1000.0;
        const auto n = static_cast<std::int64_t>(std::llround(expected + std::sqrt(expected) * rng_.normal()));
        for (std::int64_t i = 0; i < n; ++i)
            spike(rng_.uniform(0.0, kWindowMs), static_cast<int>(rng_.below(kChannels)));
        // Stored as float16 seconds (the SHD layout), rounded first so the sample equals the file.
        for (auto& e : events_) e.first = round_to_float16(e.first / 1000.0) * 1000.0;
        // Refractoriness: per channel, a spike within 1 ms of the last kept one is dropped.
        std::sort(events_.begin(), events_.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second < b.second : a.first < b.first;
        });
        std::vector<std::pair<double, std::uint16_t>> kept;
        kept.reserve(events_.size());
        for (const auto& e : events_) {
            if (e.first >= kWindowMs) continue;
            if (!kept.empty() && kept.back().second == e.second && e.first - kept.back().first < kRefractoryMs) continue;
            kept.push_back(e);
        }
        return sample_from_events(std::move(kept), kWindowMs, label, speaker_id);
    }

private:
    const Speaker& sp_;
    const SpeechSpikeOptions& o_;
    elm::Rng& rng_;
    std::vector<std::pair<double, std::uint16_t>> events_;  // (ms, channel)
};

SpikeSample make_sample(int label, int speaker_id, const Speaker& sp, const SpeechSpikeOptions& o, elm::Rng& rng) {
    const auto& word = words()[static_cast<std::size_t>(label)];
    // Timing: every phone 0.8 - 1.2 x its nominal length at the speaker's rate, the word scaled down
    // when it would not fit in the window after its onset.
    const double onset = rng.uniform(20.0, 80.0);
    std::vector<double> len;
    double total = 0.0;
    for (const auto name : word) total += len.emplace_back(kStretch * phone(name).ms * sp.rate * rng.uniform(0.8, 1.2));
    const double fit = std::min(1.0, (kWindowMs - 60.0 - onset) / total);
    std::vector<Placed> placed;
    double t = onset;
    Formants previous = {500, 1500, 2500};  // a neutral tract before the word
    for (std::size_t k = 0; k < word.size(); ++k) {
        const Phone& p = phone(word[k]);
        placed.push_back(Placed{&p, t, t + len[k] * fit, previous});
        if (voiced(p.sound)) previous = p.to;
        t += len[k] * fit;
    }
    const double word_end = t;
    const double loud = sp.loudness * rng.uniform(0.85, 1.15);
    const double f0 = sp.f0 * rng.uniform(0.93, 1.07);
    SampleBuilder b(sp, o, rng);
    for (const Placed& ph : placed) {
        const Phone& p = *ph.p;
        const double amp = p.loudness * loud;
        switch (p.sound) {
            case Sound::vowel: b.voiced_phone(ph, amp, f0, word_end); break;
            case Sound::nasal: b.voiced_phone(ph, amp, f0, word_end); break;
            case Sound::voiced_fricative:
                b.voiced_phone(ph, 0.5 * amp, f0, word_end);
                b.noise(ph.start, ph.end, p.noise_lo, p.noise_hi, 60.0 * amp * o.density, ph.start);
                break;
            case Sound::fricative: b.noise(ph.start, ph.end, p.noise_lo, p.noise_hi, 90.0 * amp * o.density, ph.start); break;
            case Sound::plosive: {
                // Closure (silence) for 60 %, then a 3 ms burst over the band and a short aspiration.
                const double burst = ph.start + 0.6 * (ph.end - ph.start);
                b.noise(burst, burst + 3.0, p.noise_lo, p.noise_hi, 250.0 * amp * o.density, burst);
                b.noise(burst + 3.0, ph.end, p.noise_lo, p.noise_hi, 40.0 * amp * o.density, burst);
                break;
            }
        }
    }
    return b.finish(label, speaker_id);
}

}  // namespace

SpikeDataset generate_spoken_digits(std::int64_t samples, std::uint64_t seed, const SpeechSpikeOptions& o) {
    if (samples < 0) throw ParameterError("samples", "expected a number >= 0, got " + std::to_string(samples));
    if (o.num_speakers < 1 || o.num_speakers > 65536)
        throw InputError("gen-shd: expected 1..65536 speakers, got " + std::to_string(o.num_speakers));
    if (!(o.density > 0.0 && o.density <= 4.0) || !(o.jitter_ms >= 0.0 && o.jitter_ms <= 10.0) ||
        !(o.spontaneous_hz >= 0.0 && o.spontaneous_hz <= 100.0))
        throw InputError("gen-shd: expected density in (0, 4], jitter 0..10 ms and spontaneous rate 0..100 Hz");
    elm::Rng rng(seed);
    std::vector<Speaker> speakers(static_cast<std::size_t>(o.num_speakers));
    for (std::size_t k = 0; k < speakers.size(); ++k) {
        Speaker& s = speakers[k];
        const bool female = k % 2 == 0;
        s.tract = female ? rng.uniform(1.02, 1.15) : rng.uniform(0.85, 1.0);
        s.f0 = female ? rng.uniform(170.0, 240.0) : rng.uniform(95.0, 145.0);
        s.rate = rng.uniform(0.85, 1.2);
        s.loudness = rng.uniform(0.8, 1.2);
        s.info.gender = female ? "female" : "male";
        s.info.age = 20 + static_cast<int>(rng.below(41));
        s.info.body_height = std::round(rng.uniform(1.55, 1.95) * 100.0) / 100.0;
    }
    return generated_shd_dataset("<generated speech seed=" + std::to_string(seed) + ">", samples, speakers, rng, [&](int label, int speaker) {
        return make_sample(label, speaker, speakers[static_cast<std::size_t>(speaker)], o, rng);
    });
}

}  // namespace elm::io
