// `elmsim serve --model M.h5 [--port 7070] [--bind 127.0.0.1]`: a trained network to live event
// streams over TCP (docs/protocol.md; sim/serve/server.hpp). SIGINT / SIGTERM stop it gently: every
// client is told, gets --stop-grace seconds for its last lines, and the process exits 0 — the only
// way it exits 0.
#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <pthread.h>
#include <thread>

#include <fmt/format.h>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/serve/server.hpp"
#include "elmsim/sim/workflow/model_file.hpp"
#include "elmsim/sim/workflow/simulation.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"

namespace elm::tools {

namespace {

struct ServeArgs {
    std::string model, bind = "127.0.0.1", token_file, backend = "cpu", trace_dir;
    int port = 7070, threads = 2, max_connections = 256, max_sessions = 64, batch_rows = 64, engine_threads = 1;
    double batch_window_ms = 0.0;
    std::size_t max_line = std::size_t{1} << 20;
    double idle_timeout = 300.0;
    std::int64_t max_updates = 16384, max_pending_events = 65536, slice_updates = 64;
    int max_traces = 64;
    double stop_grace = 2.0;
};

void run_serve(const ServeArgs& a) {
    if (a.port < 0 || a.port > 65535) throw ParameterError("port", fmt::format("expected 0 to 65535, found {}", a.port));
    const workflow::LoadedModel m = workflow::load_model(a.model);
    const auto& cfg = m.config;
    serve::ServedModel served;
    served.task = io::to_string(cfg.task.kind);
    served.bytes = cfg.task.kind == io::TaskKind::bytes;
    served.time = cfg.train.time;
    if (cfg.train.time != models::TimeBase::clock) {
        served.event_resolution_ms = workflow::default_resolution_ms(m);
        served.event_max_dt_ms = io::event_max_dt_ms(cfg);
    }
    served.score = served.bytes ? models::LossMode::next_byte : cfg.train.loss;
    served.score_last_k = static_cast<int>(cfg.train.loss_last_k);
    served.window_ms = cfg.task.duration_ms;
    served.sample_ms = io::sample_duration_ms(cfg.task);
    if (cfg.task.kind == io::TaskKind::shd_adding) {
        served.adding_pairs = cfg.task.adding_test_pairs;
        served.pair_seed = cfg.train.seed;
    }
    serve::ProtocolLimits limits;
    limits.channels = cfg.model.C;
    limits.neurons = cfg.model.N;
    serve::ServerOptions o;
    o.bind = a.bind;
    o.port = static_cast<std::uint16_t>(a.port);
    o.threads = a.threads;
    o.max_connections = a.max_connections;
    o.max_sessions_per_connection = a.max_sessions;
    o.max_line_bytes = a.max_line;
    if (!(a.idle_timeout > 0) || !(a.idle_timeout <= 1e6))
        throw InputError(fmt::format("--idle-timeout: expected seconds in (0, 1e6], found {}", a.idle_timeout));
    o.idle_timeout_s = a.idle_timeout;
    o.batch_rows = a.batch_rows;
    o.trace_dir = a.trace_dir;
    o.model_path = a.model;
    o.created_by = created_by();
    o.batch_window_ms = a.batch_window_ms;
    o.max_traces = a.max_traces;
    o.slice_updates = a.slice_updates;
    o.stop_grace_s = a.stop_grace;
    limits.max_updates_per_request = a.max_updates;
    limits.max_pending_events = a.max_pending_events;
    if (!a.token_file.empty()) o.token = read_token_file(a.token_file);
    if (a.engine_threads < 1 || a.engine_threads > 256)
        throw ParameterError("--engine-threads", fmt::format("expected 1 to 256, found {}", a.engine_threads));
    if (a.backend != "cpu" && a.batch_rows == 0)
        throw ParameterError("--batch-rows", fmt::format("the {} backend serves with micro-batching only (its steppers "
                                                         "share one device stream): give --batch-rows >= 1", a.backend));
    if (a.batch_rows == 0 && a.engine_threads != 1)
        throw ParameterError("--engine-threads", "without micro-batching each session runs inline on its connection's "
                                                 "thread: use --threads");
    if (o.bind != "127.0.0.1" && o.bind != "::1" && o.token.empty())
        std::fprintf(stderr, "elmsim serve: note: listening on %s without --token-file: anyone who can reach it can use it\n",
                     o.bind.c_str());
    // With micro-batching the batch thread runs every update, on --engine-threads; without, each
    // session's stepper is its own and the cpu engine runs inline on the connection's thread.
    const auto backend = workflow::open_backend(a.backend, m.checkpoint.net, a.engine_threads, cfg.train);
    raise_open_file_limit();  // room for --max-connections sockets
    // SIGINT / SIGTERM go to one waiting thread (blocked everywhere else, before any thread starts).
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    auto server = with_flag_names({{"port", "--port"},
                                   {"bind", "--bind"},
                                   {"threads", "--threads"},
                                   {"max_connections", "--max-connections"},
                                   {"max_sessions", "--max-sessions"},
                                   {"max_line", "--max-line"},
                                   {"max_traces", "--max-traces"},
                                   {"max_updates_per_request", "--max-updates-per-request"},
                                   {"max_pending_events", "--max-pending-events"},
                                   {"slice_updates", "--slice-updates"},
                                   {"stop_grace", "--stop-grace"},
                                   {"batch_rows", "--batch-rows"},
                                   {"batch_window", "--batch-window-ms"},
                                   {"trace_dir", "--trace-dir"}},
                                  [&] { return std::make_unique<serve::Server>(*backend, served, limits, o); });
    std::fprintf(stderr, "elmsim serve: %s (%s, N %d) on %s:%u, %s backend, %s; Ctrl-C stops\n", a.model.c_str(),
                 served.task.c_str(), cfg.model.N, o.bind.c_str(), static_cast<unsigned>(server->port()),
                 a.backend.c_str(),
                 o.batch_rows > 0 ? fmt::format("micro-batches of up to {} sessions", o.batch_rows).c_str()
                                  : "no micro-batching");
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&sigs, &sig);
        if (sig != 0) server->stop();
    });
    server->run();
    const bool asked = server->stop_requested();     // before the waiter, woken below, asks too
    pthread_kill(waiter.native_handle(), SIGTERM);  // if run() ended another way, wake the waiter
    waiter.join();
    if (!asked) throw std::runtime_error("the server stopped without being asked to");
    const sim::BatcherStats st = server->batch_stats();
    if (st.advances > 0)
        std::fprintf(stderr, "elmsim serve: stopped; %lld session updates in %lld batched updates (%.1f sessions each)\n",
                     static_cast<long long>(st.rows), static_cast<long long>(st.advances),
                     static_cast<double>(st.rows) / static_cast<double>(st.advances));
    else
        std::fprintf(stderr, "elmsim serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app) {
    auto a = std::make_shared<ServeArgs>();
    auto* cmd = app.add_subcommand("serve", "Serve a trained network to live event streams (JSON lines over TCP)");
    cmd->add_option("--model", a->model, "Trained model (.h5)")->required();
    cmd->add_option("--port", a->port, "TCP port (default 7070; 0 = any free port)");
    cmd->add_option("--bind", a->bind, "Address to listen on (default 127.0.0.1)");
    cmd->add_option("--threads", a->threads, "Connection threads (default 2)");
    cmd->add_option("--max-connections", a->max_connections, "Connections at once (default 256)");
    cmd->add_option("--max-sessions", a->max_sessions, "Sessions per connection (default 64)");
    cmd->add_option("--max-line", a->max_line, "Longest request line in bytes (default 1 MiB)");
    cmd->add_option("--idle-timeout", a->idle_timeout, "Seconds a silent connection stays open (default 300)");
    cmd->add_option("--token-file", a->token_file, "File with a shared secret clients must send first (\"auth\")");
    cmd->add_option("--batch-rows", a->batch_rows,
                    "Micro-batching: most sessions whose updates run as one batch (default 64; 0 = off)");
    cmd->add_option("--batch-window-ms", a->batch_window_ms,
                    "How long a batch waits for more sessions (default 0: it takes what arrived while the last ran)");
    cmd->add_option("--engine-threads", a->engine_threads, "Threads of the batch's engine (default 1)");
    cmd->add_option("--backend", a->backend, "cpu (default) or cuda (needs micro-batching)");
    cmd->add_option("--max-updates-per-request", a->max_updates,
                    "Most updates one advance, finish or bytes request may run; more is refused (default 16384)");
    cmd->add_option("--max-pending-events", a->max_pending_events,
                    "Most events a session holds waiting for their time (default 65536)");
    cmd->add_option("--slice-updates", a->slice_updates,
                    "Most updates a request runs before other sessions get their turn (default 64)");
    cmd->add_option("--max-traces", a->max_traces, "Trace files open at once, server-wide (default 64)");
    cmd->add_option("--stop-grace", a->stop_grace,
                    "Seconds clients get to read their last lines once SIGINT/SIGTERM stops the server (default 2)");
    cmd->add_option("--trace-dir", a->trace_dir,
                    "Directory for the HDF5 traces sessions ask for (\"trace\": true); names are the server's");
    cmd->callback([a] { run_serve(*a); });
}

}  // namespace elm::tools
