// `elmsim bench-sim`: the simulation benchmark (spec elm-network.md section 5, "work is
// proportional to the number of updates, not to the duration"). A program, not a test: warm-up, median
// of repeats, one table, clock mode as the reference in the same run (CONVENTIONS.md point 7).
//
// Default run: SHD-format data generated in memory (io::generate_shd), thinned to 1 %, 10 % and 100 %
// of its spikes (each spike kept independently with probability p, seeded), simulated sample by sample
// by random (untrained, seeded) models in analog and spike output mode at the same N, in clock mode
// (dt 2 ms, T = 500 per 1 s sample) and in event mode (sim/event_schedule.hpp). Inputs are binned /
// scheduled before the clock starts, so the times are the simulator's alone. Output: a Markdown table
// of updates, wall and CPU time, updates/s and the event-over-clock speedup per (output mode, thinning),
// and the spike-mode firing fraction.
//
// --trace-memory: peak RSS of the real `elmsim simulate` (this executable, run as a child process) on
// a byte model over a short and a 10x longer byte file, recording y and m into a trace; the child's
// ru_maxrss comes from wait4. The trace writer's contract (files-and-cli.md "Traces": "recording a
// long run must not need the whole run in memory") predicts a ratio near 1.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_binning.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchSimArgs {
    std::int64_t samples = 50;
    std::optional<int> N;  // default 128 for the event benchmark, 32 for --trace-memory (see there)
    int threads = 1;
    int repeats = 3;
    std::uint64_t seed = 1;
    double resolution_ms = 1.0;
    double max_dt_ms = 100.0;
    bool trace_memory = false;
    std::int64_t trace_bytes = 100'000;
    std::string work_dir;
};

// SHD defaults of the spec (sections 1-2): 1 s samples, 2 ms bins, 700 channels, 20 classes.
constexpr double kDurationMs = 1000.0;
constexpr double kDtMs = 2.0;
constexpr int kChannels = 700;
constexpr int kClasses = 20;

// Each spike kept with probability p, from its own seeded stream so the 1 % set does not depend on
// the order in which thinning levels are built.
io::SpikeDataset thin(const io::SpikeDataset& ds, double p, std::uint64_t seed, std::uint64_t stream) {
    io::SpikeDataset out;
    out.num_channels = ds.num_channels;
    out.num_classes = ds.num_classes;
    Rng rng(seed, stream);
    for (const auto& s : ds.samples) {
        io::SpikeSample t;
        t.label = s.label;
        t.speaker = s.speaker;
        for (std::size_t k = 0; k < s.times_ms.size(); ++k)
            if (p >= 1.0 || rng.uniform() < p) {
                t.times_ms.push_back(s.times_ms[k]);
                t.units.push_back(s.units[k]);
            }
        out.samples.push_back(std::move(t));
    }
    return out;
}

// The inputs of one thinning level, prepared before timing: dense clock rows and event schedules.
struct PreparedInputs {
    double p = 1.0;
    std::int64_t spikes = 0;                // input spikes in the 1 s windows, all samples
    std::vector<std::vector<float>> x;      // per sample [T][C]
    std::vector<models::EventSchedule> sched;  // per sample
};

PreparedInputs prepare(const io::SpikeDataset& ds, double p, const BenchSimArgs& a) {
    PreparedInputs in;
    in.p = p;
    const std::int64_t T = models::num_steps(kDurationMs, kDtMs);
    const models::EventGrid grid = models::make_event_grid(a.resolution_ms, a.max_dt_ms);
    std::vector<double> times;
    std::vector<std::int32_t> channels;
    for (const auto& s : ds.samples) {
        in.x.emplace_back(static_cast<std::size_t>(T) * kChannels, 0.0f);
        io::bin_sample(s, kDtMs, kDurationMs, 0, in.x.back().data(), T, 1, 0, kChannels);
        times.clear();
        channels.clear();
        for (std::size_t k = 0; k < s.times_ms.size(); ++k)
            if (s.times_ms[k] < kDurationMs) {
                times.push_back(s.times_ms[k]);
                channels.push_back(s.units[k]);
            }
        in.spikes += static_cast<std::int64_t>(times.size());
        models::EventScheduleBuilder builder(grid, kDurationMs);
        in.sched.emplace_back();
        builder.next_slice(times.data(), channels.data(), times.size(), true, in.sched.back());
    }
    return in;
}

