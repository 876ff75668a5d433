#include "elmsim/models/event_batch.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/time_grid.hpp"

namespace elm::models {

EventBatchRows fill_event_batch(std::span<const EventSchedule* const> schedules, int C, double resolution_ms,
                                Batch& batch, std::span<const std::int64_t> cells_per_gap) {
    const int B = static_cast<int>(schedules.size());
    if (B == 0) throw InputError("event batch: no samples");
    if (!cells_per_gap.empty() && (cells_per_gap.size() != schedules.size() ||
                                   std::any_of(cells_per_gap.begin(), cells_per_gap.end(),
                                               [](std::int64_t m) { return m < 1; })))
        throw std::invalid_argument("fill_event_batch: cells_per_gap needs one factor >= 1 per schedule");
    EventBatchRows rows;
    rows.sample_of.resize(static_cast<std::size_t>(B));
    std::iota(rows.sample_of.begin(), rows.sample_of.end(), 0);
    // Longest schedule first; ties in sample order (a fixed order, whatever the sort's stability).
    std::sort(rows.sample_of.begin(), rows.sample_of.end(), [&](int a, int b) {
        const auto ua = schedules[a]->updates(), ub = schedules[b]->updates();
        return ua != ub ? ua > ub : a < b;
    });
    const std::int64_t longest = schedules[rows.sample_of[0]]->updates();
    if (longest < 1 || schedules[rows.sample_of.back()]->updates() < 1)
        throw InputError("event batch: a sample has no updates");
    if (longest > std::numeric_limits<int>::max()) throw InputError("event batch: a sample has too many updates");
    const int T = static_cast<int>(longest);
    batch.T = T;
    batch.B = B;
    batch.C = C;
    batch.resolution_ms = resolution_ms;
    batch.x.assign(static_cast<std::size_t>(T) * B * C, 0.0f);
    batch.gap_cells.assign(static_cast<std::size_t>(T) * B, 0);
    batch.tokens.clear();
    batch.continues = false;
    rows.row_of.resize(static_cast<std::size_t>(B));
    rows.first_step.resize(static_cast<std::size_t>(B));
    for (int r = 0; r < B; ++r) {
        const EventSchedule& s = *schedules[rows.sample_of[r]];
        const std::int64_t scale = cells_per_gap.empty() ? 1 : cells_per_gap[static_cast<std::size_t>(rows.sample_of[r])];
        rows.row_of[rows.sample_of[r]] = r;
        const int first = T - static_cast<int>(s.updates());
        rows.first_step[r] = first;
        for (std::int64_t u = 0; u < s.updates(); ++u) {
            const std::size_t tb = static_cast<std::size_t>(first + u) * B + r;
            if (s.gap_cells[u] > std::numeric_limits<std::int32_t>::max() / scale)
                throw InputError(fmt::format("event batch: an update of {} cells is too long for a batch",
                                             s.gap_cells[u] * scale));
            batch.gap_cells[tb] = static_cast<std::int32_t>(s.gap_cells[u] * scale);
            for (std::int64_t e = s.start[u]; e < s.start[u + 1]; ++e) {
                if (s.channel[e] < 0 || s.channel[e] >= C)
                    throw InputError(fmt::format("event batch: an event on channel {}, the data has channels 0..{}",
                                                 s.channel[e], C - 1));
                batch.x[tb * C + s.channel[e]] += s.count[e];
            }
        }
    }
    return rows;
}

std::int64_t fewest_updates(const EventGrid& grid, double duration_ms) {
    const auto end = static_cast<std::int64_t>(grid_ceil(duration_ms / grid.resolution_ms));
    return (end + grid.max_gap_cells - 1) / grid.max_gap_cells;
}

}  // namespace elm::models
