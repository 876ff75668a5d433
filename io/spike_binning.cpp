// Clock-mode binning (spec elm-network.md section 1; see spike_binning.hpp).
#include "elmsim/io/spike_binning.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "elmsim/models/error.hpp"

namespace elm::io {

void bin_sample(const SpikeSample& sample, double dt_ms, double duration_ms, std::int64_t step_offset, float* x,
                std::int64_t T, std::int64_t B, std::int64_t b, int C) {
    const std::int64_t steps = models::num_steps(duration_ms, dt_ms);
    if (step_offset < 0 || step_offset + steps > T || b < 0 || b >= B)
        throw std::invalid_argument("bin_sample: steps [" + std::to_string(step_offset) + ", " +
                                    std::to_string(step_offset + steps) + ") or batch index " + std::to_string(b) +
                                    " outside the tensor [T=" + std::to_string(T) + "][B=" + std::to_string(B) + "]");
    const std::size_t n = sample.times_ms.size();
    for (std::size_t j = 0; j < n; ++j) {
        const double s = sample.times_ms[j];
        if (!(s < duration_ms)) continue;  // at or after the end of the window (NaN never reaches here)
        // Exactly as the spec: floor(s / dt) in float64. The guard below only matters when
        // s / dt rounds up to the step count for s just below duration_ms.
        const std::int64_t t = models::grid_cell(s, dt_ms);
        if (t < 0 || t >= steps) continue;
        const int c = sample.units[j];
        if (c >= C)
            throw InputError("spike sample: expected channels 0.." + std::to_string(C - 1) + ", found " +
                             std::to_string(c) + " at event " + std::to_string(j));
        x[((t + step_offset) * B + b) * C + c] += 1.0f;
    }
}

}  // namespace elm::io
