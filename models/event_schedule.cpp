// Event-mode update schedule (spec elm-network.md section 5; the definition is in event_schedule.hpp).
#include "elmsim/models/event_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/time_grid.hpp"

namespace elm::models {

namespace {

// Cell counts beyond this cannot be represented exactly in a double; no real run comes close.
constexpr double kMaxCells = 9.0e15;

}  // namespace

EventGrid make_event_grid(double resolution_ms, double max_dt_ms) {
    if (!std::isfinite(resolution_ms) || resolution_ms <= 0.0)
        throw ParameterError("resolution_ms", fmt::format("expected a finite number > 0, got {}", resolution_ms));
    if (!std::isfinite(max_dt_ms) || max_dt_ms <= 0.0)
        throw ParameterError("max_dt_ms", fmt::format("expected a finite number > 0, got {}", max_dt_ms));
    const double ratio = max_dt_ms / resolution_ms;
    const double g = grid_floor(ratio);
    if (g < 1.0)
        throw ParameterError("max_dt_ms", fmt::format("expected a value >= the resolution ({} ms), got {} ms",
                                     resolution_ms, max_dt_ms));
    EventGrid grid;
    grid.resolution_ms = resolution_ms;
    // A gap longer than any sample never needs ticks; capping keeps the integer arithmetic exact.
    grid.max_gap_cells = static_cast<std::int64_t>(std::min(g, kMaxCells));
    return grid;
}

void check_grid_horizon(const EventGrid& grid, double horizon_ms) {
    const double k = grid_ceil(horizon_ms / grid.resolution_ms);
    if (!(k <= kMaxCells))
        throw ParameterError("resolution_ms", fmt::format("{} ms cuts {} ms into more than {:.0e} cells",
                                                          grid.resolution_ms, horizon_ms, kMaxCells));
}

EventScheduleBuilder::EventScheduleBuilder(const EventGrid& grid, double duration_ms)
    : grid_(grid), duration_ms_(duration_ms) {
    if (!std::isfinite(duration_ms) || duration_ms <= 0.0)
        throw InputError(fmt::format("event schedule: expected a sample duration > 0 ms, got {}", duration_ms));
    check_grid_horizon(grid, duration_ms);
    end_cell_ = static_cast<std::int64_t>(grid_ceil(duration_ms / grid.resolution_ms));
}

EventScheduleBuilder::EventScheduleBuilder(const EventGrid& grid)
    : grid_(grid), duration_ms_(std::numeric_limits<double>::infinity()),
      end_cell_(static_cast<std::int64_t>(kMaxCells)) {}

std::int64_t EventScheduleBuilder::cell_of(double time_ms) const {
    return grid_cell(time_ms, grid_.resolution_ms);
}

void EventScheduleBuilder::push_update(std::int64_t cell, EventSchedule& out) {
    out.time_ms.push_back(static_cast<double>(cell) * grid_.resolution_ms);
    out.dt_ms.push_back(static_cast<double>(cell - last_cell_) * grid_.resolution_ms);
    out.gap_cells.push_back(cell - last_cell_);
    out.start.push_back(static_cast<std::int64_t>(out.channel.size()));
    last_cell_ = cell;
}

// Ticks G cells apart after the previous update while the gap to `cell` (an update to come) is
// still longer than G; the update at `cell` itself is pushed by the caller.
void EventScheduleBuilder::push_ticks_until(std::int64_t cell, EventSchedule& out) {
    const std::int64_t G = grid_.max_gap_cells;
    while (cell - last_cell_ > G) push_update(last_cell_ + G, out);
}

void EventScheduleBuilder::clear(EventSchedule& out) {
    out.time_ms.clear();
    out.dt_ms.clear();
    out.gap_cells.clear();
    out.start.clear();
    out.channel.clear();
    out.count.clear();
}

void EventScheduleBuilder::ticks_through(std::int64_t cell, EventSchedule& out) {
    clear(out);
    const std::int64_t G = grid_.max_gap_cells;
    while (last_cell_ + G <= cell) push_update(last_cell_ + G, out);
    out.start.push_back(static_cast<std::int64_t>(out.channel.size()));
}

void EventScheduleBuilder::skip_to(std::int64_t cell) {
    if (cell <= last_cell_)
        throw std::invalid_argument(fmt::format("EventScheduleBuilder::skip_to: cell {} is not after the previous "
                                                "update's {}", cell, last_cell_));
    last_cell_ = cell;
}

void EventScheduleBuilder::end_at(std::int64_t cell, EventSchedule& out) {
    clear(out);
    if (last_cell_ < cell) {
        push_ticks_until(cell, out);
        push_update(cell, out);
    }
    out.start.push_back(static_cast<std::int64_t>(out.channel.size()));
}

void EventScheduleBuilder::next_slice(const double* times_ms, const std::int32_t* channels, std::size_t n, bool last,
                                      EventSchedule& out) {
    if (last && !std::isfinite(duration_ms_))
        throw std::logic_error("EventScheduleBuilder::next_slice: an open-ended stream has no last slice (use end_at)");
    clear(out);
    // start[u] is the offset of update u's first impulse; the closing offset is appended at the end.
    const std::int64_t delivered = last_cell_;  // cells before this were delivered by earlier slices
    order_.clear();
    cells_.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        const double s = times_ms[k];
        if (std::isnan(s) || s < 0.0)
            throw InputError(fmt::format("event schedule: event {} has time {} ms, expected a number >= 0", k, s));
        if (channels[k] < 0)
            throw InputError(fmt::format("event schedule: event {} has channel {}, expected >= 0", k, channels[k]));
        if (!(s < duration_ms_)) continue;  // at or after the sample's end: dropped, as in clock mode
        const std::int64_t q = cell_of(s);
        if (q >= end_cell_) continue;
        if (q + 1 <= delivered)
            throw std::invalid_argument(
                fmt::format("event schedule: event {} lies in cell {}, already delivered (the "
                            "previous update ended cell {})",
                            k, q, last_cell_ - 1));
        cells_[k] = q;
        order_.push_back(static_cast<std::int64_t>(k));
    }
    // Cell, then channel, then input order: a deterministic order whatever the input order.
    std::sort(order_.begin(), order_.end(), [&](std::int64_t a, std::int64_t b) {
        if (cells_[a] != cells_[b]) return cells_[a] < cells_[b];
        if (channels[a] != channels[b]) return channels[a] < channels[b];
        return a < b;
    });
    for (std::size_t j = 0; j < order_.size(); ++j) {
        const std::int64_t k = order_[j];
        const std::int64_t deliver = cells_[k] + 1;  // the end of the event's cell
        if (deliver != last_cell_) {  // first event of its cell (deliver > last_cell_: sorted, checked above)
            push_ticks_until(deliver, out);
            push_update(deliver, out);
        }
        if (out.start.back() < static_cast<std::int64_t>(out.channel.size()) && out.channel.back() == channels[k]) {
            out.count.back() += 1.0f;  // same cell, same channel: the impulses merge
        } else {
            out.channel.push_back(channels[k]);
            out.count.push_back(1.0f);
        }
    }
    if (last && last_cell_ < end_cell_) {
        push_ticks_until(end_cell_, out);
        push_update(end_cell_, out);
    }
    out.start.push_back(static_cast<std::int64_t>(out.channel.size()));
}

