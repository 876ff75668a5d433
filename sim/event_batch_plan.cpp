#include "elmsim/sim/event_batch_plan.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/event_batch.hpp"

namespace elm::sim {

EventBatchPlan plan_event_batch(const models::Batch& batch) {
    const int T = batch.T, B = batch.B;
    const std::size_t n = static_cast<std::size_t>(T) * B;
    if (batch.gap_cells.size() != n || !(batch.resolution_ms > 0.0))
        throw InputError(fmt::format("batch: an event schedule needs T x B = {} x {} update lengths and a resolution, "
                                     "found {} and {} ms", T, B, batch.gap_cells.size(), batch.resolution_ms));
    EventBatchPlan plan;
    for (const std::int32_t g : batch.gap_cells) {
        if (g < 0) throw InputError(fmt::format("batch: an update of {} cells", g));
        if (g > 0) plan.gaps.push_back(g);
    }
    std::sort(plan.gaps.begin(), plan.gaps.end());
    plan.gaps.erase(std::unique(plan.gaps.begin(), plan.gaps.end()), plan.gaps.end());
    plan.row_gap.assign(n, -1);
    plan.active.assign(static_cast<std::size_t>(T), 0);
    // What the engines rely on (models/batch.hpp): the updating rows of a step are a prefix, at least
    // one row updates at every step, a row that started updating keeps updating (padding comes first),
    // and every row updates at the last step.
    for (int t = 0; t < T; ++t) {
        const int active = models::updating_rows(batch, t);
        const std::int32_t* row = batch.gap_cells.data() + static_cast<std::size_t>(t) * B;
        for (int b = active; b < B; ++b)
            if (row[b] != 0)
                throw InputError(fmt::format("batch: at step {} row {} updates after row {} held: the updating rows "
                                             "must come first", t, b, active));
        if (active == 0) throw InputError(fmt::format("batch: no row updates at step {}", t));
        if (t > 0 && active < plan.active[t - 1])
            throw InputError(fmt::format("batch: row {} stops updating at step {} (padding must come first)", active, t));
        if (t == T - 1 && active < B)
            throw InputError(fmt::format("batch: row {} does not update at the last step (padding must come first)",
                                         active));
        plan.active[t] = active;
        std::int32_t* slots = plan.row_gap.data() + static_cast<std::size_t>(t) * B;
        for (int b = 0; b < active; ++b)
            slots[b] = static_cast<std::int32_t>(std::lower_bound(plan.gaps.begin(), plan.gaps.end(), row[b]) -
                                                 plan.gaps.begin());
    }
    return plan;
}

}  // namespace elm::sim
