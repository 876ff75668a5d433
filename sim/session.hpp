// Session: one live stream through a trained network — events (spike times and channels) or bytes
// pushed as they happen, time advanced by the caller, the network's outputs read after every update
// (an observer) or at any time. The unit of a live server (`elmsim serve`) and of an embedding
// application; a sweep or a test can drive one too.
//
// Semantics (spec elm-network.md sections 1 and 5), the same as `simulate`:
//  - event mode: an event at time s is delivered, as an impulse, at the end of its resolution cell;
//    updates happen at cell ends with events and at ticks so that no gap exceeds max_dt. An update is
//    run once time has passed its cell end (advance_to), because until then more events of that cell
//    may arrive. Events must come in time order and not before the session's time.
//  - clock mode: the grid of the model's dt with an update at every bin end (resolution = max_dt =
//    dt), which is exactly clock binning: floor(s / dt) selects the bin.
//  - byte models: byte k of the stream is an event at time k dt. In clock mode each byte is one update
//    at once, in the next bin (time (k + 1) dt for a stream of bytes from time 0), as `simulate` and
//    `generate` feed bytes.
//  - finish(t) ends a sample of duration t as `simulate` ends one: the due updates, then a last update
//    at the end of t's cell. So a session fed a sample's events and finished at its duration makes
//    exactly simulate's updates, with the same floats (tests/test_session.cpp).
//
// A session runs its updates in one of three ways:
//  - at once, on its own one-stream Stepper (the first constructor);
//  - batched: a session made on a StreamBatcher (sim/stream_batcher.hpp) only plans its updates and
//    queues them; the batcher runs the queued updates of many sessions as rows of one stepper and
//    hands each session its outputs, in order. Between batches the session keeps its own state. The
//    floats are those of the first way (a row of a batch computes what a stream of its own does).
//    Until the batcher has run, updates(), logits(), prediction() and view() describe the updates
//    already run; time_ms() is the planned time.
//  - deferred (SessionOptions::deferred): on its own Stepper, but only when run_queued() says, a
//    slice at a time — what lets a server run a long request in pieces between other clients' turns.
//    Until then, as for a batched session, the outputs describe the updates already run.
// However it runs, a session can be bounded (SessionOptions' limits): a call that would run more
// updates than allowed, or leave more events waiting, is refused before anything changes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "elmsim/models/train_config.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/scoring.hpp"
#include "elmsim/sim/simulator.hpp"

