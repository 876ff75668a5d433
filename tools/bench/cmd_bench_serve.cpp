// `elmsim bench-serve`: the serving benchmark. A program, not a test: one table, with
// micro-batching off as the reference in the same run (CONVENTIONS.md point 7).
//
// Setup (in a scratch folder): SHD-format data from `elmsim gen-shd`, and an untrained model of the
// demo's shape (configs/demo_shd_adding.toml: N 64, SHD-Adding, 20 ms bins) from `elmsim init`. Each
// row starts a fresh `elmsim serve` child on a free port (this executable, micro-batching on or off),
// replays pairs to it with the in-process client (sim/serve/client.hpp) over 1, 100 and 1000
// sessions (connections x sessions each), as fast as the server answers or in real time, then stops
// the server with SIGINT and reads its peak RSS (VmHWM) and its batch statistics (its last line).
// Latency is from sending a message of events to its last output (for real-time rows: from the
// moment its events had all happened).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/serve/client.hpp"
#include "elmsim/sim/serve/replay_samples.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::bench {

namespace {

namespace fs = std::filesystem;

struct BenchServeArgs {
    std::vector<int> sessions = {1, 100, 1000};
    int N = 64;
    int samples_per_session = 1;
    int threads = 2, engine_threads = 1, batch_rows = 256, per_connection = 1;
    double chunk_ms = 50.0;
    bool realtime = true;  // also the real-time rows
    std::string work_dir;
};

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

void must_run(const std::vector<std::string>& argv) {
    const ChildResult r = run_child(argv, {});
    if (r.exit_code != 0) throw InputError(fmt::format("bench-serve: `{}` failed: {}", argv[1], r.out));
}

// `elmsim serve` as a child: its port from its first stderr line; stop() sends SIGINT and collects
// its last line and peak RSS.
class ServerChild {
public:
    explicit ServerChild(const std::vector<std::string>& args) {
        std::vector<std::string> argv = {self_exe(), "serve", "--port", "0"};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargv;
        for (auto& s : argv) cargv.push_back(s.data());
        cargv.push_back(nullptr);
        int fds[2];
        if (pipe(fds) != 0) throw std::runtime_error("bench-serve: pipe() failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addclose(&fa, fds[0]);
        posix_spawn_file_actions_addclose(&fa, fds[1]);
        const int rc = posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        err_ = fds[0];
        if (rc != 0) throw std::runtime_error("bench-serve: cannot start the server");
        while (port_ == 0) {
            char buf[512];
            const ssize_t n = read(err_, buf, sizeof buf);
            if (n <= 0) throw InputError(fmt::format("bench-serve: the server did not start: {}", log_));
            log_.append(buf, static_cast<std::size_t>(n));
            const auto at = log_.find("127.0.0.1:");
            if (at != std::string::npos && log_.find('\n', at) != std::string::npos) port_ = std::atoi(log_.c_str() + at + 10);
        }
    }
    ~ServerChild() {
        if (pid_ > 0) stop();
    }
    int port() const { return port_; }

    struct Stopped {
        double maxrss_mb = 0, rows_per_update = 0;
    };
    Stopped stop() {
        // Peak RSS of the server's own image since exec (ru_maxrss of a spawned child can carry the
        // parent's size from before the exec).
        double hwm_mb = 0;
        {
            FILE* f = std::fopen(fmt::format("/proc/{}/status", pid_).c_str(), "r");
            char line[256];
            while (f && std::fgets(line, sizeof line, f))
                if (std::sscanf(line, "VmHWM: %lf kB", &hwm_mb) == 1) hwm_mb /= 1024.0;
            if (f) std::fclose(f);
        }
        kill(pid_, SIGINT);
        char buf[512];
        for (ssize_t n; (n = read(err_, buf, sizeof buf)) > 0;) log_.append(buf, static_cast<std::size_t>(n));
        close(err_);
        int status = 0;
        rusage ru{};
        wait4(pid_, &status, 0, &ru);
        pid_ = -1;
        Stopped s;
        s.maxrss_mb = hwm_mb > 0 ? hwm_mb : static_cast<double>(ru.ru_maxrss) / 1024.0;
        const auto at = log_.find(" sessions each)");
        if (at != std::string::npos) {
            const auto open = log_.rfind('(', at);
            s.rows_per_update = std::atof(log_.c_str() + open + 1);
        } else {
            s.rows_per_update = 1.0;  // no batching: one session per update
        }
        return s;
    }

private:
    pid_t pid_ = -1;
    int err_ = -1, port_ = 0;
    std::string log_;
};

// Connections x sessions per connection for `total` sessions. A connection's requests run one at a
// time, so a batch holds at most one session per connection: live sensors are one connection each.
std::pair<int, int> split(int total, int per) {
    per = std::max(1, std::min(per, total));
    return {(total + per - 1) / per, per};
}

std::string config_text(const fs::path& dir, int N, std::int64_t pairs) {
    return fmt::format(R"([task]
kind = "shd-adding"
train = "{0}/data.h5"
test = "{0}/data.h5"
duration_ms = 1000.0
dt_ms = 20.0
adding_test_pairs = {2}

[model]
N = {1}
d_m = 12
n_b = 4
k_c = 32
output_mode = "analog"
tau_b_ms = 5.0
tau_init_min_ms = 10.0
tau_init_max_ms = 1000.0
seed = 1
)",
                       dir.string(), N, pairs);
}

void run_bench_serve(const BenchServeArgs& a) {
    using tools::require_flag_range;
    require_flag_range("--N", a.N, 2, 65536);
    require_flag_range("--samples-per-session", a.samples_per_session, 1, 1000000);
    require_flag_range("--threads", a.threads, 1, 1024);
    require_flag_range("--engine-threads", a.engine_threads, 1, 256);
    require_flag_range("--batch-rows", a.batch_rows, 1, 65536);
    require_flag_range("--per-connection", a.per_connection, 1, 4096);
    std::optional<ScratchDir> scratch;
    fs::path dir;
    if (a.work_dir.empty()) {
        scratch.emplace("elmsim_bench_serve");
        dir = scratch->path();
    } else {
        dir = a.work_dir;
        fs::create_directories(dir);
    }
    int most = 1;
    for (const int s : a.sessions) {
        if (s < 1 || s > 10000) throw InputError("--sessions: expected counts from 1 to 10000");
        most = std::max(most, s);
    }
    const std::int64_t pairs = static_cast<std::int64_t>(most) * a.samples_per_session;
    io::ensure_writable_dir((dir / "c.toml").string());  // written here; data.h5 and m.h5 by the commands
    must_run({self_exe(), "gen-shd", "--out", (dir / "data.h5").string(), "--samples", "200", "--seed", "1"});
    {
        FILE* f = std::fopen((dir / "c.toml").c_str(), "w");
        if (!f) throw InputError(fmt::format("bench-serve: cannot write {}", (dir / "c.toml").string()));
        std::fputs(config_text(dir, a.N, pairs).c_str(), f);
        std::fclose(f);
    }
    must_run({self_exe(), "init", "--config", (dir / "c.toml").string(), "--out", (dir / "m.h5").string()});
    const io::SpikeDataset ds = io::read_spike_dataset((dir / "data.h5").string());
    tools::raise_open_file_limit();

    fmt::print("# elmsim bench-serve: {}  commit {}  {}\n", cpu_model(), commit_or_unknown(), local_time_minutes());
    fmt::print("# load {}; model N {} (demo shape, SHD-Adding, clock, 20 ms bins: 100 updates per 2 s pair); "
               "chunks of {} ms; server --threads {} --engine-threads {}\n\n",
               load_average(), a.N, a.chunk_ms, a.threads, a.engine_threads);
    fmt::print("| sessions | conn x sess | pacing | micro-batching | events/s | updates/s | p50 ms | p99 ms | "
               "sessions per batch update | server peak RSS MiB | events/s vs off |\n");
    fmt::print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const bool realtime : {false, true}) {
        if (realtime && !a.realtime) continue;
        for (const int total : a.sessions) {
            double off_events = 0;
            for (const bool batching : {false, true}) {
                ServerChild server({"--model", (dir / "m.h5").string(), "--threads", std::to_string(a.threads),
                                    "--batch-rows", batching ? std::to_string(a.batch_rows) : "0", "--engine-threads",
                                    batching ? std::to_string(a.engine_threads) : "1", "--max-connections", "1024"});
                const auto [conns, per] = split(total, a.per_connection);
                serve::ClientOptions o;
                o.port = static_cast<std::uint16_t>(server.port());
                o.connections = conns;
                o.sessions = per;
                o.chunk_ms = a.chunk_ms;
                o.realtime = realtime;
                o.timeout_s = 300;
                serve::Client client(o);
                const auto samples = serve::replay_samples(ds, "data.h5", client.model(), 0,
                                                           static_cast<std::int64_t>(conns) * per * a.samples_per_session);
                const serve::ClientReport rep = client.run_samples(samples);
                const auto st = server.stop();
                const double ev = static_cast<double>(rep.events) / rep.wall_s;
                if (!batching) off_events = ev;
                fmt::print("| {} | {} x {} | {} | {} | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {:.1f} | {:.0f} | {} |\n",
                           conns * per, conns, per, realtime ? "real time" : "as fast as answered",
                           batching ? fmt::format("on (<= {})", a.batch_rows) : "off", ev,
                           static_cast<double>(rep.updates) / rep.wall_s, rep.latency_quantile(0.5),
                           rep.latency_quantile(0.99), st.rows_per_update, st.maxrss_mb,
                           batching ? fmt::format("{:.2f}x", ev / off_events) : "1");
                std::fflush(stdout);
            }
        }
    }
}

}  // namespace

