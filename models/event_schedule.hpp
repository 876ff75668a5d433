// Event-mode update schedule (spec elm-network.md section 5): when the engine updates, with which dt,
// and which input impulses each update delivers. The Simulator (sim/simulator.hpp) runs it.
//
// Definition adopted here. Time is cut into resolution cells of `resolution_ms`; an event at time s
// (float64 ms) belongs to cell q = floor(s / resolution_ms) and is delivered at the END of its cell,
// time (q + 1) resolution_ms, as an impulse (its count) into the branch traces: it is the x_t of that
// update. Events of one cell merge (counts add up per channel). Updates happen
//   - at every cell end that has events,
//   - at extra ticks so that no gap between consecutive updates (starting from time 0) exceeds
//     max_dt_ms: ticks lie on cell ends too, G = floor(max_dt_ms / resolution_ms) cells apart, so a
//     silent gap of L cells costs ceil(L / G) updates (the last one being the next event's or the end),
//   - at the sample's end K resolution_ms, K = ceil(duration_ms / resolution_ms) (the time-grid rule
//     of models/time_grid.hpp; = duration_ms when the resolution divides it), so the final readout
//     lies where clock mode's does.
// Every update carries its own dt = (cells since the previous update) x resolution_ms, computed from
// integer cell counts so that equal gaps give bit-identical dt (and share cached decays).
// Events at or after duration_ms are dropped, as clock mode drops them.
//
// Consequence (tests/test_event_mode.cpp): resolution_ms = max_dt_ms = dt gives G = 1, an update at
// every bin end (t + 1) dt with dt = 1 x dt, the same cells as clock binning floor(s / dt) — exactly
// clock mode, same floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace elm::models {

// Updates of one sample. Update u ends at time_ms[u] after dt_ms[u]; its input impulses are entries
// start[u] .. start[u + 1] of (channel, count), channels ascending within an update.
struct EventSchedule {
    std::vector<double> time_ms;
    std::vector<double> dt_ms;        // = gap_cells x resolution_ms
    std::vector<std::int64_t> gap_cells;  // cells since the previous update
    std::vector<std::int64_t> start;  // [updates + 1] (CSR offsets)
    std::vector<std::int32_t> channel;
    std::vector<float> count;

    std::int64_t updates() const { return static_cast<std::int64_t>(time_ms.size()); }
    std::int64_t impulses(std::int64_t u) const { return start[u + 1] - start[u]; }
};

// The cell grid of one event-mode run: validated resolution and the largest gap in cells.
struct EventGrid {
    double resolution_ms = 0.0;
    std::int64_t max_gap_cells = 1;  // G = floor(max_dt_ms / resolution_ms) (>= 1)
};

// Throws ParameterError "resolution_ms" / "max_dt_ms" unless 0 < resolution_ms <= max_dt_ms,
// both finite. A ratio within 1e-9 (relative) of an integer counts as that integer (2 / 0.1 = 20).
EventGrid make_event_grid(double resolution_ms, double max_dt_ms);

// The one bound on how finely a grid may cut time, for samples (their duration) and open-ended
// streams (the latest time they accept) alike: at most 9e15 cells up to horizon_ms, so that cell
// indices and tick arithmetic stay exact in int64 and double. ParameterError "resolution_ms"
// otherwise (1e-300 ms would overflow the cell index and lose events silently).
void check_grid_horizon(const EventGrid& grid, double horizon_ms);

// The schedule of one sample of length duration_ms (> 0, finite) whose events are (times_ms[k],
// channels[k]), in any order. Channels must be >= 0 (the simulator checks the upper bound against
// the model). Throws InputError for a bad grid, duration, negative channel or a NaN/negative time.
template <class Channel>
EventSchedule make_event_schedule(const std::vector<double>& times_ms, const std::vector<Channel>& channels,
                                  double duration_ms, double resolution_ms, double max_dt_ms);

// Incremental form, for inputs too long to hold as one schedule (a whole byte file) or that arrive
// as they happen (sim/session.hpp): events come in slices whose cells do not go back in time (every
// event of a slice lies in a cell >= every cell of the previous slices; cells shared across slices
// are not allowed, so cut slices between cells). Ticks depend only on the previous update and G, so
// any cut into slices, ticks_through and end_at gives the schedule of the whole sample.
class EventScheduleBuilder {
public:
    // The sample lasts duration_ms (> 0, finite; InputError otherwise): K = end_cell() cells.
    EventScheduleBuilder(const EventGrid& grid, double duration_ms);
    // An open-ended stream: no sample end (next_slice never gets `last`; end_at ends a piece of it).
    explicit EventScheduleBuilder(const EventGrid& grid);

    // Cell of time s: grid_cell(s, resolution_ms), the clock-mode binning rule.
    std::int64_t cell_of(double time_ms) const;
    std::int64_t end_cell() const { return end_cell_; }

    // Replaces `out` with the updates that deliver this slice's events (events at or after
    // duration_ms are dropped) and the ticks before them; with `last`, also the ticks and the final
    // update at the sample's end. Allocation-free once `out` has grown to the largest slice.
    // InputError for a NaN or negative time or a negative channel; std::invalid_argument when a
    // slice reaches back into a cell already delivered (a caller bug).
    void next_slice(const double* times_ms, const std::int32_t* channels, std::size_t n, bool last, EventSchedule& out);
    // Replaces `out` with the ticks (G cells apart after the previous update) at or before `cell`: what
    // is due by then when no event comes before it.
    void ticks_through(std::int64_t cell, EventSchedule& out);
    // Replaces `out` with the ticks before and an update at `cell` (none if the previous update ends
    // there): the end of a sample at cell end `cell`, as next_slice's `last` ends one at end_cell().
    void end_at(std::int64_t cell, EventSchedule& out);
    // The updates up to cell end `cell` (> last_cell()) were run without this builder (a clock-mode
    // byte stream: one update per cell); ticks continue from there.
    void skip_to(std::int64_t cell);
    // Cell end of the previous update (0 before the first).
    std::int64_t last_cell() const { return last_cell_; }

private:
    static void clear(EventSchedule& out);
    void push_update(std::int64_t cell, EventSchedule& out);
    void push_ticks_until(std::int64_t cell, EventSchedule& out);

    EventGrid grid_;
    double duration_ms_;
    std::int64_t end_cell_;
    std::int64_t last_cell_ = 0;       // cell end of the previous update (0 = time 0)
    std::vector<std::int64_t> order_;  // slice events sorted by (cell, channel)
    std::vector<std::int64_t> cells_;
};

}  // namespace elm::models
