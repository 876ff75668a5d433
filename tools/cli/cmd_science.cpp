// `elmsim sweep` and `elmsim fit` (spec science.md): flags -> science::make_sweep_plan / run_sweep /
// fit_sweep -> the plan table, one progress line for the whole sweep, the fit table and fit.json.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <span>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/sweep_config.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "elmsim/sim/science/remote_runs.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"
#include "elmsim/sim/science/sweep_fit.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"
#include "elmsim/sim/science/sweep_runner.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"
#include "tools/cli/flag_range.hpp"
#include "tools/cli/progress_line.hpp"

namespace elm::tools {

namespace fs = std::filesystem;

namespace {

struct SweepArgs {
    std::string config, out;
    bool dry_run = false, retry_failed = false, quiet = false;
    std::optional<int> workers, threads;
};

struct FitArgs {
    std::string sweep, out;
    science::FitOptions options;
};

std::string duration(double s) {
    if (!(s >= 0)) return "-";
    const auto t = static_cast<long>(std::lround(s));
    if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
    if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
    return fmt::format("{}s", t);
}

std::string group_text(const science::PlannedRun& r) {
    std::string s;
    for (const auto& g : r.groups) {
        if (!s.empty()) s += ",";
        s += g.scan >= 0 ? fmt::format("scan{}:{}", g.scan, g.axis) : fmt::format("{:g}:{}", g.budget, g.axis);
    }
    return s;
}

void print_plan(const science::SweepPlan& plan, const std::string& out) {
    const auto& sw = plan.sweep;
    double total = 0.0;
    for (const auto& r : plan.runs) total += r.est_gflop;
    fmt::print("# sweep {}: base {}  task {}  metric {}  {} runs  {} per run  workers {} x threads {}\n", sw.origin,
               sw.base_path, io::to_string(plan.base.task.kind), io::to_string(sw.metric), plan.runs.size(),
               sw.steps > 0 ? fmt::format("{} steps", sw.steps) : fmt::format("{:g} minutes", sw.minutes), sw.workers,
               sw.threads);
    std::optional<science::SweepDirectory> dir;
    if (fs::exists(fs::path(out) / "sweep.json")) dir.emplace(out, sw.stale_minutes);  // states of a sweep begun
    fmt::print("{:<34} {:>5} {:>6} {:>6} {:>9} {:>4} {:>4} {:>4} {:>10}  {:<9} {}\n", "id", "N", "k_e", "k_c", "P", "d_m",
               "d_h", "n_b", "est GFLOP", "state", "groups (budget:axis)");
    for (const auto& r : plan.runs) {
        std::string state = "-";
        if (dir) {
            switch (dir->state(r.id)) {
                case science::RunState::open: state = "open"; break;
                case science::RunState::finished: state = "finished"; break;
                case science::RunState::failed: state = "failed"; break;
                case science::RunState::claimed: state = "claimed"; break;
            }
        }
        fmt::print("{:<34} {:>5} {:>6} {:>6} {:>9} {:>4} {:>4} {:>4} {:>10.3g}  {:<9} {}\n", r.id, r.model.N, r.count.k_e,
                   r.count.k_c, r.count.P, r.model.d_m, r.model.d_h, r.model.n_b, r.est_gflop, state, group_text(r));
    }
    fmt::print("# total estimated work {:.4g} GFLOP (training + final evaluation)\n", total);
}

// The sweep's one progress line on stderr (a LiveLine): on a terminal rewritten at every change, in a
// log every 30 s; finished and failed runs as full lines above it.
class SweepProgressLine {
public:
    explicit SweepProgressLine(bool enabled) : line_(enabled) {}

