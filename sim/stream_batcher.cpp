#include "elmsim/sim/stream_batcher.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace elm::sim {

namespace {

// Row r of an n-row state block (w floats per row and neuron) to / from a one-row state.
// (LIF states have no b and m: nothing to copy.)
void gather_row(const std::vector<float>& one, std::vector<float>& rows, int n, int r, std::size_t w, int N) {
    if (one.empty()) return;
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i)
        std::copy_n(one.begin() + static_cast<std::ptrdiff_t>(i * w), w,
                    rows.begin() + static_cast<std::ptrdiff_t>((i * n + r) * w));
}
void scatter_row(const std::vector<float>& rows, std::vector<float>& one, int n, int r, std::size_t w, int N) {
    if (one.empty()) return;
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i)
        std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>((i * n + r) * w), w,
                    one.begin() + static_cast<std::ptrdiff_t>(i * w));
}
// Row r of a stepper view's [N][P][w] array into [N][w].
void view_row(const float* src, int P, int r, std::size_t w, int N, std::vector<float>& dst) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i)
        std::copy_n(src + (i * P + r) * w, w, dst.begin() + static_cast<std::ptrdiff_t>(i * w));
}

}  // namespace

Session::Batched::Batched(StreamBatcher& b) : batcher(b) { reset(); }

void Session::Batched::reset() {
    const auto& cfg = batcher.config();
    state.reset(cfg, 1);
    logits = batcher.zero_logits();
    y.assign(static_cast<std::size_t>(cfg.N), 0.0f);
    v.clear();
    m.clear();
    b.clear();
    updates = 0;
    time_ms = dt_ms = inputs = 0.0;
}

UpdateView Session::Batched::view() const {
    UpdateView u;
    u.index = updates - 1;
    u.time_ms = time_ms;
    u.dt_ms = dt_ms;
    u.inputs = inputs;
    u.y = y.data();
    u.v = v.empty() ? nullptr : v.data();
    u.m = m.empty() ? nullptr : m.data();
    u.b = b.empty() ? nullptr : b.data();
    u.logits = logits.data();
    return u;
}

StreamBatcher::StreamBatcher(Backend& backend, int max_rows)
    : backend_(backend), max_rows_(max_rows), input_(backend) {
    if (max_rows < 1 || max_rows > 65536)
        throw std::invalid_argument(fmt::format("StreamBatcher: {} rows, expected 1 to 65536", max_rows));
    const StepperView z = stepper_for(1).view();
    zero_logits_.assign(z.logits, z.logits + backend.config().n_out);
}

Stepper& StreamBatcher::stepper_for(int rows) {
    int P = 1;
    while (P < rows) P *= 2;
    P = std::min(P, max_rows_);
    auto& s = steppers_[P];
    if (!s) s = backend_.make_stepper(P);
    return *s;
}

void StreamBatcher::run(std::span<Session* const> sessions, std::int64_t max_updates) {
    if (max_updates < 1) throw std::invalid_argument("StreamBatcher::run: expected max_updates >= 1");
    order_.clear();
    for (Session* s : sessions) {
        if (!s->batched_ || &s->batched_->batcher != this)
            throw std::invalid_argument("StreamBatcher: a session of another batcher, or one that runs at once");
        if (s->queued_updates() > 0) order_.push_back(s);
    }
    if (order_.empty()) return;
    ++stats_.runs;
    const auto todo = [max_updates](const Session* s) { return std::min(s->queued_updates(), max_updates); };
    std::stable_sort(order_.begin(), order_.end(), [&](const Session* a, const Session* b) { return todo(a) > todo(b); });
    // Every queue is emptied when the batch fails, whatever happens: a failed batch must not run again.
    struct Drain {
        std::vector<Session*>& s;
        bool done = false;
        ~Drain() {
            if (!done)
                for (Session* x : s) x->clear_queue();
        }
    } drain{order_};
    for (std::size_t first = 0; first < order_.size(); first += static_cast<std::size_t>(max_rows_)) {
        const std::size_t n = std::min(order_.size() - first, static_cast<std::size_t>(max_rows_));
        run_chunk(std::span<Session* const>(order_.data() + first, n), max_updates);
    }
    drain.done = true;
}

