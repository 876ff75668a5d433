// Server: `elmsim serve`'s transport (Boost.Asio). It accepts TCP connections and gives each one a
// SessionTable (sim/serve/session_table.hpp), the hello line first and then request line in,
// reply lines out. Connections run on a fixed pool of threads, each on its own strand. Memory per
// connection is bounded: a connection's next line is read only once the replies to the last one are
// written, so a slow reader is backpressure (the server stops reading it), never buffering. Limits,
// with defaults:
//  - line length: a line over it is answered with an error and ends that connection only;
//  - idle time: a connection silent that long is closed;
//  - connections, and sessions per connection.
// Micro-batching (on by default): the updates requests plan run on one batch thread, the pending
// updates of many sessions as rows of one backend stepper (sim/serve/batch_queue.hpp); each
// connection waits for its request's batch. Off, every session runs its updates at once on the
// connection's thread, on a stepper of its own.
// stop() (SIGINT/SIGTERM in `elmsim serve`) tells every client {"op":"shutdown"} and closes it.
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
    std::size_t max_line_bytes = std::size_t{1} << 20;
    double idle_timeout_s = 300.0;
    std::string token;                  // non-empty: clients must "auth" with it first
    int batch_rows = 64;                // micro-batching: most rows per batch (0: off)
    double batch_window_ms = 0.0;       // how long a batch waits for more sessions (0: not at all)
    std::string trace_dir;              // non-empty: sessions may ask for traces, written there
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
    // From any thread (or a signal handler's thread): ends run() after telling the clients.
    void stop();
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