template <class Channel>
EventSchedule make_event_schedule(const std::vector<double>& times_ms, const std::vector<Channel>& channels,
                                  double duration_ms, double resolution_ms, double max_dt_ms) {
    if (times_ms.size() != channels.size())
        throw std::invalid_argument(
            fmt::format("make_event_schedule: {} times but {} channels", times_ms.size(), channels.size()));
    const EventGrid grid = make_event_grid(resolution_ms, max_dt_ms);
    EventScheduleBuilder builder(grid, duration_ms);
    std::vector<std::int32_t> ch(channels.size());
    for (std::size_t k = 0; k < channels.size(); ++k) {
        if (static_cast<std::int64_t>(channels[k]) > std::numeric_limits<std::int32_t>::max())
            throw InputError(fmt::format("event schedule: event {} has channel {}, too large", k,
                                         static_cast<std::int64_t>(channels[k])));
        ch[k] = static_cast<std::int32_t>(channels[k]);
    }
    EventSchedule out;
    builder.next_slice(times_ms.data(), ch.data(), ch.size(), true, out);
    return out;
}

template EventSchedule make_event_schedule<std::uint16_t>(const std::vector<double>&, const std::vector<std::uint16_t>&,
                                                          double, double, double);
template EventSchedule make_event_schedule<std::int32_t>(const std::vector<double>&, const std::vector<std::int32_t>&,
                                                         double, double, double);

}  // namespace elm::models
