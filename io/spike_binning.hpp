// Clock-mode binning of spike events into the dense batch tensor (spec elm-network.md section 1):
// x_t[c] = number of events of channel c in bin t, where an event at time s (float64 ms) falls in
// bin t = floor(s / dt); a sample lasts duration_ms, so T = models::num_steps(duration_ms, dt) =
// ceil(duration_ms / dt) steps, and events at or after duration_ms are dropped. Both roundings are
// the time-grid rule of models/time_grid.hpp, which the event schedule uses too.
#pragma once

#include <cstdint>

#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/time_grid.hpp"

namespace elm::io {

// Adds the event counts of `sample` into x laid out [T][B][C]: event -> x[((t + step_offset) * B
// + b) * C + c]. Only bins t < num_steps(duration_ms, dt_ms) are written, and they must fit:
// step_offset + num_steps <= T, 0 <= b < B. A channel >= C is an InputError.
void bin_sample(const SpikeSample& sample, double dt_ms, double duration_ms, std::int64_t step_offset, float* x,
                std::int64_t T, std::int64_t B, std::int64_t b, int C);

}  // namespace elm::io
