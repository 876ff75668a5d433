#include "elmsim/io/sample_events.hpp"

namespace elm::io {

void append_window_events(const SpikeSample& s, double window_ms, double shift_ms, SampleEvents& out) {
    for (std::size_t k = 0; k < s.times_ms.size(); ++k)
        if (s.times_ms[k] < window_ms) {
            out.times_ms.push_back(s.times_ms[k] + shift_ms);
            out.channels.push_back(s.units[k]);
        }
}

void sample_events(const SpikeDataset& ds, std::int64_t index, double window_ms, SampleEvents& out) {
    out.clear();
    append_window_events(ds.samples.at(static_cast<std::size_t>(index)), window_ms, 0.0, out);
}

void pair_events(const SpikeDataset& ds, const AddingPair& pair, double window_ms, SampleEvents& out) {
    out.clear();
    append_window_events(ds.samples.at(static_cast<std::size_t>(pair.a)), window_ms, 0.0, out);
    append_window_events(ds.samples.at(static_cast<std::size_t>(pair.b)), window_ms, window_ms, out);
}

}  // namespace elm::io