void StreamBatcher::run_chunk(std::span<Session* const> chunk, std::int64_t max_updates) {
    const auto& cfg = backend_.config();
    const int n = static_cast<int>(chunk.size()), N = cfg.N;
    Stepper& st = stepper_for(n);
    const int P = st.batch();
    rows_.reset(cfg, n);
    for (int r = 0; r < n; ++r) {
        const NetworkState<float>& one = chunk[r]->batched_->state;
        gather_row(one.b, rows_.b, n, r, cfg.n_b, N);
        gather_row(one.m, rows_.m, n, r, cfg.d_m, N);
        gather_row(one.v, rows_.v, n, r, 1, N);
        gather_row(one.y, rows_.y, n, r, 1, N);
    }
    st.write_rows(rows_);
    const std::size_t width = static_cast<std::size_t>(input_.width());
    x_.assign(width * P, 0.0f);
    dt_.assign(static_cast<std::size_t>(P), 0.0);
    // Each session's queue from its head: update j of this run is queue entry head + j.
    const auto todo = [max_updates](const Session* s) { return std::min(s->queued_updates(), max_updates); };
    const std::int64_t longest = todo(chunk[0]);
    int active = n;
    for (std::int64_t j = 0; j < longest; ++j) {
        while (active > 0 && todo(chunk[active - 1]) <= j) --active;  // sorted: a prefix
        for (int r = 0; r < active; ++r) {
            const models::EventSchedule& q = chunk[r]->queue_;
            const std::int64_t u = chunk[r]->queue_head_ + j;
            const std::int64_t k = q.start[u];
            dt_[r] = q.dt_ms[u];
            input_.add(q.channel.data() + k, q.count.data() + k, static_cast<std::size_t>(q.start[u + 1] - k),
                       x_.data() + r, static_cast<std::size_t>(P));
        }
        st.advance_rows(dt_.data(), active, x_.data());
        for (int r = 0; r < active; ++r) {
            const models::EventSchedule& q = chunk[r]->queue_;
            const std::int64_t u = chunk[r]->queue_head_ + j;
            const std::int64_t k = q.start[u];
            input_.clear(q.channel.data() + k, static_cast<std::size_t>(q.start[u + 1] - k), x_.data() + r,
                         static_cast<std::size_t>(P));
        }
        ++stats_.advances;
        stats_.rows += active;
        const StepperView v = st.view();
        for (int r = 0; r < active; ++r) {
            Session& s = *chunk[r];
            Session::Batched& b = *s.batched_;
            const std::int64_t u = s.queue_head_ + j;
            view_row(v.logits, 1, r, static_cast<std::size_t>(cfg.n_out), 1, b.logits);
            view_row(v.y, P, r, 1, N, b.y);
            if (s.options_.view_state) {
                b.v.resize(static_cast<std::size_t>(N));
                view_row(v.v, P, r, 1, N, b.v);
                if (v.m) {
                    b.m.resize(static_cast<std::size_t>(N) * cfg.d_m);
                    b.b.resize(static_cast<std::size_t>(N) * cfg.n_b);
                    view_row(v.m, P, r, cfg.d_m, N, b.m);
                    view_row(v.b, P, r, cfg.n_b, N, b.b);
                }
            }
            ++b.updates;
            b.time_ms = s.queue_.time_ms[u];
            b.dt_ms = s.queue_.dt_ms[u];
            b.inputs = 0.0;
            for (std::int64_t k = s.queue_.start[u]; k < s.queue_.start[u + 1]; ++k) b.inputs += s.queue_.count[k];
            s.observe(b.view());
        }
    }
    st.read_rows(rows_);
    for (int r = 0; r < n; ++r) chunk[r]->pop_queued(todo(chunk[r]));
    for (int r = 0; r < n; ++r) {
        NetworkState<float>& one = chunk[r]->batched_->state;
        scatter_row(rows_.b, one.b, n, r, cfg.n_b, N);
        scatter_row(rows_.m, one.m, n, r, cfg.d_m, N);
        scatter_row(rows_.v, one.v, n, r, 1, N);
        scatter_row(rows_.y, one.y, n, r, 1, N);
    }
}

}  // namespace elm::sim
