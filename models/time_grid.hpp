// The one rounding rule of every time grid in elmsim: clock bins (spec elm-network.md section 1),
// event-mode resolution cells (section 5) and the byte-file splits all divide one double by another,
// and a ratio that should be an integer (1000 / 2, 1.0 / 0.1, 0.9 x 1e8) comes out a few ulps off.
// A ratio within 1e-9 (relative) of an integer counts as that integer, far below any real fraction
// of a step; only then is it floored or ceiled.
//
// An event at time s lies in cell floor(s / width) of a grid of that width — the plain floor of the
// spec's binning rule, shared by clock binning and the event schedule so that both put every event
// in the same cell.
#pragma once

#include <cmath>
#include <cstdint>

namespace elm::models {

// floor(q) and ceil(q), except that q within 1e-9 x max(1, q) of an integer is that integer.
double grid_floor(double q);
double grid_ceil(double q);

// T = ceil(duration_ms / dt_ms) steps under the rule above (1000 / 2 = 500, 1.0 / 0.1 = 10, not 11).
// Throws InputError unless both are finite and positive.
std::int64_t num_steps(double duration_ms, double dt_ms);

// The cell of an event at time_ms on a grid of cells width_ms wide: floor(time_ms / width_ms).
inline std::int64_t grid_cell(double time_ms, double width_ms) {
    return static_cast<std::int64_t>(std::floor(time_ms / width_ms));
}

}  // namespace elm::models
