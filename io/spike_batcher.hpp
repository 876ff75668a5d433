// SpikeBatcher: the chosen samples of a spike task as one Batch, on the run's time base — clock bins
// of dt (x [T][B][C], spec section 1) or each sample's own event schedule (spec section 5,
// models/event_batch.hpp: merged events and ticks, padded at the start, rows longest first). Training,
// evaluation and batched simulation all make their batches here, so the updates a sample gets do not
// depend on who runs it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/sample_events.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/batch.hpp"
#include "elmsim/models/event_batch.hpp"
#include "elmsim/models/event_schedule.hpp"

namespace elm::io {

// One row of a batch: an SHD sample (b < 0) or an SHD-Adding pair (a, b), its target, and (when the
// batcher has several event grids, time = "any") the grid its schedule is made on.
struct BatchItem {
    std::int64_t a = 0, b = -1;
    int label = 0;
    int grid = 0;
};

class SpikeBatcher {
public:
    // `ds` must outlive the batcher. The time base is cfg.train.time's: the clock, the one grid of
    // "event", or every grid of "any" (io::training_grids), chosen per item by BatchItem::grid.
    SpikeBatcher(const SpikeDataset& ds, const ExperimentConfig& cfg);
    // The same with an explicit time base: clock (no grid) or event on `grid`.
    SpikeBatcher(const SpikeDataset& ds, const ExperimentConfig& cfg, std::optional<models::EventGrid> grid);

    // Replaces `batch` with the items, item k in row row_of(k); targets are the items' labels. With
    // several grids, each row's schedule is made on its item's grid and its gaps are counted in cells
    // of the finest one (batch.resolution_ms), so every row's dt is the float its own grid gives.
    void assemble(const std::vector<BatchItem>& items, models::Batch& batch);

    bool event() const { return !grids_.empty(); }
    // The grids an item may choose from (empty on the clock).
    std::size_t grids() const { return grids_.size(); }
    // Of the last assemble(): the row of item k, and (event time base) item k's schedule, in cells of
    // its own grid.
    int row_of(std::size_t k) const { return event() ? rows_.row_of[k] : static_cast<int>(k); }
    int first_step(int row) const { return event() ? rows_.first_step[row] : 0; }
    const models::EventSchedule& schedule(std::size_t k) const { return schedules_[k]; }

private:
    // The event grids items choose from (none: the clock), and their gap scales.
    void use_grids(std::vector<models::EventGrid> grids);

    const SpikeDataset& ds_;
    double dt_, window_, duration_;
    int T_;
    std::vector<models::EventGrid> grids_;
    std::vector<std::int64_t> cells_per_gap_;  // per grid: its resolution / the finest resolution
    std::vector<std::int64_t> scales_;         // per item of the last assemble: its grid's cells_per_gap_
    double finest_ms_ = 0.0;
    SampleEvents events_;
    std::vector<models::EventSchedule> schedules_;
    std::vector<const models::EventSchedule*> pointers_;
    models::EventBatchRows rows_;
};

}  // namespace elm::io
