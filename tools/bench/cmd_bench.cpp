// `elmsim bench`: the training benchmark. For a fixed set of configurations it measures,
// side by side in one run, elmsim's training step (forward + backward + Adamax) and inference pass
// against the PyTorch reference (tools/reference/elm_reference.py --bench), and prints one table:
// times and ratios, neuron-steps per second, peak memory, achieved GFLOP/s against the measured FMA
// peak (tools/bench/peak_flops.hpp, FLOPs from tools/bench/flop_count.hpp), activation memory and time with
// recomputation (spec section 7), and the 1- vs K-thread speedup on `wide`.
//
// Each elmsim measurement runs in its own child process (`/proc/self/exe bench --worker NAME ...`,
// printing one JSON line) so that peak RSS — ru_maxrss of that child from wait4 — belongs to one
// configuration only; the reference runs the same way, so both memories are measured alike.
// Input: random SHD-like events, each channel-bin holds one event with probability kBenchEventRate (the
// reference script draws with the same rate), fixed seed, no dropout, loss on the last step.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/atomic_output.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "tools/bench/flop_count.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "tools/bench/peak_flops.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::bench {

namespace {

constexpr int kScalingThreads = 1;  // the thread-scaling column compares this against --threads
// Ratios between elmsim runs (recomputation vs full tape, 1 thread vs --threads) come from this many
// back-to-back pairs, median over the pairs: on a shared VM two runs a minute apart can differ by 30 %.
constexpr int kPairs = 3;

struct BenchArgs {
    std::string configs = "small,wide,complex", json, python = "/usr/bin/python3", reference, worker, backend = "cpu";
    int threads = 2, repeats = 5, warmup = 1, T = 500, recompute = 50;
    bool no_torch = false;
};

struct BenchConfig {
    std::string name;
    int N, d_m, d_h, n_b, k_c, B;
};

// The benchmark's three configurations (C = 700 inputs of SHD), as docs/benchmarks.md reports them.
const std::vector<BenchConfig> kConfigs = {
    {"small", 64, 16, 32, 4, 32, 16},
    {"wide", 256, 16, 32, 4, 64, 16},
    {"complex", 128, 64, 128, 8, 64, 8},
};

const BenchConfig& find_config(const std::string& name) {
    for (const auto& c : kConfigs)
        if (c.name == name) return c;
    throw InputError(fmt::format("--configs: expected names from small, wide, complex, got \"{}\"", name));
}

// The configuration as an experiment file, so the model is built exactly as `elmsim train` would
// build it and the checkpoint handed to the reference carries a valid /config.
std::string config_toml(const BenchConfig& c) {
    return fmt::format("# elmsim bench: configuration \"{}\" on random SHD-like input\n"
                       "[task]\nkind = \"shd\"\n\n"
                       "[model]\nN = {}\nd_m = {}\nd_h = {}\nn_b = {}\nk_c = {}\n\n"
                       "[train]\noptimizer = \"adamax\"\nlr = 5e-3\nbatch_size = {}\ndropout = 0.0\nloss = \"last\"\n",
                       c.name, c.N, c.d_m, c.d_h, c.n_b, c.k_c, c.B);
}

io::ExperimentConfig experiment(const BenchConfig& c) {
    return io::parse_experiment_config(config_toml(c), "bench config " + c.name);
}

// One measurement in this process; prints one JSON line. Inference (tape-free) runs only in the
// recompute = 0 child, so the recomputing child's peak memory is that of training alone.
void run_worker(const BenchArgs& a) {
    const auto cfg = experiment(find_config(a.worker));
    const auto net = models::make_network<float>(cfg.model);
    sim::BackendOptions bo;
    bo.threads = a.threads;
    const auto backend = sim::make_backend(a.backend, net, bo);
    const models::Batch batch = random_spike_batch(cfg.model, a.T, static_cast<int>(cfg.train.batch_size));
    sim::RunOptions ro;
    ro.loss = models::LossMode::last;
    ro.recompute_every = a.recompute;
    std::string infer;
    if (a.recompute == 0) {
        const double ms =
            median_ms([&] { backend->step(batch, ro, nullptr, false, nullptr); }, a.warmup, a.repeats);
        infer = fmt::format(",\"infer_ms\":{:.4f}", ms);
    }
    const double train = median_ms(
        [&] {
            backend->zero_gradients();
            backend->step(batch, ro, nullptr, true, nullptr);
            backend->update(cfg.train, cfg.train.lr);
        },
        a.warmup, a.repeats);
    fmt::print("{{\"config\":\"{}\",\"threads\":{},\"recompute\":{},\"train_ms\":{:.4f}{},\"activation_bytes\":{}}}\n",
               a.worker, a.threads, a.recompute, train, infer, backend->activation_bytes());
}

struct Measured {
    double train_ms = NAN, infer_ms = NAN, rss_mb = NAN, act_mb = NAN;
};

Measured run_worker_child(const BenchArgs& a, const std::string& name, int threads, int recompute) {
    const std::vector<std::string> argv = {
        "/proc/self/exe", "bench", "--worker", name, "--backend", a.backend, "--threads", std::to_string(threads),
        "--repeats", std::to_string(a.repeats), "--warmup", std::to_string(a.warmup),
        "--T", std::to_string(a.T), "--recompute", std::to_string(recompute)};
    const ChildResult r = run_child(argv, {});
    const auto train = json_number(r.out, "train_ms");
    if (r.exit_code != 0 || !train)
        throw std::runtime_error(fmt::format("bench: the worker for \"{}\" ({} threads, recompute {}) failed with "
                                             "exit code {}", name, threads, recompute, r.exit_code));
    Measured m;
    m.train_ms = *train;
    m.infer_ms = json_number(r.out, "infer_ms").value_or(NAN);
    m.act_mb = json_number(r.out, "activation_bytes").value_or(NAN) / (1024.0 * 1024.0);
    m.rss_mb = r.maxrss_mb;
    return m;
}

// Median of each time over repeated runs of one worker; peak memory: the largest seen.
Measured median_of(const std::vector<Measured>& runs) {
    std::vector<double> train, infer;
    Measured m;
    m.rss_mb = 0;
    for (const auto& r : runs) {
        train.push_back(r.train_ms);
        infer.push_back(r.infer_ms);
        m.rss_mb = std::max(m.rss_mb, r.rss_mb);
        m.act_mb = r.act_mb;  // deterministic
    }
    m.train_ms = median(train);
    m.infer_ms = median(infer);
    return m;
}

struct Row {
    BenchConfig cfg;
    FlopCount flops;
    Measured full, rec, torch;
    double one_thread_ms = NAN;  // median over the kPairs scaling pairs
    double speedup = NAN;        // median 1-thread time / median --threads time, paired runs
};

std::string cell(double v, int width, int precision) {
    return std::isnan(v) ? fmt::format("{:>{}}", "-", width) : fmt::format("{:>{}.{}f}", v, width, precision);
}

// JSON has no NaN: unmeasured values are null.
std::string jnum(double v) { return std::isnan(v) ? "null" : fmt::format("{:.6g}", v); }

void run_bench(const BenchArgs& a) {
    std::vector<BenchConfig> configs;
    std::stringstream names(a.configs);
    for (std::string n; std::getline(names, n, ',');) configs.push_back(find_config(n));
    using tools::require_flag_range;
    require_flag_range("--threads", a.threads, 1, 1024);
    require_flag_range("--repeats", a.repeats, 1, 100000);
    require_flag_range("--warmup", a.warmup, 0, 100000);
    require_flag_range("--T", a.T, 1, 1000000);
    require_flag_range("--recompute", a.recompute, 0, 1000000);
    if (!a.json.empty()) io::ensure_writable_dir(a.json);

    const std::string reference = a.no_torch ? std::string() : find_reference_script(a.reference);
    std::string torch_note, torch_version;
    TorchProbe probe;
    if (a.no_torch) {
        torch_note = "skipped (--no-torch)";
    } else if (reference.empty()) {
        torch_note = "skipped: tools/reference/elm_reference.py not found (give --reference)";
    } else {
        probe = probe_torch(a.python, "torch, h5py");
        if (probe.version.empty())
            torch_note = fmt::format("skipped: {} cannot import torch and h5py; install them with "
                                     "tools/install_bench_deps.sh", a.python);
        else
            torch_version = probe.version;
    }
    const bool torch = !torch_version.empty();

    const ScratchDir scratch("elmsim-bench");
    const std::filesystem::path& tmp = scratch.path();
    const std::string commit = commit_or_unknown(), date = local_time_minutes();
    const std::string load = load_average();
    const auto peak1 = measure_peak_flops(1, PeakIsa::best);
    const auto peak = measure_peak_flops(a.threads, PeakIsa::best);
    const auto base = measure_peak_flops(a.threads, PeakIsa::baseline);

    fmt::print("elmsim bench: training speed against the PyTorch reference\n");
    fmt::print("machine {} ({} hardware threads), load {} | commit {} | {}{}\n", cpu_model(),
               std::thread::hardware_concurrency(), load, commit, date,
#ifdef NDEBUG
               "");
#else
               " | WARNING: unoptimised (Debug) build, times are not meaningful");
#endif
    fmt::print("threads {} | T {} | median of {} after {} warm-up | input: random events, P = {} per channel-bin, "
               "C 700, n_out 20, loss on the last step, Adamax, no dropout\n",
               a.threads, a.T, a.repeats, a.warmup, kBenchEventRate);
    fmt::print("peak float ({}): {:.1f} GFLOP/s on 1 thread, {:.1f} on {} | baseline build ISA ({}): {:.1f} on {} | "
               "elmsim GEMM kernels: {}\n",
               peak.isa, peak1.gflops, peak.gflops, a.threads, base.isa, base.gflops, a.threads, sim::cpu::gemm_kernels());
    fmt::print("torch: {}\n", torch ? fmt::format("{} on BLAS {} ({} {}, OMP_NUM_THREADS={}, OMP_WAIT_POLICY={})",
                                                  torch_version, probe.blas.empty() ? "(none mapped)" : probe.blas,
                                                  a.python, reference, a.threads,
                                                  std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY")
                                                                                 : "PASSIVE")
                                    : torch_note);
    if (torch && probe.reference_blas) fmt::print("{}\n", reference_blas_warning(probe));
    fmt::print("\n");
    std::fflush(stdout);

