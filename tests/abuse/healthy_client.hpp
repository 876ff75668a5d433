// The healthy client of the abuse suite (tests/abuse/elm_abuse.cpp): what a well-behaved user of
// `elmsim serve` does while others attack it, and the measure of whether the attack hurt them.
//
// A pass is one fresh connection (so every pass also tests that the server still accepts): the hello
// (and "auth" when the server asks), a session streaming ["logits"], then samples 0..k-1 of the
// data file, each as messages of its events and an "advance" every kChunkMs of sample time, the last
// a "finish" at the sample's duration, then "reset". Every request's round trip (sent to its final
// reply line) is timed, and each sample's final logits and update count must equal, bit for bit, an
// in-process sim::Session fed the same events with the same advance/finish calls (the server prints
// floats with round-trip precision).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "elmsim/sim/serve/client.hpp"
#include "tests/abuse/line_client.hpp"

namespace elm::abuse {

constexpr double kChunkMs = 50.0;  // sample time per message of events / "advance"

// One message of a replayed sample: its events, then "advance" to end_ms (or "finish" there).
struct ReplayStep {
    std::vector<double> t_ms;
    std::vector<std::int32_t> channels;
    double end_ms = 0.0;
    bool finish = false;
};

struct Reference {
    std::vector<std::vector<ReplayStep>> samples;  // the messages of each sample
    std::vector<std::vector<float>> logits;        // each sample's final logits, in-process
    std::vector<std::int64_t> updates;             // and its update count
    double dt_ms = 0.0;                            // the model's clock bin
};

// Samples 0..count-1 of `data_path` as the served model replays them, and what an in-process
// session on `model_path` gives for each.
Reference make_reference(const std::string& model_path, const std::string& data_path, int count);

struct HealthyStats {
    std::vector<double> latency_ms;  // every request's round trip
    int samples = 0, exact = 0;      // samples checked, and equal to the reference
    int passes = 0;                  // passes completed
    std::string error;               // the first failure ("" when none)
    void merge(const HealthyStats& o);
    double quantile(double q) const;  // of latency_ms, NaN when empty
};

struct HealthyOptions {
    int port = 0;
    std::string token;           // sent when the hello asks for "auth"
    Clock::time_point deadline;  // the case's
    double reply_timeout_s = 5.0;
    double pass_timeout_s = 10.0;  // a pass that takes longer fails (idle, one takes well under 1 s)
};

// One pass (see the header comment); false, with stats.error set, when it could not complete.
bool healthy_pass(const Reference& ref, const HealthyOptions& o, HealthyStats& stats);

// Passes on a thread of their own until finish() is called and at least one pass is done (or one
// fails, or the deadline passes).
class HealthyRunner {
public:
    HealthyRunner(const Reference& ref, HealthyOptions o);
    ~HealthyRunner();
    HealthyRunner(const HealthyRunner&) = delete;
    HealthyRunner& operator=(const HealthyRunner&) = delete;
    int passes() const { return passes_; }
    bool done() const { return done_; }  // the thread has ended (finished, failed or out of time)
    HealthyStats finish();

private:
    std::atomic<bool> stop_{false}, done_{false};
    std::atomic<int> passes_{0};
    HealthyStats stats_;
    std::thread thread_;
};

}  // namespace elm::abuse