    void progress(const science::SweepProgress& p) {
        if (!line_.enabled()) return;
        const auto now = std::chrono::steady_clock::now();
        const bool log_it = now - last_logged_.load() >= std::chrono::seconds(30);
        if (log_it && !line_.tty()) last_logged_ = now;
        line_.show(fmt::format("sweep: {}/{} finished  {} failed  {} running  {} elsewhere  {} left  | {}  ETA {}",
                               p.finished, p.total, p.failed, p.running, p.elsewhere, p.left, duration(p.elapsed_s),
                               p.eta_s ? duration(*p.eta_s) : "-"),
                   log_it);
    }
    void message(const std::string& line) {
        if (line_.enabled()) line_.message(line);  // --quiet: no per-run lines either
    }
    void close() { line_.close(); }

private:
    LiveLine line_;
    std::atomic<std::chrono::steady_clock::time_point> last_logged_{};
};

volatile std::sig_atomic_t g_signal = 0;

// SIGINT / SIGTERM / SIGUSR1 (a scheduler's time-limit warning): the runs stop at their next step and
// checkpoint; a second signal kills at once.
extern "C" void on_stop_signal(int sig) {
    g_signal = sig;
    science::request_sweep_stop();
    std::signal(sig, SIG_DFL);
}

// A sweep's plan as one number, to check that every process of an MPI sweep planned the same runs
// (FNV-1a over its JSON: the same on every machine).
std::int64_t plan_fingerprint(const science::SweepPlan& plan) {
    std::uint64_t h = 1469598103934665603ull;
    for (const unsigned char c : science::plan_to_json(plan).dump()) h = (h ^ c) * 1099511628211ull;
    return static_cast<std::int64_t>(h >> 1);
}

void run_sweep_command(SweepArgs& a) {
    // A thread per worker, and --threads per run is the backend's limit (1024): checked before the file.
    if (a.workers) require_flag_range("--workers", *a.workers, 1, 1024);
    if (a.threads) require_flag_range("--threads", *a.threads, 1, 1024);
    // Under mpirun/srun: one sweep, rank 0 handing out runs to every rank (itself included). Each
    // process reads the files and plans; a failure anywhere is one line from rank 0.
    const auto comm = sim::world_communicator();
    const bool mpi = comm->size() > 1, speaks = comm->rank() == 0;
    io::SweepConfig sw;
    std::optional<science::SweepPlan> plan_storage;
    sim::run_agreed(*comm, [&] {
        if (mpi && a.workers && *a.workers > 1)
            throw InputError(fmt::format("--workers {}: in a sweep on {} processes each process runs one run at a time; "
                                         "start more processes instead",
                                         *a.workers, comm->size()));
        sw = io::load_sweep_config(a.config);
        if (a.workers) sw.workers = *a.workers;
        if (a.threads) sw.threads = *a.threads;
        if (mpi) sw.workers = 1;
        plan_storage = science::make_sweep_plan(sw);
        if (a.dry_run) return;
        // Data every run needs: missing files are one error now, not a failed run per point.
        const auto& task = plan_storage->base.task;
        for (const std::string* path : {&task.train_path, &task.test_path, &task.valid_path, &task.bytes_path})
            if (!path->empty() && !fs::exists(*path))
                throw InputError(fmt::format("{}: sweep.base: {}: data file {} not found{}", sw.origin,
                                             plan_storage->base.origin, *path,
                                             path->find("data/demo") != std::string::npos ? " (`tools/setup.sh demo` makes it)"
                                                                                          : ""));
    });
    const science::SweepPlan& plan = *plan_storage;
    if (mpi) {
        const std::int64_t mine = plan_fingerprint(plan);
        std::vector<std::int64_t> all(static_cast<std::size_t>(comm->size()));
        comm->all_gather(std::span<const std::int64_t>(&mine, 1), all);
        sim::agree_or_throw(*comm, mine == all[0] ? "" : fmt::format("{}: planned other runs than rank 0 (the sweep file "
                                                                      "or its base config differs between machines)",
                                                                      sw.origin));
    }
    if (a.dry_run) {
        if (speaks) print_plan(plan, a.out);
        return;
    }
    if (mpi) {
        // Rank 0 makes the directory; every other process must see it (a shared file system).
        sim::run_agreed(*comm, [&] {
            if (speaks) science::SweepDirectory(a.out, sw.stale_minutes).adopt_plan(science::plan_to_json(plan));
        });
        sim::run_agreed(*comm, [&] {
            if (!speaks && !fs::exists(fs::path(a.out) / "sweep.json"))
                throw InputError(fmt::format("{}: the sweep directory rank 0 made is not here: every process of a sweep on "
                                             "several machines must see it (a shared file system)",
                                             a.out));
        });
    }
    for (const int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, on_stop_signal);
    if (!speaks) {
        science::serve_sweep_runs(plan, a.out, *comm, sw.threads, created_by());
        for (const int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, SIG_DFL);
        if (g_signal != 0) throw QuietExit(128 + g_signal);
        return;
    }
    SweepProgressLine line(!a.quiet);
    science::SweepOptions opt;
    opt.workers = sw.workers;
    opt.comm = mpi ? comm.get() : nullptr;
    opt.threads = sw.threads;
    opt.retry_failed = a.retry_failed;
    opt.created_by = created_by();
    opt.on_progress = [&](const science::SweepProgress& p) { line.progress(p); };
    opt.on_message = [&](const std::string& m) { line.message(m); };
    if (!a.quiet) {
        if (mpi)
            fmt::print(stderr, "sweep: {} runs into {} ({} processes x {} threads, rank 0 handing out the runs)\n",
                       plan.runs.size(), a.out, comm->size(), sw.threads);
        else
            fmt::print(stderr, "sweep: {} runs into {} ({} workers x {} threads)\n", plan.runs.size(), a.out, sw.workers,
                       sw.threads);
    }
    const science::SweepSummary s = science::run_sweep(plan, a.out, opt);
    for (const int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, SIG_DFL);
    line.close();
    fmt::print("sweep: {} finished now ({} resumed), {} failed now; {} were finished and {} failed before; {} running "
               "elsewhere\n",
               s.finished_now, s.resumed, s.failed_now, s.already_finished, s.already_failed, s.elsewhere);
    fmt::print("time:  {:.1f} s wall; per run setup {:.2f} s, training {:.2f} s, final test evaluation {:.2f} s (means)\n",
               s.wall_s, s.finished_now ? s.setup_s / s.finished_now : 0.0, s.finished_now ? s.train_s / s.finished_now : 0.0,
               s.finished_now ? s.eval_s / s.finished_now : 0.0);
    fmt::print("results: {}\n", (fs::path(a.out) / "results.jsonl").string());
    if (s.failed_now + s.already_failed > 0)
        fmt::print("failed runs keep their error in runs/<id>/error.json; --retry-failed runs them again\n");
    if (g_signal != 0 || science::sweep_stop_requested()) {
        // Stopped by a signal here, or (MPI) by one that reached another process of the job first.
        const int sig = g_signal != 0 ? static_cast<int>(g_signal) : SIGTERM;
        fmt::print("sweep: stopped by {}: {} runs checkpointed and released; the same command continues\n",
                   g_signal != 0 ? fmt::format("signal {}", sig) : std::string("a signal to another process of the job"),
                   s.interrupted);
        std::fflush(stdout);
        throw QuietExit(128 + sig);
    }
}

void run_fit_command(FitArgs& a) {
    const std::string out = a.out.empty() ? (fs::path(a.sweep) / "fit.json").string() : a.out;
    if (!a.out.empty() || fs::is_directory(a.sweep)) io::ensure_writable_dir(out);  // before the bootstrap
    const auto fit = with_flag_names({{"bootstrap", "--bootstrap"}}, [&] { return science::fit_sweep(a.sweep, a.options); });
    science::write_file_atomically(out, fit.dump(1) + "\n");
    fmt::print("{}\nfit:     {}\npictures: /usr/bin/python3 tools/elmsim_plot_science.py all --sweep {}\n",
               science::fit_table(fit), out, a.sweep);
}

}  // namespace

void register_sweep(CLI::App& app) {
    auto a = std::make_shared<SweepArgs>();
    auto* cmd = app.add_subcommand("sweep", "Run a budget sweep (science.md): many budget-matched training runs, resumable and shareable");
    cmd->add_option("--config", a->config, "Sweep file (TOML, table [sweep])")->required();
    cmd->add_option("--out", a->out, "Sweep directory (runs/, results.jsonl, ...)")->required();
    cmd->add_flag("--dry-run", a->dry_run, "Print the plan (every run with N, k_e, k_c, P, d_m, d_h, n_b, estimated work) and stop");
    cmd->add_option("--workers", a->workers, "Runs at once in this process (default sweep.workers)");
    cmd->add_option("--threads", a->threads, "Threads per run (default sweep.threads)");
    cmd->add_flag("--retry-failed", a->retry_failed, "Run failed runs again (default: keep their error and skip them)");
    cmd->add_flag("--quiet", a->quiet, "No progress line");
    cmd->callback([a] { run_sweep_command(*a); });
}

void register_fit(CLI::App& app) {
    auto a = std::make_shared<FitArgs>();
    auto* cmd = app.add_subcommand("fit", "Fit the scaling law and the information model to a sweep's results");
    cmd->add_option("--sweep", a->sweep, "Sweep directory made by `elmsim sweep`")->required();
    cmd->add_option("--out", a->out, "Where to write the fit (default <sweep>/fit.json)");
    cmd->add_option("--bootstrap", a->options.bootstrap, "Bootstrap resamples for the scaling-law intervals (default 1000)");
    cmd->add_option("--seed", a->options.seed, "Seed of the bootstrap (default 1)");
    cmd->callback([a] { run_fit_command(*a); });
}

}  // namespace elm::tools
