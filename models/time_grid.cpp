#include "elmsim/models/time_grid.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "elmsim/models/error.hpp"

namespace elm::models {

namespace {
bool near_integer(double q, double r) { return std::fabs(q - r) <= 1e-9 * std::max(1.0, q); }
}  // namespace

double grid_floor(double q) {
    const double r = std::round(q);
    return near_integer(q, r) ? r : std::floor(q);
}

double grid_ceil(double q) {
    const double r = std::round(q);
    return near_integer(q, r) ? r : std::ceil(q);
}

std::int64_t num_steps(double duration_ms, double dt_ms) {
    if (!std::isfinite(duration_ms) || !std::isfinite(dt_ms) || duration_ms <= 0.0 || dt_ms <= 0.0)
        throw InputError("binning: expected a positive duration and dt, got duration_ms=" + std::to_string(duration_ms) +
                         ", dt_ms=" + std::to_string(dt_ms));
    return static_cast<std::int64_t>(grid_ceil(duration_ms / dt_ms));
}

}  // namespace elm::models
