// Spoken digits through a model cochlea (`gen-shd --kind speech`, io/speech_spikes.hpp): deterministic,
// the SHD layout round trip, the structure that makes the data realistic (dense, refractory channels,
// words of varying length whose spikes follow the voice's pitch), and bad options refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/speech_spikes.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "tests/cli_runner.hpp"

using namespace elm;

namespace {

// Strength of the population's periodicity at lags of 3-11 ms (voice pitch 90-330 Hz) against its
// mean: the autocorrelation of the spike count in 0.25 ms bins over the word, best lag.
double pitch_periodicity(const io::SpikeSample& s) {
    std::vector<double> bins(4000, 0.0);
    for (const double t : s.times_ms) bins[static_cast<std::size_t>(t / 0.25)] += 1.0;
    double mean = 0.0;
    for (const double b : bins) mean += b;
    mean /= static_cast<double>(bins.size());
    const auto corr = [&](std::size_t lag) {
        double c = 0.0;
        for (std::size_t i = 0; i + lag < bins.size(); ++i) c += (bins[i] - mean) * (bins[i + lag] - mean);
        return c / static_cast<double>(bins.size() - lag);
    };
    const double var = corr(0);
    double best = 0.0;
    for (std::size_t lag = 12; lag <= 44; ++lag) best = std::max(best, corr(lag) / var);
    return best;
}

}  // namespace

TEST_CASE("speech spikes: the same seed gives the same samples, another seed others", "[data]") {
    const auto a = io::generate_spoken_digits(40, 7), b = io::generate_spoken_digits(40, 7), c = io::generate_spoken_digits(40, 8);
    REQUIRE(a.samples.size() == 40);
    for (std::size_t i = 0; i < a.samples.size(); ++i) {
        CHECK(a.samples[i].times_ms == b.samples[i].times_ms);
        CHECK(a.samples[i].units == b.samples[i].units);
        CHECK(a.samples[i].label == b.samples[i].label);
    }
    bool differs = false;
    for (std::size_t i = 0; i < a.samples.size(); ++i) differs = differs || a.samples[i].times_ms != c.samples[i].times_ms;
    CHECK(differs);
}

TEST_CASE("speech spikes: the SHD layout, balanced classes, and a file that reads back equal", "[data]") {
    const auto ds = io::generate_spoken_digits(60, 3);
    CHECK(ds.num_channels == 700);
    CHECK(ds.num_classes == 20);
    CHECK(ds.keys == io::shd_class_names());
    std::map<int, int> per_class;
    for (const auto& s : ds.samples) {
        ++per_class[s.label];
        REQUIRE(s.times_ms.size() == s.units.size());
        CHECK(std::is_sorted(s.times_ms.begin(), s.times_ms.end()));
        CHECK(s.times_ms.front() >= 0.0);
        CHECK(s.times_ms.back() < 1000.0);
        CHECK(*std::max_element(s.units.begin(), s.units.end()) < 700);
    }
    CHECK(per_class.size() == 20);
    for (const auto& [label, n] : per_class) CHECK(n == 3);
    const auto dir = test::fresh_dir("speech_roundtrip");
    const std::string path = (dir / "speech.h5").string();
    io::write_spike_dataset(path, ds);
    const auto back = io::read_spike_dataset(path);
    REQUIRE(back.samples.size() == ds.samples.size());
    for (std::size_t i = 0; i < ds.samples.size(); ++i) {
        CHECK(back.samples[i].times_ms == ds.samples[i].times_ms);  // float16 seconds, rounded before they were kept
        CHECK(back.samples[i].units == ds.samples[i].units);
        CHECK(back.samples[i].label == ds.samples[i].label);
    }
}

TEST_CASE("speech spikes: dense, refractory, of varying length, and following the voice's pitch", "[data]") {
    const auto ds = io::generate_spoken_digits(100, 11);
    std::vector<double> counts, lengths;
    double periodicity = 0.0;
    for (const auto& s : ds.samples) {
        counts.push_back(static_cast<double>(s.times_ms.size()));
        // No channel fires twice within 1 ms.
        std::map<int, double> last;
        double min_gap = 1e9;
        for (std::size_t k = 0; k < s.times_ms.size(); ++k) {
            const auto it = last.find(s.units[k]);
            if (it != last.end()) min_gap = std::min(min_gap, s.times_ms[k] - it->second);
            last[s.units[k]] = s.times_ms[k];
        }
        CHECK(min_gap >= 1.0);
        // The word: from the first to the last 2 ms bin with at least 20 spikes (spontaneous firing
        // gives ~3 per bin).
        std::vector<int> bins(500, 0);
        for (const double t : s.times_ms) ++bins[static_cast<std::size_t>(t / 2.0)];
        int first = -1, last_bin = -1;
        for (int b = 0; b < 500; ++b)
            if (bins[static_cast<std::size_t>(b)] >= 20) {
                if (first < 0) first = b;
                last_bin = b;
            }
        REQUIRE(first >= 0);
        lengths.push_back(2.0 * (last_bin - first + 1));
        periodicity += pitch_periodicity(s) / static_cast<double>(ds.samples.size());
    }
    std::sort(counts.begin(), counts.end());
    std::sort(lengths.begin(), lengths.end());
    INFO("spikes per sample " << counts.front() << " .. " << counts.back() << "; words " << lengths.front() << " .. "
                              << lengths.back() << " ms; pitch periodicity " << periodicity);
    CHECK(counts[counts.size() / 2] >= 3000);   // dense, as the real set (~8k)
    CHECK(counts.back() <= 20000);
    CHECK(lengths.front() >= 100.0);
    CHECK(lengths.back() <= 960.0);
    CHECK(lengths.back() - lengths.front() >= 250.0);  // words of varying length
    CHECK(periodicity >= 0.2);  // the population fires with the glottal pulses
}

TEST_CASE("speech spikes: bad options and a bad --kind are refused in one line", "[data]") {
    CHECK_THROWS_AS(io::generate_spoken_digits(-1, 1), ParameterError);
    io::SpeechSpikeOptions o;
    o.density = 0.0;
    CHECK_THROWS_AS(io::generate_spoken_digits(4, 1, o), InputError);
    o = {};
    o.num_speakers = 0;
    CHECK_THROWS_AS(io::generate_spoken_digits(4, 1, o), InputError);
    const auto dir = test::fresh_dir("speech_cli");
    auto r = test::run_elmsim(fmt::format("gen-shd --kind voices --out {}/x.h5 --samples 4", dir.string()));
    CHECK(r.code == 2);
    CHECK(r.output == "elmsim: error: --kind: expected patterns or speech, got 'voices'\n");
    r = test::run_elmsim(fmt::format("gen-shd --kind speech --out {}/x.h5 --samples 40 --seed 2", dir.string()));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const auto back = io::read_spike_dataset((dir / "x.h5").string());
    const auto direct = io::generate_spoken_digits(40, 2);
    REQUIRE(back.samples.size() == 40);
    CHECK(back.samples[7].times_ms == direct.samples[7].times_ms);
}
