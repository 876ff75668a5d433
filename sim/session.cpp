#include "elmsim/sim/session.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/time_grid.hpp"
#include "elmsim/sim/stream_batcher.hpp"

namespace elm::sim {

namespace {
models::EventGrid session_grid(const models::ModelConfig& cfg, const SessionOptions& o) {
    if (!o.event_mode) return models::make_event_grid(cfg.dt_ms, cfg.dt_ms);
    return models::make_event_grid(o.resolution_ms, o.max_dt_ms > 0.0 ? o.max_dt_ms : cfg.dt_ms);
}
}  // namespace

Session::Session(const models::ModelConfig& cfg, const SessionOptions& options, UpdateObserver observer)
    : cfg_(cfg), options_(options), observer_(std::move(observer)), grid_(session_grid(cfg_, options)), builder_(grid_) {
    if (options.max_updates_per_call < 0 || options.max_pending_events < 0)
        throw ParameterError("limits", "expected limits >= 0 (0: none)");
    if (!(options.max_time_ms > 0.0) || !std::isfinite(options.max_time_ms))
        throw ParameterError("max_time_ms", fmt::format("expected a finite time > 0, found {}", options.max_time_ms));
    models::check_grid_horizon(grid_, options.max_time_ms);
    if (options.score != models::LossMode::next_byte)
        scorer_ = std::make_unique<SampleScorer>(options.score, options.score_last_k, cfg_.n_out);
    queue_.start.assign(1, 0);
}

Session::Session(Backend& backend, const SessionOptions& options, UpdateObserver observer)
    : Session(backend.config(), options, std::move(observer)) {
    sim_ = std::make_unique<Simulator>(backend);
}

Session::Session(StreamBatcher& batcher, const SessionOptions& options, UpdateObserver observer)
    : Session(batcher.config(), options, std::move(observer)) {
    batched_ = std::make_unique<Batched>(batcher);
}

Session::~Session() = default;

void Session::reset() {
    if (sim_) sim_->reset();
    if (batched_) batched_->reset();
    clear_queue();
    builder_ = models::EventScheduleBuilder(grid_);
    if (scorer_) scorer_->reset();
    pending_t_.clear();
    pending_c_.clear();
    head_ = 0;
    time_ms_ = 0.0;
    bytes_ = 0;
}

void Session::clear_queue() {
    queue_head_ = 0;
    queue_.time_ms.clear();
    queue_.dt_ms.clear();
    queue_.start.assign(1, 0);
    queue_.channel.clear();
    queue_.count.clear();
}

std::int64_t Session::updates() const { return sim_ ? sim_->updates() : batched_->updates; }

const float* Session::logits() const { return sim_ ? sim_->logits() : batched_->logits.data(); }

UpdateView Session::view() const { return sim_ ? sim_->view() : batched_->view(); }

int Session::prediction() const {
    if (scorer_ && updates() > 0) return scorer_->prediction();
    return argmax(logits(), cfg_.n_out);
}

void Session::observe(const UpdateView& v) {
    if (scorer_) scorer_->push(v.logits);
    if (observer_) observer_(v);
}

void Session::pop_queued(std::int64_t n) {
    queue_head_ += n;
    if (queue_head_ >= queue_.updates()) clear_queue();
}

std::int64_t Session::run_queued(std::int64_t max_updates) {
    if (!sim_) throw std::logic_error("Session::run_queued: a batched session's updates are run by its batcher");
    const std::int64_t n = std::min(max_updates, queued_updates());
    for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t u = queue_head_ + j, k = queue_.start[u];
        sim_->step(queue_.time_ms[u], queue_.dt_ms[u], queue_.channel.data() + k, queue_.count.data() + k,
                   static_cast<std::size_t>(queue_.start[u + 1] - k));
        observe(sim_->view());
    }
    pop_queued(n);
    return n;
}

void Session::execute(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts, std::size_t n) {
    if (sim_ && !options_.deferred) {
        sim_->step(time_ms, dt_ms, channels, counts, n);
        observe(sim_->view());
        return;
    }
    queue_.time_ms.push_back(time_ms);
    queue_.dt_ms.push_back(dt_ms);
    queue_.channel.insert(queue_.channel.end(), channels, channels + n);
    queue_.count.insert(queue_.count.end(), counts, counts + n);
    queue_.start.push_back(static_cast<std::int64_t>(queue_.channel.size()));
}

void Session::run(const models::EventSchedule& s) {
    for (std::int64_t u = 0; u < s.updates(); ++u) {
        const std::int64_t k = s.start[u];
        execute(s.time_ms[u], s.dt_ms[u], s.channel.data() + k, s.count.data() + k,
                static_cast<std::size_t>(s.start[u + 1] - k));
    }
}

void Session::push_events(std::span<const double> times_ms, std::span<const std::int32_t> channels) {
    take_events(times_ms, channels, true);
}

