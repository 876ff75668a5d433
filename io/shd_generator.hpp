// Synthetic SHD-format data (`elmsim gen-shd`; spec files-and-cli.md "Spike datasets"): spoken-
// digit-like spike patterns over 700 channels, 20 balanced classes (0-9 "English", 10-19
// "German"), durations 0.5-0.95 s inside the 1 s window.
//
// Each class is an ordered sequence of three "formant" segments: a band of channels whose centre
// sweeps up or down across the segment. Classes come in five families of four; the four classes
// of a family use the same three bands, differing only in the ORDER of the segments or the sweep
// DIRECTIONS, and a family shares one base duration. So a class cannot be told from channel
// counts, total spike count or any single time slice: a network has to integrate over time.
// Per-sample variation: speaker (a channel shift of a few channels per speaker), time warp
// (+-15 %), segment-length and spike-time jitter, Poisson background noise. About 1,900 spikes
// per sample (real SHD: ~8k). Deterministic for a seed (elm::Rng).
#pragma once

#include <cstdint>

#include "elmsim/io/spike_dataset.hpp"

namespace elm::io {

struct ShdGeneratorOptions {
    int num_speakers = 12;              // as in SHD
    double spikes_per_segment = 550.0;  // expected formant spikes per segment (3 segments)
    double noise_rate_hz = 200.0;       // background spikes per second, uniform over channels
    double band_width = 14.0;           // channel spread (s.d.) of a formant band
    double sweep_span = 60.0;           // channels the band centre travels over one segment
    double max_speaker_shift = 8.0;     // channels, per speaker
    double time_warp = 0.15;            // duration scaled by U(1 - warp, 1 + warp)
    double jitter_ms = 2.0;             // s.d. of the spike-time jitter
};

// `samples` >= 0 samples; labels balanced (counts differ by at most one) and shuffled.
SpikeDataset generate_shd(std::int64_t samples, std::uint64_t seed, const ShdGeneratorOptions& options = {});

}  // namespace elm::io