    std::vector<Row> rows;
    for (const auto& c : configs) {
        Row r{c, {}, {}, {}, {}, NAN};
        const auto cfg = experiment(c);
        r.flops = count_flops(cfg.model, a.T, c.B, 1);
        if (a.recompute > 0) {
            std::vector<Measured> full, rec;
            for (int p = 0; p < kPairs; ++p) {
                full.push_back(run_worker_child(a, c.name, a.threads, 0));
                rec.push_back(run_worker_child(a, c.name, a.threads, a.recompute));
            }
            r.full = median_of(full);
            r.rec = median_of(rec);
        } else {
            r.full = run_worker_child(a, c.name, a.threads, 0);
        }
        if (c.name == "wide" && a.threads != kScalingThreads) {
            std::vector<double> one, many;
            for (int p = 0; p < kPairs; ++p) {
                one.push_back(run_worker_child(a, c.name, kScalingThreads, 0).train_ms);
                many.push_back(run_worker_child(a, c.name, a.threads, 0).train_ms);
            }
            r.one_thread_ms = median(one);
            r.speedup = r.one_thread_ms / median(many);
        }
        if (torch) {
            const std::string model = (tmp / (c.name + ".h5")).string();
            io::save_checkpoint(model, models::make_network<float>(cfg.model), cfg.toml_text, nullptr, tools::created_by());
            const std::string k = std::to_string(a.threads);
            std::vector<std::string> env = {"OMP_NUM_THREADS=" + k, "MKL_NUM_THREADS=" + k, "OPENBLAS_NUM_THREADS=" + k};
            // OpenMP's default spin-waiting makes torch's small products many times slower on a machine
            // shared with other work (bench-text measured ~10x); passive waiting unless the user chose.
            if (!std::getenv("OMP_WAIT_POLICY")) env.push_back("OMP_WAIT_POLICY=PASSIVE");
            const auto t = run_child({a.python, reference, "--bench", "--model", model, "--steps-T",
                                      std::to_string(a.T), "--batch", std::to_string(c.B), "--threads", k,
                                      "--repeats", std::to_string(a.repeats), "--warmup", std::to_string(a.warmup)},
                                     env);
            r.torch.train_ms = json_number(t.out, "train_ms").value_or(NAN);
            r.torch.infer_ms = json_number(t.out, "infer_ms").value_or(NAN);
            if (t.exit_code == 0) r.torch.rss_mb = t.maxrss_mb;
            else fmt::print(stderr, "bench: the reference failed on \"{}\" (exit code {})\n", c.name, t.exit_code);
        }
        rows.push_back(r);
    }