// Wall time is what a user waits; process CPU time is reported too because the benchmark machine is
// shared, and with one worker thread CPU time is far less disturbed by other jobs than wall time.
struct Timing {
    std::int64_t updates = 0;  // all samples of one repeat
    double wall_ms = 0.0;      // median over repeats
    double cpu_ms = 0.0;       // median over repeats
};

double process_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// All samples through `sim` in one mode, `repeats` times after one untimed warm-up pass over the
// first sample (first-touch of the workspace, decay cache).
Timing time_mode(sim::Simulator& sim, const PreparedInputs& in, bool event, int repeats) {
    const std::int64_t T = models::num_steps(kDurationMs, kDtMs);
    const sim::UpdateObserver none;
    const auto run_one = [&](std::size_t i) {
        sim.reset();
        if (event)
            sim.run_event(in.sched[i], none);
        else
            sim.run_clock(in.x[i].data(), T, none);
        return sim.updates();
    };
    if (!in.x.empty()) run_one(0);
    Timing t;
    std::vector<double> walls, cpus;
    for (int r = 0; r < repeats; ++r) {
        std::int64_t updates = 0;
        const double c0 = process_cpu_ms();
        const auto t0 = Clock::now();
        for (std::size_t i = 0; i < in.x.size(); ++i) updates += run_one(i);
        walls.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        cpus.push_back(process_cpu_ms() - c0);
        t.updates = updates;
    }
    t.wall_ms = median(walls);
    t.cpu_ms = median(cpus);
    return t;
}

// Spike mode only: the mean fraction of neurons that fire per clock update over all samples of a level
// (untimed pass). The scatter drive costs ~ active synapses, so this says how sparse the recurrent
// traffic of the random model is.
double firing_fraction(sim::Simulator& sim, const PreparedInputs& in, int N) {
    const std::int64_t T = models::num_steps(kDurationMs, kDtMs);
    std::int64_t fired = 0, slots = 0;
    const sim::UpdateObserver count = [&](const sim::UpdateView& v) {
        for (int i = 0; i < N; ++i) fired += v.y[i] != 0.0f;
        slots += N;
    };
    for (const auto& x : in.x) {
        sim.reset();
        sim.run_clock(x.data(), T, count);
    }
    return slots ? static_cast<double>(fired) / static_cast<double>(slots) : 0.0;
}

models::ModelConfig bench_model(models::OutputMode mode, const BenchSimArgs& a) {
    models::ModelConfig c;
    c.N = a.N.value_or(128);
    c.C = kChannels;
    c.n_out = kClasses;
    c.d_m = 16;
    c.d_h = 32;
    c.n_b = 4;
    c.k_c = 32;
    c.output_mode = mode;
    c.dt_ms = kDtMs;
    c.seed = a.seed;
    c.validate();
    return c;
}

