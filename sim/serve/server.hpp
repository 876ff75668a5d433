// `elmsim serve`'s transport (Boost.Asio). It accepts TCP connections and gives each one a
// SessionTable (sim/serve/session_table.hpp), the hello line first and then request line in,
// reply lines out. Connections run on a fixed pool of threads, each on its own strand.
//
// No client can hurt the server or the other clients:
//  - bounded memory per connection: a connection's next line is read only once the replies to the
//    last one are written, and a request's updates (at most ProtocolLimits::max_updates_per_request,
//    refused whole beyond that) run in slices of `slice_updates`, each slice's replies written before
//    the next slice runs — a slow reader is backpressure (its work waits), never buffering; so a
//    connection holds one line, one slice's replies, one request's plan and its sessions' pending
//    events (capped);
//  - fairness: a slice is the most a request runs before every other session's request gets its turn
//    (micro-batching: the next batch takes every waiting session; without: the connection posts its
//    next slice behind the other connections' handlers);
//  - limits, with defaults: line length (a longer line ends that connection only), idle time,
//    connections, sessions per connection, open trace files;
//  - accept() failures (descriptors exhausted, ...) are logged and retried after a pause, never end
//    the listener.
// Micro-batching (on by default): the updates requests plan run on one batch thread, the pending
// updates of many sessions as rows of one backend stepper (sim/serve/batch_queue.hpp); each
// connection waits for its request's slice. Off, every session runs its slices on the connection's
// thread, on a stepper of its own.
// stop() (SIGINT/SIGTERM in `elmsim serve`) tells every client {"op":"shutdown"}, gives them
// `stop_grace_s` to take their last lines, then closes whatever is still open (traces are
// committed as their connections go); run() returns within about that grace, whatever clients do.
// The server binds 127.0.0.1 unless told otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/serve/protocol.hpp"
#include "elmsim/sim/serve/session_table.hpp"
#include "elmsim/sim/stream_batcher.hpp"

namespace elm::serve {

struct ServerOptions {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 7070;          // 0: any free port (port() says which)
    int threads = 2;                    // the connection threads
    int max_connections = 256;
    int max_sessions_per_connection = 64;
    std::size_t max_line_bytes = std::size_t{1} << 20;  // 64 B to 1 GiB
    double idle_timeout_s = 300.0;
    std::string token;                  // non-empty: clients must "auth" with it first
    int batch_rows = 64;                // micro-batching: most rows per batch (0: off)
    double batch_window_ms = 0.0;       // how long a batch waits for more sessions (0: not at all)
    std::string trace_dir;              // non-empty: sessions may ask for traces, written there
    int max_traces = 64;                // traces open at once, server-wide
    std::int64_t slice_updates = 64;    // most updates one request runs before others get a turn
    double stop_grace_s = 2.0;          // stop(): how long clients get for their last lines
    std::string model_path;             // what traces name as their model
    std::string created_by = "elmsim";  // and as their maker
};

class Server {
public:
    // Binds and listens at once (ParameterError "bind" / "port" when that fails); serves from run().
    Server(sim::Backend& backend, ServedModel model, ProtocolLimits limits, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const;
    // Serves until stop(); the calling thread is one of the connection threads.
    void run();
    // From any thread (or a signal handler's thread): ends run() after telling the clients and at
    // most stop_grace_s for them to read it.
    void stop();
    // Whether stop() was called (run() returning without it is a failure, never a clean end).
    bool stop_requested() const;
    // accept() failures so far (each logged and retried).
    std::int64_t accept_failures() const;
    int connections() const;
    // Bytes the live connections hold in their line and reply buffers: bounded per connection by the
    // line limit and one request's replies, however slowly its client reads.
    std::size_t buffered_bytes() const;
    // Micro-batching's counts so far (all zero when it is off).
    sim::BatcherStats batch_stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace elm::serve
