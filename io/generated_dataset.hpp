// What the SHD-layout generators (shd_generator, speech_spikes) share: the layout (700 channels, the
// 20 SHD classes and their names), balanced labels in shuffled order (Fisher-Yates), and one sample
// per label from a speaker drawn at random — in that order of random draws.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/rng.hpp"

namespace elm::io {

// A sample from its events (time ms, channel), times already rounded as the file stores them: sorted
// by time (then channel), events at or past `window_ms` dropped.
inline SpikeSample sample_from_events(std::vector<std::pair<double, std::uint16_t>> events, double window_ms, int label,
                                      int speaker) {
    std::sort(events.begin(), events.end());
    SpikeSample s;
    s.label = label;
    s.speaker = speaker;
    s.times_ms.reserve(events.size());
    s.units.reserve(events.size());
    for (const auto& [t, c] : events) {
        if (t >= window_ms) continue;  // rounding can reach the end of the window
        s.times_ms.push_back(t);
        s.units.push_back(c);
    }
    return s;
}

// `speakers[k].info` is speaker k's metadata; make(label, speaker id) makes one sample.
template <class Speaker, class MakeSample>
SpikeDataset generated_shd_dataset(std::string path, std::int64_t samples, const std::vector<Speaker>& speakers,
                                   elm::Rng& rng, MakeSample&& make) {
    constexpr int kClasses = 20;
    std::vector<int> labels(static_cast<std::size_t>(samples));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % kClasses);
    for (std::size_t i = labels.size(); i > 1; --i) std::swap(labels[i - 1], labels[rng.below(i)]);
    SpikeDataset ds;
    ds.path = std::move(path);
    ds.num_channels = 700;
    ds.num_classes = kClasses;
    ds.keys = shd_class_names();
    for (const auto& s : speakers) ds.speakers.push_back(s.info);
    ds.samples.reserve(labels.size());
    for (const int label : labels) {
        const int speaker = static_cast<int>(rng.below(speakers.size()));
        ds.samples.push_back(make(label, speaker));
    }
    return ds;
}

}  // namespace elm::io
