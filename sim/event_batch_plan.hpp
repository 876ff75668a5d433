// The plan of a learning-mode batch on the event schedule (models/batch.hpp, spec section 5), the
// part every backend needs before it computes a decay: the distinct update lengths, which of them
// each row uses at each step, and how many rows update per step — with the layout checks (padding
// first, updating rows a prefix, every row updating at the last step) as one set of errors.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/batch.hpp"

namespace elm::sim {

struct EventBatchPlan {
    std::vector<std::int32_t> gaps;     // distinct update lengths in cells of resolution_ms, ascending
    std::vector<std::int32_t> row_gap;  // [T][B] index into gaps of row b's update t; -1 for padding
    std::vector<int> active;            // [T] rows updating per step (a prefix)
};

// InputError for a batch that does not hold T x B update lengths and a resolution, a negative
// length, or a layout the engines cannot run.
EventBatchPlan plan_event_batch(const models::Batch& batch);

}  // namespace elm::sim