    const std::string K = std::to_string(a.recompute);
    fmt::print("{:<8} {:>3} | {:>9} {:>9} {:>5} | {:>9} {:>9} {:>5} | {:>6} | {:>7} {:>7} | {:>6} {:>5} | {:>8} {:>8} "
               "{:>5} {:>6} | {:>5}\n",
               "config", "B", "train_elm", "train_pt", "ratio", "infer_elm", "infer_pt", "ratio", "Mns/s", "rss_elm",
               "rss_pt", "GF/s", "%peak", "act_full", "act_K" + K, "act_x", "time_x", "1T/" + std::to_string(a.threads) + "T");
    int train_ok = 0, infer_ok = 0, mem_ok = 0, rec_ok = 0, compared = 0;
    double speedup = NAN;
    for (const auto& r : rows) {
        const double tr = r.full.train_ms / r.torch.train_ms, ir = r.full.infer_ms / r.torch.infer_ms;
        const double nsteps = static_cast<double>(r.cfg.N) * r.cfg.B * a.T;
        const double gf = r.flops.train() / (r.full.train_ms * 1e6);
        const double act_x = r.rec.act_mb / r.full.act_mb, time_x = r.rec.train_ms / r.full.train_ms;
        const double sp = r.speedup;
        if (!std::isnan(sp)) speedup = sp;
        if (!std::isnan(tr)) {
            ++compared;
            train_ok += tr <= 0.5;
            infer_ok += ir <= 0.2;
            mem_ok += r.full.rss_mb <= r.torch.rss_mb;
        }
        rec_ok += act_x <= 0.25 && time_x <= 1.5;
        fmt::print("{:<8} {:>3} | {} {} {} | {} {} {} | {} | {} {} | {} {} | {} {} {} {} | {}\n", r.cfg.name, r.cfg.B,
                   cell(r.full.train_ms, 9, 1), cell(r.torch.train_ms, 9, 1), cell(tr, 5, 2),
                   cell(r.full.infer_ms, 9, 1), cell(r.torch.infer_ms, 9, 1), cell(ir, 5, 2), cell(nsteps / (r.full.train_ms * 1e3), 6, 2),
                   cell(r.full.rss_mb, 7, 1), cell(r.torch.rss_mb, 7, 1), cell(gf, 6, 2), cell(100.0 * gf / peak.gflops, 5, 1),
                   cell(r.full.act_mb, 8, 1), cell(r.rec.act_mb, 8, 1), cell(act_x, 5, 3), cell(time_x, 6, 2),
                   cell(sp, 5, 2));
    }
    fmt::print("(ms: median per step, for elmsim also over {} back-to-back (full tape, recompute) runs; ratio = "
               "elmsim / torch; Mns/s = million neuron-steps per second in training; rss = peak resident MB of the "
               "process; GF/s = analytic training FLOPs / time, %peak of {:.1f} GFLOP/s; act = "
               "activation MB, full tape vs recompute every {}; time_x = recompute / full tape time)\n",
               kPairs, peak.gflops, a.recompute);
    const auto verdict = [](int ok, int n) { return n == 0 ? std::string("n/a") : fmt::format("{}/{} met", ok, n); };
    fmt::print("summary: train <= 0.5x torch {} | infer <= 0.2x {} | rss <= torch {} | recompute act <= 1/4 at <= 1.5x "
               "time {} | wide {}-thread speedup {} (>= 1.7x)\n",
               verdict(train_ok, compared), verdict(infer_ok, compared), verdict(mem_ok, compared),
               a.recompute > 0 ? verdict(rec_ok, static_cast<int>(rows.size())) : "n/a", a.threads,
               std::isnan(speedup) ? "n/a" : fmt::format("{:.2f}x", speedup));
    if (torch && probe.reference_blas) fmt::print("{}\n", reference_blas_warning(probe));