void run_event_benchmark(const BenchSimArgs& a) {
    if (a.N) tools::require_flag_range("--N", *a.N, 2, 65536);
    if (a.samples < 1 || a.samples > 100'000)
        throw InputError(fmt::format("--samples: expected 1 .. 100000, got {}", a.samples));
    if (a.repeats < 1 || a.repeats > 1000)
        throw InputError(fmt::format("--repeats: expected 1 .. 1000, got {}", a.repeats));
    if (a.threads < 0 || a.threads > 1024)
        throw InputError(fmt::format("--threads: expected 0 (all cores) .. 1024, got {}", a.threads));
    const io::SpikeDataset ds = io::generate_shd(a.samples, a.seed);
    std::vector<PreparedInputs> levels;
    const double ps[] = {0.01, 0.1, 1.0};
    for (std::size_t k = 0; k < std::size(ps); ++k) levels.push_back(prepare(thin(ds, ps[k], a.seed, 1 + k), ps[k], a));
    sim::BackendOptions engine;
    engine.threads = a.threads;

    fmt::print("bench-sim: {} generated SHD samples (1 s, C = {}), N = {}, d_m = 16, n_b = 4, k_c = 32, threads {}, "
               "median of {} repeats\n",
               a.samples, kChannels, a.N.value_or(128), a.threads, a.repeats);
    fmt::print("clock: dt {} ms (T = {} per sample); event: resolution {} ms, max_dt {} ms\n\n", kDtMs,
               models::num_steps(kDurationMs, kDtMs), a.resolution_ms, a.max_dt_ms);
    fmt::print("| output | spikes kept | input spikes/sample | mode | updates/sample | wall ms | cpu ms | "
               "updates/s (wall) | us/update (cpu) | event speedup (wall) | event speedup (cpu) |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::string firing;
    for (const auto mode : {models::OutputMode::analog, models::OutputMode::spike}) {
        const auto net = models::make_network<float>(bench_model(mode, a));
        const auto backend = sim::make_backend("cpu", net, engine);
        sim::Simulator sim(*backend);
        for (const auto& in : levels) {
            if (mode == models::OutputMode::spike)
                firing += fmt::format("{}{:g} %: {:.3f}", firing.empty() ? "" : ", ", in.p * 100.0,
                                      firing_fraction(sim, in, net.cfg.N));
            const Timing clock = time_mode(sim, in, false, a.repeats);
            const Timing event = time_mode(sim, in, true, a.repeats);
            const auto row = [&](const char* name, const Timing& t, const std::string& speedup) {
                const double per_sample = static_cast<double>(t.updates) / static_cast<double>(a.samples);
                fmt::print("| {} | {:g} % | {:.0f} | {} | {:.1f} | {:.1f} | {:.1f} | {:.3g} | {:.1f} | {} |\n",
                           models::to_string(mode), in.p * 100.0,
                           static_cast<double>(in.spikes) / static_cast<double>(a.samples), name, per_sample,
                           t.wall_ms, t.cpu_ms, static_cast<double>(t.updates) / (t.wall_ms * 1e-3),
                           t.cpu_ms * 1e3 / static_cast<double>(t.updates), speedup);
            };
            row("clock", clock, "1 | 1");
            row("event", event,
                fmt::format("{:.2f} | {:.2f}", clock.wall_ms / event.wall_ms, clock.cpu_ms / event.cpu_ms));
        }
    }
    fmt::print("\nspike mode, fraction of neurons firing per clock update (spikes kept): {}\n", firing);
}

// ---- --trace-memory -------------------------------------------------------------------------------

struct ChildResult {
    long max_rss_kb = 0;
    double wall_s = 0.0;
};

// Runs this executable with `args` (stdout/stderr to `log`), waits, and returns its own ru_maxrss.
ChildResult run_self(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    std::string self = "/proc/self/exe";
    argv.push_back(self.data());
    std::vector<std::string> copy = args;
    for (auto& s : copy) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    const auto t0 = Clock::now();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("bench-sim --trace-memory: fork failed");
    if (pid == 0) {
        std::FILE* f = std::freopen(log.c_str(), "w", stdout);
        if (f) dup2(fileno(stdout), STDERR_FILENO);
        execv("/proc/self/exe", argv.data());
        _exit(127);
    }
    int status = 0;
    rusage ru{};
    if (wait4(pid, &status, 0, &ru) != pid) throw std::runtime_error("bench-sim --trace-memory: wait4 failed");
    ChildResult r;
    r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(
            fmt::format("bench-sim --trace-memory: `elmsim {}` failed (see {})", args.front(), log));
    r.max_rss_kb = ru.ru_maxrss;  // kilobytes on Linux
    return r;
}

// Text-like bytes (seeded): words of random lowercase letters separated by spaces and newlines, so the
// byte model sees a byte-file-like stream rather than uniform noise.
void write_byte_file(const std::string& path, std::int64_t n, std::uint64_t seed) {
    Rng rng(seed);
    std::string buf;
    buf.reserve(static_cast<std::size_t>(n));
    while (static_cast<std::int64_t>(buf.size()) < n) {
        const auto len = 1 + rng.below(9);
        for (std::uint64_t k = 0; k < len; ++k) buf.push_back(static_cast<char>('a' + rng.below(26)));
        buf.push_back(rng.below(12) == 0 ? '\n' : ' ');
    }
    buf.resize(static_cast<std::size_t>(n));
    std::ofstream f(path, std::ios::binary);
    f.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (!f) throw InputError(fmt::format("bench-sim --trace-memory: cannot write {}", path));
}

// The byte model defaults to N = 32 so that the 10x run (1e6 updates by default) takes minutes, not
// an hour, and its trace (y and m of every neuron, ~1 GB) stays on an ordinary disk.
void run_trace_memory(const BenchSimArgs& a) {
    if (a.N) tools::require_flag_range("--N", *a.N, 2, 65536);
    const int N = a.N.value_or(32);
    if (a.trace_bytes < 1000 || a.trace_bytes > 100'000'000)
        throw InputError(fmt::format("--trace-bytes: expected 1000 .. 100000000, got {}", a.trace_bytes));
    const fs::path dir = a.work_dir.empty() ? fs::temp_directory_path() / fmt::format("elmsim-bench-{}", getpid())
                                            : fs::path(a.work_dir);
    fs::create_directories(dir);
    const std::string config = (dir / "bytes_model.toml").string(), model = (dir / "bytes_model.h5").string();
    const std::string small = (dir / "short.txt").string(), large = (dir / "long.txt").string();
    // Every file this run writes in the work folder, checked before any of them is (a FIFO or a
    // device left there is refused, not written into).
    for (const std::string& path : {config, model, small, large})
        io::ensure_writable_dir(path);
    for (const std::int64_t bytes : {a.trace_bytes, 10 * a.trace_bytes})
        for (const std::string& name : {fmt::format("trace_{}.h5", bytes), fmt::format("simulate_{}.log", bytes)})
            io::ensure_writable_dir((dir / name).string());
    io::ensure_writable_dir((dir / "init.log").string());
    write_byte_file(small, a.trace_bytes, a.seed);
    write_byte_file(large, 10 * a.trace_bytes, a.seed);
    {
        // A byte model of N neurons (one-hot channels, dt 1 ms per byte: spec section 1).
        std::ofstream f(config);
        f << fmt::format(
            "[task]\nkind = \"bytes\"\nbytes = \"{}\"\ndt_ms = 1.0\n\n[model]\nN = {}\nd_m = 16\nn_b = 4\nk_c = 32\n"
            "seed = {}\n\n[train]\nseed = {}\nthreads = {}\n",
            large, N, a.seed, a.seed, a.threads);
        if (!f) throw InputError(fmt::format("bench-sim --trace-memory: cannot write {}", config));
    }
    run_self({"init", "--config", config, "--out", model}, (dir / "init.log").string());
    fmt::print("trace memory: `elmsim simulate --mode clock --record y,m` on a byte model (N = {}, d_m = 16, "
               "k_c = 32, threads {}), trace in {}\n\n",
               N, a.threads, dir.string());
    fmt::print("| run length (bytes = updates) | peak RSS MiB | wall s | trace MiB |\n|---|---|---|---|\n");
    std::vector<long> rss;
    for (const auto& [data, bytes] : {std::pair{small, a.trace_bytes}, std::pair{large, 10 * a.trace_bytes}}) {
        const std::string trace = (dir / fmt::format("trace_{}.h5", bytes)).string();
        const ChildResult r = run_self({"simulate", "--model", model, "--data", data, "--mode", "clock", "--record",
                                        "y,m", "--trace", trace, "--threads", std::to_string(a.threads)},
                                       (dir / fmt::format("simulate_{}.log", bytes)).string());
        rss.push_back(r.max_rss_kb);
        fmt::print("| {} | {:.1f} | {:.2f} | {:.1f} |\n", bytes, r.max_rss_kb / 1024.0, r.wall_s,
                   static_cast<double>(fs::file_size(trace)) / (1024.0 * 1024.0));
        fs::remove(trace);
    }
    fmt::print("\npeak RSS ratio (10x longer run / shorter run): {:.3f}\n", static_cast<double>(rss[1]) / rss[0]);
    if (a.work_dir.empty()) fs::remove_all(dir);  // our own temp folder; a --work-dir is the user's to keep
}

}  // namespace

void register_bench_sim(CLI::App& app) {
    auto a = std::make_shared<BenchSimArgs>();
    auto* cmd = app.add_subcommand(
        "bench-sim", "Benchmark clock vs event simulation (cost follows events), or trace memory vs run length");
    cmd->add_option("--samples", a->samples, "Generated SHD samples (default 50)");
    cmd->add_option("--N", a->N, "Neurons of the models (default 128; --trace-memory: 32)");
    cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores; default 1)");
    cmd->add_option("--repeats", a->repeats, "Timed repeats; the median is reported (default 3)");
    cmd->add_option("--seed", a->seed, "Seed of data, thinning and models (default 1)");
    cmd->add_option("--resolution-ms", a->resolution_ms, "Event mode: events closer than this merge (default 1)");
    cmd->add_option("--max-dt-ms", a->max_dt_ms, "Event mode: longest step between updates (default 100)");
    cmd->add_flag("--trace-memory", a->trace_memory,
                  "Instead: peak RSS of `elmsim simulate` with a trace, short vs 10x longer byte run");
    cmd->add_option("--trace-bytes", a->trace_bytes, "--trace-memory: bytes of the shorter run (default 100000)");
    cmd->add_option("--work-dir", a->work_dir, "--trace-memory: folder for the model, data and traces (default: a temp dir)");
    cmd->callback([a] {
        if (a->trace_memory)
            run_trace_memory(*a);
        else
            run_event_benchmark(*a);
    });
}

}  // namespace elm::bench
