#include "elmsim/io/spike_batcher.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_binning.hpp"
#include "elmsim/models/time_grid.hpp"

namespace elm::io {

SpikeBatcher::SpikeBatcher(const SpikeDataset& ds, const ExperimentConfig& cfg) : SpikeBatcher(ds, cfg, std::nullopt) {
    use_grids(training_grids(cfg));
}

SpikeBatcher::SpikeBatcher(const SpikeDataset& ds, const ExperimentConfig& cfg, std::optional<models::EventGrid> grid)
    : ds_(ds), dt_(cfg.model.dt_ms), window_(cfg.task.duration_ms), duration_(sample_duration_ms(cfg.task)),
      T_(static_cast<int>((cfg.task.kind == TaskKind::shd_adding ? 2 : 1) * models::num_steps(window_, dt_))) {
    if (grid) use_grids({*grid});
}

void SpikeBatcher::use_grids(std::vector<models::EventGrid> grids) {
    grids_ = std::move(grids);
    cells_per_gap_.clear();
    if (grids_.empty()) return;
    finest_ms_ = grids_[0].resolution_ms;
    for (const auto& g : grids_) finest_ms_ = std::min(finest_ms_, g.resolution_ms);
    // training_grids checked that each resolution is an exact whole multiple of the finest.
    for (const auto& g : grids_) cells_per_gap_.push_back(std::llround(g.resolution_ms / finest_ms_));
}

void SpikeBatcher::assemble(const std::vector<BatchItem>& items, models::Batch& b) {
    const int B = static_cast<int>(items.size()), C = ds_.num_channels;
    if (grids_.empty()) {
        b.T = T_;
        b.B = B;
        b.C = C;
        b.x.assign(static_cast<std::size_t>(T_) * B * C, 0.0f);
        b.tokens.clear();
        b.gap_cells.clear();
        b.resolution_ms = 0.0;
        b.targets.assign(static_cast<std::size_t>(B), 0);
        b.continues = false;
        for (int r = 0; r < B; ++r) {
            const BatchItem& it = items[r];
            if (it.b >= 0)
                bin_adding_pair(ds_, AddingPair{it.a, it.b, it.label}, dt_, window_, b.x.data(), T_, B, r, C);
            else
                bin_sample(ds_.samples[it.a], dt_, window_, 0, b.x.data(), T_, B, r, C);
            b.targets[r] = it.label;
        }
        return;
    }
    schedules_.resize(items.size());
    scales_.resize(items.size());
    for (std::size_t k = 0; k < items.size(); ++k) {
        const BatchItem& it = items[k];
        if (it.b >= 0)
            pair_events(ds_, AddingPair{it.a, it.b, it.label}, window_, events_);
        else
            sample_events(ds_, it.a, window_, events_);
        if (it.grid < 0 || static_cast<std::size_t>(it.grid) >= grids_.size())
            throw std::invalid_argument("SpikeBatcher::assemble: an item's grid is out of range");
        models::EventScheduleBuilder builder(grids_[static_cast<std::size_t>(it.grid)], duration_);
        builder.next_slice(events_.times_ms.data(), events_.channels.data(), events_.times_ms.size(), true,
                           schedules_[k]);
        scales_[k] = cells_per_gap_[static_cast<std::size_t>(it.grid)];
    }
    pointers_.clear();
    for (const auto& sc : schedules_) pointers_.push_back(&sc);
    rows_ = models::fill_event_batch(pointers_, C, finest_ms_, b, scales_);
    b.targets.assign(static_cast<std::size_t>(B), 0);
    for (int k = 0; k < B; ++k) b.targets[rows_.row_of[k]] = items[k].label;
}

}  // namespace elm::io
