// Client: the other end of `elmsim serve` (docs/protocol.md) — `elmsim client` replays a dataset to a
// server as live streams and reports what came back: accuracy (spike samples) or bits per byte
// (a byte stream), the latency from each message of events to the last output it caused, events and
// updates per second. It is the end-to-end check (its results equal `simulate` on the same samples,
// tests/test_client.cpp) and the load generator of the serving benchmark.
//
// Work is spread over `connections` TCP connections with `sessions` sessions each (lanes); each
// connection runs on a thread of its own and sends its lanes' messages together, so the server sees
// that many concurrent streams. A lane plays its samples one after another, each in chunks of
// chunk_ms of sample time: the chunk's events, then "advance" to its end (the last: "finish" at the
// sample's duration), then "read" for the prediction; "reset" before the next sample. With
// `realtime`, a chunk is sent only once its end has passed on the wall clock since its sample began
// (the stream as a sensor would emit it); otherwise as fast as the server answers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/serve/protocol.hpp"

namespace elm::serve {

struct ClientOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 7070;
    std::string token;                      // sent first when the server asks for one
    int connections = 1, sessions = 1;      // lanes: sessions per connection
    std::optional<Mode> mode;               // default: the model's time base
    std::optional<double> resolution_ms, max_dt_ms;
    double chunk_ms = 50.0;                 // spike samples: sample time per message
    std::size_t chunk_bytes = 256;          // byte streams: bytes per message
    bool realtime = false;
    bool trace = false;                     // sessions ask for server-side traces ("trace": true)
    double timeout_s = 60.0;                // longest wait for a reply
};

// What the server's hello says about its model.
struct ServerModel {
    int N = 0, C = 0, n_out = 0;
    std::string task;
    bool bytes = false;
    bool event_trained = false;
    double dt_ms = 0.0, window_ms = 0.0, sample_ms = 0.0;
    std::int64_t adding_pairs = 0;
    std::uint64_t pair_seed = 0;
};

struct ReplaySample {
    std::int64_t index = 0;
    int label = 0;
    double duration_ms = 0.0;
    std::vector<double> t_ms;
    std::vector<std::int32_t> channels;
};

struct SampleOutcome {
    std::int64_t index = 0;
    int label = 0, prediction = 0;
    std::int64_t updates = 0;
    std::vector<float> logits;  // the last update's
};

struct ClientReport {
    std::string mode;                       // "clock" / "event", as the server opened the sessions
    double resolution_ms = 0.0, max_dt_ms = 0.0;
    std::vector<SampleOutcome> samples;     // spike samples, in index order
    bool bytes = false;
    sim::LossStats byte_stats;              // byte streams: next-byte predictions (bpc)
    std::int64_t bytes_sent = 0;
    std::int64_t events = 0, updates = 0, messages = 0;
    double wall_s = 0.0;
    std::vector<double> latency_ms;         // per message of events or bytes: send to its last output
    std::vector<std::string> traces;        // with ClientOptions::trace: the server's trace files

    double accuracy() const;
    // The q-quantile of latency_ms (0 when empty), q in [0, 1].
    double latency_quantile(double q) const;
};

// A server that cannot be reached, refuses a request or breaks the protocol: one line.
class ClientError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Client {
public:
    // Connects every connection, reads the hellos and authenticates (ClientError otherwise).
    explicit Client(const ClientOptions& options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const ServerModel& model() const;
    // Spike samples, spread over the lanes; every sample's outcome in index order.
    ClientReport run_samples(const std::vector<ReplaySample>& samples);
    // A byte model: the stream as one sample on the first lane; after each update that delivered
    // bytes its logits predict the next byte not yet sent, as `simulate` scores a byte file.
    ClientReport run_bytes(std::span<const std::uint8_t> bytes);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace elm::serve
