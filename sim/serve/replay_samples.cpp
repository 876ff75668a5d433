#include "elmsim/sim/serve/replay_samples.hpp"

#include <fmt/format.h>

#include "elmsim/io/sample_events.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/models/error.hpp"

namespace elm::serve {

namespace {

// [first, end) within `size`, as `simulate` checks it.
std::pair<std::int64_t, std::int64_t> range_in(std::optional<std::int64_t> first, std::optional<std::int64_t> end,
                                               std::int64_t size, const std::string& what) {
    const std::int64_t a = first.value_or(0), b = end.value_or(size);
    if (size <= 0) throw InputError(fmt::format("--samples: {} holds no samples", what));
    if (a < 0 || a >= size || b > size || a >= b)
        throw InputError(fmt::format("--samples: {} holds {} samples (0..{}); the range {}:{} is not inside it", what,
                                     size, size - 1, a, b));
    return {a, b};
}

}  // namespace

std::vector<ReplaySample> replay_samples(const io::SpikeDataset& ds, const std::string& path, const ServerModel& m,
                                         std::optional<std::int64_t> first, std::optional<std::int64_t> end) {
    if (ds.num_channels != m.C)
        throw InputError(fmt::format("{}: {} input channels, the served model reads C = {}", path, ds.num_channels, m.C));
    std::vector<ReplaySample> out;
    io::SampleEvents ev;
    const auto add = [&](std::int64_t index, int label) {
        ReplaySample s;
        s.index = index;
        s.label = label;
        s.duration_ms = m.sample_ms;
        s.t_ms = ev.times_ms;
        s.channels = ev.channels;
        out.push_back(std::move(s));
    };
    if (m.adding_pairs > 0) {  // the server's evaluation pairs, as `simulate` plays them
        const auto [a, b] = range_in(first, end, m.adding_pairs,
                                     fmt::format("the model's evaluation set ({} SHD-Adding pairs)", m.adding_pairs));
        if (ds.samples.empty()) throw InputError(fmt::format("{}: the dataset holds no samples", path));
        const auto pairs = io::evaluation_pairs(ds, b, m.pair_seed);
        for (std::int64_t i = a; i < b; ++i) {
            io::pair_events(ds, pairs[static_cast<std::size_t>(i)], m.window_ms, ev);
            add(i, pairs[static_cast<std::size_t>(i)].label);
        }
    } else {
        const auto [a, b] = range_in(first, end, static_cast<std::int64_t>(ds.samples.size()), path);
        for (std::int64_t i = a; i < b; ++i) {
            io::sample_events(ds, i, m.window_ms, ev);
            add(i, ds.samples[static_cast<std::size_t>(i)].label);
        }
    }
    return out;
}

}  // namespace elm::serve