void register_bench_serve(CLI::App& app) {
    auto a = std::make_shared<BenchServeArgs>();
    auto* cmd = app.add_subcommand("bench-serve", "Serving benchmark: client on loopback, micro-batching on vs off");
    cmd->add_option("--sessions", a->sessions, "Session counts, one row each (default 1 100 1000)");
    cmd->add_option("--N", a->N, "Neurons of the model (default 64, the demo's)");
    cmd->add_option("--samples-per-session", a->samples_per_session, "Pairs each session plays (default 1)");
    cmd->add_option("--threads", a->threads, "The server's connection threads (default 2)");
    cmd->add_option("--engine-threads", a->engine_threads, "The batch's engine threads (default 1)");
    cmd->add_option("--batch-rows", a->batch_rows, "Most sessions per batch when micro-batching (default 256)");
    cmd->add_option("--chunk-ms", a->chunk_ms, "Sample time per message (default 50)");
    cmd->add_option("--per-connection", a->per_connection, "Sessions per client connection (default 1)");
    cmd->add_flag("!--no-realtime", a->realtime, "Skip the real-time rows");
    cmd->add_option("--work-dir", a->work_dir, "Folder for the model and data (default: a temporary one)");
    cmd->callback([a] {
        try {
            run_bench_serve(*a);
        } catch (const serve::ClientError& e) {
            throw InputError(fmt::format("bench-serve: {}", e.what()));
        }
    });
}

}  // namespace elm::bench