namespace elm::sim {

struct SessionOptions {
    bool event_mode = false;
    double resolution_ms = 0.1;  // event mode: events closer than this merge
    double max_dt_ms = 0.0;      // event mode: longest gap between updates (0 = the model's dt)
    // How prediction() scores the sample so far (the model's loss mode; see sim/scoring.hpp).
    models::LossMode score = models::LossMode::last;
    int score_last_k = 1;
    // Batched sessions: whether view() and the observer see v, m and b too (traces), or only y and the
    // logits (what a live stream sends back), which saves their copy out of the batch every update.
    bool view_state = true;
    // Work limits, for sessions fed by someone untrusted (a server's clients). 0 = no limit.
    //  - max_updates_per_call: advance_to, finish and push_bytes refuse (InputError, nothing changed)
    //    a call that would run more updates than this; the count is exact and costs no schedule.
    //  - max_pending_events: push_events refuses events that would leave more than this many waiting.
    std::int64_t max_updates_per_call = 0;
    std::int64_t max_pending_events = 0;
    // The latest time the session accepts (events, advance, finish): with the resolution it bounds
    // the cell index (models::check_grid_horizon), so the constructor refuses a grid too fine for it.
    double max_time_ms = 1e12;
    // Sessions that run at once: queue the planned updates (as batched ones do) until run_queued(),
    // so that their owner can run a long request in slices (a server's fairness) instead of at once.
    bool deferred = false;
};

class StreamBatcher;

class Session {
public:
    // The backend must outlive the session; `observer` (may be empty) sees every update.
    Session(Backend& backend, const SessionOptions& options, UpdateObserver observer = {});
    // Batched (see the header comment): the batcher must outlive the session, and runs its updates
    // (and calls the observer) when asked to run the session.
    Session(StreamBatcher& batcher, const SessionOptions& options, UpdateObserver observer = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Input events at times_ms[k] (>= time_ms(), ascending) on raw channels[k]. InputError otherwise,
    // or for a channel the model does not read; nothing is taken from a rejected call.
    void push_events(std::span<const double> times_ms, std::span<const std::int32_t> channels);
    // Byte models: the next bytes of the stream (see the header comment).
    void push_bytes(std::span<const std::uint8_t> bytes);
    // Runs every update due at or before t_ms (>= time_ms()).
    void advance_to(double t_ms);
    // Ends a sample of duration t_ms (>= time_ms()): advance_to(t_ms), the events before t_ms, and a
    // final update at the end of t's cell; events of that cell at or after t_ms are dropped. Time then
    // stands at that cell end.
    void finish(double t_ms);
    // Zero state, time 0, nothing pending (keeps every buffer).
    void reset();

    double time_ms() const { return time_ms_; }
    std::int64_t updates() const;
    std::int64_t pending_events() const { return static_cast<std::int64_t>(pending_t_.size() - head_); }
    std::int64_t bytes_pushed() const { return bytes_; }
    const float* logits() const;
    // The class the sample so far predicts (next_byte: the most likely next byte).
    int prediction() const;
    UpdateView view() const;
    // Updates planned and not yet run: by the batcher (batched), by run_queued() (deferred), 0 else.
    std::int64_t queued_updates() const { return queue_.updates() - queue_head_; }
    // Deferred sessions (SessionOptions::deferred): runs the next at most max_updates queued updates
    // (and calls the observer after each); returns how many ran.
    std::int64_t run_queued(std::int64_t max_updates);
    // Forgets the queued updates not yet run (their request failed); state and time stay as they are.
    void drop_queued() { clear_queue(); }
    // How many updates advance_to(t_ms) (finish(t_ms) when `finish`) would run now: exact, without
    // building the schedule, in time proportional to the pending events it delivers.
    std::int64_t updates_until(double t_ms, bool finish) const;

private:
    friend class StreamBatcher;
    struct Batched;  // what a batched session keeps between batches (sim/stream_batcher.cpp)

    Session(const models::ModelConfig& cfg, const SessionOptions& options, UpdateObserver observer);
    void run(const models::EventSchedule& s);
    // One update: run at once, or queued for the batcher.
    void execute(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts, std::size_t n);
    void observe(const UpdateView& v);  // scorer and observer after each update
    void clear_queue();
    // Marks the first n queued updates as run (the queue is emptied once all have).
    void pop_queued(std::int64_t n);
    void deliver_before(double t_ms);
    // push_events, with or without the max_pending_events cap (push_bytes delivers its events at once).
    void take_events(std::span<const double> times_ms, std::span<const std::int32_t> channels, bool capped);
    // Time moves to at least t_ms, and to a time the grid puts in the previous update's end cell.
    void settle_time(double t_ms);
    // The unchecked bodies of advance_to and finish (push_bytes calls them after its own checks).
    void advance_unchecked(double t_ms);
    void finish_unchecked(double t_ms);
    // InputError unless t_ms is a finite time in [time_ms(), max_time_ms].
    void check_time(const char* what, double t_ms) const;
    // InputError when `updates` exceeds max_updates_per_call.
    void check_work(const char* what, double t_ms, std::int64_t updates) const;
    // The updates that delivering the pending events before cell `cell` and the ticks through it
    // would run, starting from *last (the previous update's cell end, advanced as they are counted),
    // plus those of `extra` times (ascending, after the pending ones).
    std::int64_t count_through(std::int64_t cell, std::int64_t& last, std::span<const double> extra) const;

    const models::ModelConfig cfg_;
    SessionOptions options_;
    UpdateObserver observer_;
    std::unique_ptr<Simulator> sim_;    // runs the updates at once; null when batched
    std::unique_ptr<Batched> batched_;  // null when run at once
    models::EventSchedule queue_;       // batched or deferred: planned updates, run from queue_head_
    std::int64_t queue_head_ = 0;
    models::EventGrid grid_;
    models::EventScheduleBuilder builder_;
    std::unique_ptr<SampleScorer> scorer_;  // null for next_byte
    std::vector<double> pending_t_;         // events not yet delivered, in time order
    std::vector<std::int32_t> pending_c_;
    std::size_t head_ = 0;                  // first pending event
    models::EventSchedule sched_;
    double time_ms_ = 0.0;
    std::int64_t bytes_ = 0;
};

}  // namespace elm::sim
