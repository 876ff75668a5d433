// StreamBatcher: the updates of many live sessions run together, as the rows of one backend Stepper
// — the micro-batching of an inference server (`elmsim serve`). Each batched Session (sim/session.hpp)
// plans its updates and queues them; run() takes the sessions that have updates queued, orders them
// longest queue first, writes their states into rows [0, n) of a stepper, and advances all rows
// together update by update: at update u the sessions with more than u updates queued are a prefix of
// the rows (the rest hold, as the padding of a batch of event schedules does), each row with its own
// dt and input. Every session's outputs go to it after each of its updates, in its own order; then
// the states go back to the sessions.
//
// A row of a batch computes the floats of a stream of its own (the engine treats rows independently;
// tests/test_stream_batcher.cpp checks batched sessions against sessions run at once, bit for bit).
// Steppers come in power-of-two sizes up to max_rows, so one session alone runs on one row; more
// sessions than max_rows run as several batches.
//
// run() is not thread-safe; the sessions it runs must not be touched by anyone else meanwhile (the
// server's batch thread runs a session only while its connection waits for the reply).
#pragma once

#include <cstdint>
#include <climits>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/model_input.hpp"
#include "elmsim/sim/network_state.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/simulator.hpp"

namespace elm::sim {

struct BatcherStats {
    std::int64_t runs = 0;      // run() calls that had work
    std::int64_t advances = 0;  // stepper updates (one per update index of a batch)
    std::int64_t rows = 0;      // session updates run (the sum of each advance's rows)
};

class StreamBatcher {
public:
    // The backend must outlive the batcher and its sessions. max_rows >= 1.
    StreamBatcher(Backend& backend, int max_rows = 64);

    const models::ModelConfig& config() const { return backend_.config(); }
    int max_rows() const { return max_rows_; }
    // Runs the queued updates of `sessions` (batched sessions of this batcher, each at most once): at
    // most max_updates of each (the rest stay queued, for a later run: a server's fairness slices).
    void run(std::span<Session* const> sessions, std::int64_t max_updates = INT64_MAX);
    const BatcherStats& stats() const { return stats_; }
    // The logits of the zero state: a session's before its first update.
    const std::vector<float>& zero_logits() const { return zero_logits_; }

private:
    Stepper& stepper_for(int rows);
    void run_chunk(std::span<Session* const> chunk, std::int64_t max_updates);

    Backend& backend_;
    int max_rows_;
    ModelInput input_;
    std::map<int, std::unique_ptr<Stepper>> steppers_;  // by rows (powers of two, and max_rows)
    std::vector<float> zero_logits_;
    std::vector<Session*> order_;
    NetworkState<float> rows_;  // the chunk's states, rows in order_
    std::vector<float> x_;      // [C_model][stepper rows], zero between updates
    std::vector<double> dt_;
    BatcherStats stats_;
};

// What a batched session keeps between batches: its state (one row) and its last update's outputs.
struct Session::Batched {
    explicit Batched(StreamBatcher& b);
    void reset();
    UpdateView view() const;

    StreamBatcher& batcher;
    NetworkState<float> state;
    std::vector<float> logits, y, v, m, b;  // v, m, b only with SessionOptions::view_state
    std::int64_t updates = 0;
    double time_ms = 0.0, dt_ms = 0.0, inputs = 0.0;
};

}  // namespace elm::sim
