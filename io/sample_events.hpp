// A task's samples as event lists (spec elm-network.md section 1): an SHD sample cut to its window
// (events at or after the window's end dropped), or an SHD-Adding pair — the first sample cut to the
// window, the second cut likewise and shifted by it. Times in float64 ms, straight from the file; the
// event schedule (models/event_schedule.hpp) turns them into updates, for learning on the event
// schedule and for event-mode simulation alike.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_dataset.hpp"

namespace elm::io {

struct SampleEvents {
    std::vector<double> times_ms;
    std::vector<std::int32_t> channels;
    void clear() {
        times_ms.clear();
        channels.clear();
    }
};

// Appends the events of `s` before window_ms, shifted by shift_ms.
void append_window_events(const SpikeSample& s, double window_ms, double shift_ms, SampleEvents& out);
// Replaces `out` with the events of SHD sample `index`, or of an SHD-Adding pair.
void sample_events(const SpikeDataset& ds, std::int64_t index, double window_ms, SampleEvents& out);
void pair_events(const SpikeDataset& ds, const AddingPair& pair, double window_ms, SampleEvents& out);

}  // namespace elm::io