    if (a.json.empty()) return;
    io::AtomicOutput out(a.json);
    {
        std::ofstream f(out.tmp_path());
        for (const auto& r : rows)
            f << fmt::format("{{\"config\":\"{}\",\"N\":{},\"d_m\":{},\"d_h\":{},\"n_b\":{},\"k_c\":{},\"B\":{},\"T\":{},"
                             "\"threads\":{},\"repeats\":{},\"train_ms\":{},\"infer_ms\":{},\"rss_mb\":{},"
                             "\"torch_train_ms\":{},\"torch_infer_ms\":{},\"torch_rss_mb\":{},\"train_flops\":{},"
                             "\"peak_gflops\":{},\"activation_mb\":{},\"recompute\":{},\"recompute_train_ms\":{},"
                             "\"recompute_activation_mb\":{},\"one_thread_train_ms\":{},\"speedup\":{},\"machine\":\"{}\","
                             "\"commit\":\"{}\",\"date\":\"{}\",\"load\":\"{}\"}}\n",
                             r.cfg.name, r.cfg.N, r.cfg.d_m, r.cfg.d_h, r.cfg.n_b, r.cfg.k_c, r.cfg.B, a.T, a.threads,
                             a.repeats, jnum(r.full.train_ms), jnum(r.full.infer_ms), jnum(r.full.rss_mb),
                             jnum(r.torch.train_ms), jnum(r.torch.infer_ms), jnum(r.torch.rss_mb), jnum(r.flops.train()),
                             jnum(peak.gflops), jnum(r.full.act_mb), a.recompute, jnum(r.rec.train_ms),
                             jnum(r.rec.act_mb), jnum(r.one_thread_ms), jnum(r.speedup), cpu_model(), commit, date, load);
        if (!f.flush()) throw InputError(fmt::format("{}: could not write the results", a.json));
    }
    out.commit();
    fmt::print("results: {}\n", a.json);
}

}  // namespace

