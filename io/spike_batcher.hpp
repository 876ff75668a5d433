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

// One row of a batch: an SHD sample (b < 0) or an SHD-Adding pair (a, b), and its target.
struct BatchItem {
    std::int64_t a = 0, b = -1;
    int label = 0;
};

class SpikeBatcher {
public:
    // `ds` must outlive the batcher. The time base is cfg.train.time (its grid when "event").
    SpikeBatcher(const SpikeDataset& ds, const ExperimentConfig& cfg);
    // The same with an explicit time base: clock (no grid) or event on `grid`.
    SpikeBatcher(const SpikeDataset& ds, const ExperimentConfig& cfg, std::optional<models::EventGrid> grid);

    // Replaces `batch` with the items, item k in row row_of(k); targets are the items' labels.
    void assemble(const std::vector<BatchItem>& items, models::Batch& batch);

    bool event() const { return grid_.has_value(); }
    // Of the last assemble(): the row of item k, and (event time base) item k's schedule.
    int row_of(std::size_t k) const { return event() ? rows_.row_of[k] : static_cast<int>(k); }
    int first_step(int row) const { return event() ? rows_.first_step[row] : 0; }
    const models::EventSchedule& schedule(std::size_t k) const { return schedules_[k]; }

private:
    const SpikeDataset& ds_;
    double dt_, window_, duration_;
    int T_;
    std::optional<models::EventGrid> grid_;
    SampleEvents events_;
    std::vector<models::EventSchedule> schedules_;
    std::vector<const models::EventSchedule*> pointers_;
    models::EventBatchRows rows_;
};

}  // namespace elm::io
