#include "elmsim/sim/session.hpp"

#include <algorithm>
#include <cmath>

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

void Session::execute(double time_ms, double dt_ms, const std::int32_t* channels, const float* counts, std::size_t n) {
    if (sim_) {
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
    if (times_ms.size() != channels.size())
        throw InputError(fmt::format("session: {} event times but {} channels", times_ms.size(), channels.size()));
    const int C = cfg_.C_e > 0 ? 256 : cfg_.C;
    double previous = pending_t_.size() > head_ ? pending_t_.back() : time_ms_;
    for (std::size_t k = 0; k < times_ms.size(); ++k) {
        const double t = times_ms[k];
        if (!std::isfinite(t) || t < previous)
            throw InputError(fmt::format("session: event {} at {} ms: expected a time >= {} ms (events come in time "
                                         "order, not before the session's time)",
                                         k, t, previous));
        if (channels[k] < 0 || channels[k] >= C)
            throw InputError(fmt::format("session: event {} on channel {}: the model reads channels 0..{}", k,
                                         channels[k], C - 1));
        previous = t;
    }
    if (head_ == pending_t_.size()) {  // everything delivered: reuse the buffers from the start
        pending_t_.clear();
        pending_c_.clear();
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
        const float one = 1.0f;
        for (const std::uint8_t byte : bytes) {
            const std::int32_t ch = byte;
            const std::int64_t cell = builder_.last_cell() + 1;
            execute(static_cast<double>(cell) * dt, dt, &ch, &one, 1);
            builder_.skip_to(cell);
            ++bytes_;
        }
        time_ms_ = std::max(time_ms_, static_cast<double>(builder_.last_cell()) * dt);
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
    push_events(times, channels);
    bytes_ += static_cast<std::int64_t>(bytes.size());
    advance_to(static_cast<double>(bytes_) * dt);
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
    if (!std::isfinite(t_ms) || t_ms < time_ms_)
        throw InputError(fmt::format("session: advance to {} ms: expected a time >= the session's {} ms", t_ms, time_ms_));
    deliver_before(t_ms);
    builder_.ticks_through(builder_.cell_of(t_ms), sched_);
    run(sched_);
    time_ms_ = t_ms;
}

void Session::finish(double t_ms) {
    advance_to(t_ms);
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
    time_ms_ = std::max(time_ms_, static_cast<double>(builder_.last_cell()) * grid_.resolution_ms);
}

}  // namespace elm::sim