void register_bench(CLI::App& app) {
    auto a = std::make_shared<BenchArgs>();
    auto* cmd = app.add_subcommand("bench", "Training-speed benchmark against the PyTorch reference");
    cmd->add_option("--configs", a->configs, "Comma-separated configurations: small, wide, complex");
    cmd->add_option("--threads", a->threads, "Threads for elmsim and torch (default 2)");
    cmd->add_option("--backend", a->backend, "elmsim backend to measure (default cpu)");
    cmd->add_option("--repeats", a->repeats, "Timed repeats; the median is reported (default 5)");
    cmd->add_option("--warmup", a->warmup, "Untimed runs first (default 1)");
    cmd->add_option("--T", a->T, "Time steps per sample (default 500)");
    cmd->add_option("--recompute", a->recompute, "Recomputation interval K for the memory columns (0 = off; default 50)");
    cmd->add_flag("--no-torch", a->no_torch, "Do not run the PyTorch reference");
    cmd->add_option("--json", a->json, "Also write one JSON line per configuration to this file");
    cmd->add_option("--python", a->python, "Python with torch and h5py (default /usr/bin/python3)");
    cmd->add_option("--reference", a->reference, "Path of tools/reference/elm_reference.py");
    // Internal: one measurement in a child process (see the file comment).
    cmd->add_option("--worker", a->worker)->group("");
    cmd->callback([a] { a->worker.empty() ? run_bench(*a) : run_worker(*a); });
}

}  // namespace elm::bench
