// Batches on the event schedule (spec elm-network.md section 5, "Learning on the event schedule"):
// every sample's own updates — its merged events and its ticks — become one row of a Batch, padded at
// the start to the longest row, rows ordered longest first (the layout of models/batch.hpp), so that
// learning mode runs exactly the updates `simulate --mode event` runs for each sample.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/models/event_schedule.hpp"

namespace elm::models {

struct EventBatchRows {
    std::vector<int> row_of;      // sample k of the input -> its row in the batch
    std::vector<int> sample_of;   // row -> sample k
    std::vector<int> first_step;  // per row: the step of its first update (T - its updates)
};

// Fills batch.T, B, C, x [T][B][C] (each update's impulse counts on the raw channels), gap_cells and
// resolution_ms from one schedule per sample; targets are the caller's to write, in row order. Leaves
// tokens empty. Schedules are on the grid of resolution_ms, or (rows on different time bases in one
// batch) schedule k on a grid cells_per_gap[k] times coarser: its gaps count cells_per_gap[k] cells of
// resolution_ms each, so its dt = (gap x cells_per_gap[k]) x resolution_ms. InputError for no
// schedules, an empty schedule, a channel >= C or a gap too long for a batch (> 2^31 - 1 cells);
// std::invalid_argument for a cells_per_gap of the wrong size or with an entry < 1.
EventBatchRows fill_event_batch(std::span<const EventSchedule* const> schedules, int C, double resolution_ms,
                                Batch& batch, std::span<const std::int64_t> cells_per_gap = {});

// The rows that update at step t of an event-schedule batch: the leading rows with gap_cells > 0
// (they form a prefix, see models/batch.hpp).
inline int updating_rows(const Batch& batch, int t) {
    const std::int32_t* g = batch.gap_cells.data() + static_cast<std::size_t>(t) * batch.B;
    int active = 0;
    while (active < batch.B && g[active] > 0) ++active;
    return active;
}

// The fewest updates a sample of duration_ms can have on a grid: its ticks alone (the final update at
// the sample's end included). Losses over the last K updates need every sample to have K.
std::int64_t fewest_updates(const EventGrid& grid, double duration_ms);

}  // namespace elm::models