void Session::take_events(std::span<const double> times_ms, std::span<const std::int32_t> channels, bool capped) {
    if (times_ms.size() != channels.size())
        throw InputError(fmt::format("session: {} event times but {} channels", times_ms.size(), channels.size()));
    const int C = cfg_.C_e > 0 ? 256 : cfg_.C;
    double previous = pending_t_.size() > head_ ? pending_t_.back() : time_ms_;
    for (std::size_t k = 0; k < times_ms.size(); ++k) {
        const double t = times_ms[k];
        if (!std::isfinite(t))
            throw InputError(fmt::format("session: event {} at {} ms: expected a finite time", k, t));
        if (t < previous)
            throw InputError(fmt::format("session: event {} at {} ms: expected a time >= {} ms (events come in time "
                                         "order, not before the session's time)",
                                         k, t, previous));
        if (channels[k] < 0 || channels[k] >= C)
            throw InputError(fmt::format("session: event {} on channel {}: the model reads channels 0..{}", k,
                                         channels[k], C - 1));
        if (t > options_.max_time_ms)
            throw InputError(fmt::format("session: event {} at {} ms: after the latest time this session accepts, {} ms",
                                         k, t, options_.max_time_ms));
        if (builder_.cell_of(t) < builder_.last_cell())  // cannot happen at or after time_ms() (settle_time)
            throw InputError(fmt::format("session: event {} at {} ms lies in a cell already delivered", k, t));
        previous = t;
    }
    const auto waiting = static_cast<std::int64_t>(times_ms.size()) + pending_events();
    if (capped && options_.max_pending_events > 0 && waiting > options_.max_pending_events)
        throw InputError(fmt::format("session: {} events would wait for their time, at most {} may (advance time to "
                                     "deliver those already sent)",
                                     waiting, options_.max_pending_events));
    if (head_ > 0) {  // drop what was delivered: the buffers hold only the waiting events (capped)
        pending_t_.erase(pending_t_.begin(), pending_t_.begin() + static_cast<std::ptrdiff_t>(head_));
        pending_c_.erase(pending_c_.begin(), pending_c_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
    pending_t_.insert(pending_t_.end(), times_ms.begin(), times_ms.end());
    pending_c_.insert(pending_c_.end(), channels.begin(), channels.end());
}

void Session::push_bytes(std::span<const std::uint8_t> bytes) {
    if (cfg_.C != 256)
        throw InputError(fmt::format("session: bytes pushed to a model of C = {} spike channels", cfg_.C));
    const double dt = cfg_.dt_ms;
    if (!options_.event_mode) {
        // One update per byte, at once, in the next bin (what simulate and generate do in clock mode:
        // byte k of a stream that started at 0 ends its update at (k + 1) dt).
        if (pending_events() > 0)
            throw InputError("session: bytes pushed while events wait for their bin; advance time first");
        if (bytes.empty()) return;
        check_time("push bytes to", static_cast<double>(builder_.last_cell() + static_cast<std::int64_t>(bytes.size())) * dt);
        check_work("push bytes to", static_cast<double>(builder_.last_cell() + static_cast<std::int64_t>(bytes.size())) * dt,
                   static_cast<std::int64_t>(bytes.size()));
        const float one = 1.0f;
        for (const std::uint8_t byte : bytes) {
            const std::int32_t ch = byte;
            const std::int64_t cell = builder_.last_cell() + 1;
            execute(static_cast<double>(cell) * dt, dt, &ch, &one, 1);
            builder_.skip_to(cell);
            ++bytes_;
        }
        settle_time(static_cast<double>(builder_.last_cell()) * dt);
        return;
    }
    if (static_cast<double>(bytes_) * dt < time_ms_)
        throw InputError(fmt::format("session: the byte stream is at {} ms, but time was advanced to {} ms; bytes "
                                     "are timed by their position in the stream (one per dt)",
                                     static_cast<double>(bytes_) * dt, time_ms_));
    std::vector<double> times(bytes.size());
    std::vector<std::int32_t> channels(bytes.size());
    for (std::size_t j = 0; j < bytes.size(); ++j) {
        times[j] = static_cast<double>(bytes_ + static_cast<std::int64_t>(j)) * dt;
        channels[j] = bytes[j];
    }
    const double end_ms = static_cast<double>(bytes_ + static_cast<std::int64_t>(bytes.size())) * dt;
    check_time("push bytes to", end_ms);
    std::int64_t last = builder_.last_cell();
    check_work("push bytes to", end_ms, count_through(builder_.cell_of(end_ms), last, times));
    take_events(times, channels, false);  // delivered by this very call: not waiting
    bytes_ += static_cast<std::int64_t>(bytes.size());
    advance_unchecked(end_ms);
}

void Session::settle_time(double t_ms) {
    double t = std::max(time_ms_, t_ms);
    // k x width / width can floor to k - 1: step up to the first double the grid puts in the
    // previous update's end cell, so that an event at time_ms() is never in a cell already delivered.
    while (builder_.cell_of(t) < builder_.last_cell()) t = std::nextafter(t, std::numeric_limits<double>::infinity());
    time_ms_ = t;
}

void Session::check_time(const char* what, double t_ms) const {
    if (!std::isfinite(t_ms) || t_ms < time_ms_ || t_ms > options_.max_time_ms)
        throw InputError(fmt::format("session: {} {} ms: expected a time in [{}, {}] ms (the session's time, the "
                                     "latest it accepts)",
                                     what, t_ms, time_ms_, options_.max_time_ms));
}

void Session::check_work(const char* what, double t_ms, std::int64_t updates) const {
    if (options_.max_updates_per_call > 0 && updates > options_.max_updates_per_call)
        throw InputError(fmt::format("session: {} {} ms would run {} updates, more than the {} one call may run; "
                                     "nothing was done (go there in smaller steps)",
                                     what, t_ms, updates, options_.max_updates_per_call));
}

std::int64_t Session::count_through(std::int64_t cell, std::int64_t& last, std::span<const double> extra) const {
    const std::int64_t G = grid_.max_gap_cells;
    std::int64_t n = 0;
    // An event of cell q is delivered by an update at q + 1, after ticks G cells apart: as
    // EventScheduleBuilder::next_slice places them, ceil(gap / G) updates in all.
    const auto deliver = [&](double t) {
        const std::int64_t q = builder_.cell_of(t);
        if (q >= cell) return false;
        if (q + 1 != last) {
            n += (q + 1 - last + G - 1) / G;
            last = q + 1;
        }
        return true;
    };
    std::size_t k = head_;
    while (k < pending_t_.size() && deliver(pending_t_[k])) ++k;
    if (k == pending_t_.size())
        for (const double t : extra)
            if (!deliver(t)) break;
    if (cell > last) {  // EventScheduleBuilder::ticks_through
        const std::int64_t ticks = (cell - last) / G;
        n += ticks;
        last += ticks * G;
    }
    return n;
}

std::int64_t Session::updates_until(double t_ms, bool finish) const {
    check_time(finish ? "finish at" : "advance to", t_ms);
    const std::int64_t c = builder_.cell_of(t_ms);
    std::int64_t last = builder_.last_cell();
    std::int64_t n = count_through(c, last, {});
    if (!finish) return n;
    // finish(): the events of t's own cell before t, at that cell's end; then the sample's last update.
    std::size_t k = head_;
    while (k < pending_t_.size() && builder_.cell_of(pending_t_[k]) < c) ++k;
    const std::int64_t G = grid_.max_gap_cells;
    if (k < pending_t_.size() && pending_t_[k] < t_ms && c + 1 != last) {
        n += (c + 1 - last + G - 1) / G;
        last = c + 1;
    }
    const auto end_cell = static_cast<std::int64_t>(models::grid_ceil(t_ms / grid_.resolution_ms));
    if (last < end_cell) n += (end_cell - last + G - 1) / G;
    return n;
}

// Delivers the pending events of the cells that end at or before cell_of(t) (times before that cell).
void Session::deliver_before(double t_ms) {
    const std::int64_t c = builder_.cell_of(t_ms);
    std::size_t end = head_;
    while (end < pending_t_.size() && builder_.cell_of(pending_t_[end]) < c) ++end;
    if (end > head_) {
        builder_.next_slice(pending_t_.data() + head_, pending_c_.data() + head_, end - head_, false, sched_);
        head_ = end;
        run(sched_);
    }
}

void Session::advance_to(double t_ms) {
    check_work("advance to", t_ms, updates_until(t_ms, false));
    advance_unchecked(t_ms);
}

void Session::finish(double t_ms) {
    check_work("finish at", t_ms, updates_until(t_ms, true));
    finish_unchecked(t_ms);
}

void Session::advance_unchecked(double t_ms) {
    deliver_before(t_ms);
    builder_.ticks_through(builder_.cell_of(t_ms), sched_);
    run(sched_);
    time_ms_ = t_ms;
}

void Session::finish_unchecked(double t_ms) {
    advance_unchecked(t_ms);
    // The events of t's own cell that lie before t: delivered at that cell's end, the sample's end.
    std::size_t end = head_;
    while (end < pending_t_.size() && pending_t_[end] < t_ms) ++end;
    if (end > head_) {
        builder_.next_slice(pending_t_.data() + head_, pending_c_.data() + head_, end - head_, false, sched_);
        head_ = end;
        run(sched_);
    }
    const auto end_cell = static_cast<std::int64_t>(models::grid_ceil(t_ms / grid_.resolution_ms));
    // Events at or after t in the sample's last cell come too late for it: dropped, as simulate drops
    // events at or after a sample's duration.
    while (head_ < pending_t_.size() && builder_.cell_of(pending_t_[head_]) < end_cell) ++head_;
    builder_.end_at(end_cell, sched_);
    run(sched_);
    settle_time(static_cast<double>(builder_.last_cell()) * grid_.resolution_ms);
}

}  // namespace elm::sim
