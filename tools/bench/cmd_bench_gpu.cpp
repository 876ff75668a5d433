// `elmsim bench-gpu`: the CUDA backend's benchmark. One table, each row one configuration
// at one batch size, T steps of random SHD-like input:
//  - cuda: training ms/step (forward + BPTT + Adamax), inference ms/step, million neuron-steps/s in
//    training, achieved GFLOP/s (tools/bench/flop_count.hpp) and its share of the device's FP32 peak,
//    and the kernel launches and stream copies/memsets of one training step (gpu/launch_counts.hpp);
//  - cpu (the CPU backend with --cpu-threads threads, only where it finishes in reasonable time) and
//    the ratio cpu / cuda;
//  - torch: the PyTorch reference (tools/reference/elm_reference.py --bench --device cuda) on the same
//    GPU, and the ratio torch / cuda;
// then the SHD-Adding-sized simulation: 2264 samples through the cuda backend's batched inference on
// the `wide` configuration (evaluation path: clock mode, one step() per batch).
// Rows run in order of cost, each with a fixed number of repeats (fewer for the big ones), and print as
// they finish, so a time limit around the command still leaves the rows it reached.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/bench/flop_count.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_range.hpp"
#if defined(ELM_WITH_CUDA)
#include "elmsim/gpu/cuda_backend.hpp"
#endif

namespace elm::bench {

namespace {


struct GpuBenchArgs {
    int T = 500, repeats = 3, warmup = 1, cpu_threads = 2, device = 0, recompute = 50;
    std::string python = "python3", reference;
    bool no_torch = false, no_cpu = false, quick = false;
};

#if defined(ELM_WITH_CUDA)

struct GpuRow {
    std::string name;
    int N, d_m, d_h, n_b, k_c, B;
    bool cpu;  // the CPU backend is timed on this row
};

// The three configurations of `elmsim bench` at their batch sizes and at B = 64 and 256, then the
// large networks (N = 1024 and 4096, d_m 16-64, k_c 64-256).
std::vector<GpuRow> rows(bool quick) {
    std::vector<GpuRow> r = {
        {"small", 64, 16, 32, 4, 32, 16, true},     {"small", 64, 16, 32, 4, 32, 64, false},
        {"small", 64, 16, 32, 4, 32, 256, false},   {"wide", 256, 16, 32, 4, 64, 16, true},
        {"wide", 256, 16, 32, 4, 64, 64, true},     {"wide", 256, 16, 32, 4, 64, 256, false},
        {"complex", 128, 64, 128, 8, 64, 8, true},  {"complex", 128, 64, 128, 8, 64, 64, false},
        {"complex", 128, 64, 128, 8, 64, 256, false}, {"L1024", 1024, 16, 32, 4, 64, 64, false},
        {"L1024w", 1024, 64, 128, 8, 256, 64, false}, {"L4096", 4096, 16, 32, 4, 64, 64, false},
        {"L4096w", 4096, 32, 64, 8, 128, 64, false},
    };
    if (quick) r.resize(6);
    return r;
}

io::ExperimentConfig experiment(const GpuRow& c) {
    const std::string toml = fmt::format(
        "# elmsim bench-gpu: {} at B = {}\n[task]\nkind = \"shd\"\n\n[model]\nN = {}\nd_m = {}\nd_h = {}\nn_b = {}\n"
        "k_c = {}\n\n[train]\noptimizer = \"adamax\"\nlr = 5e-3\nbatch_size = {}\ndropout = 0.0\nloss = \"last\"\n",
        c.name, c.B, c.N, c.d_m, c.d_h, c.n_b, c.k_c, c.B);
    return io::parse_experiment_config(toml, "bench-gpu config " + c.name);
}

struct Times {
    double train_ms = NAN, infer_ms = NAN;
    double train_launches = NAN, train_copies = NAN;  // per training step (cuda only)
};

Times time_backend(const std::string& backend_name, const io::ExperimentConfig& cfg, const models::Batch& batch,
                   const GpuBenchArgs& a, int threads, int repeats) {
    const auto net = models::make_network<float>(cfg.model);
    sim::BackendOptions bo;
    bo.threads = threads;
    bo.device = a.device;
    const auto backend = sim::make_backend(backend_name, net, bo);
    sim::RunOptions ro;
    ro.loss = models::LossMode::last;
    ro.recompute_every = a.recompute;
    Times t;
    t.infer_ms = median_ms([&] { backend->step(batch, ro, nullptr, false, nullptr); }, a.warmup, repeats);
    const gpu::LaunchCounts before = gpu::launch_counts();
    t.train_ms = median_ms(
        [&] {
            backend->zero_gradients();
            backend->step(batch, ro, nullptr, true, nullptr);
            backend->update(cfg.train, cfg.train.lr);
        },
        a.warmup, repeats);
    if (backend_name == "cuda") {
        const gpu::LaunchCounts n = gpu::launch_counts() - before;
        t.train_launches = static_cast<double>(n.kernels) / (a.warmup + repeats);
        t.train_copies = static_cast<double>(n.memory_ops) / (a.warmup + repeats);
    }
    return t;
}

std::string cell(double v, int width, int precision) {
    return std::isnan(v) ? fmt::format("{:>{}}", "-", width) : fmt::format("{:>{}.{}f}", v, width, precision);
}

void run_bench_gpu(const GpuBenchArgs& a) {
    using tools::require_flag_range;
    require_flag_range("--T", a.T, 1, 1000000);
    require_flag_range("--repeats", a.repeats, 1, 100000);
    require_flag_range("--warmup", a.warmup, 0, 100000);
    require_flag_range("--cpu-threads", a.cpu_threads, 1, 1024);
    require_flag_range("--recompute", a.recompute, 0, 1000000);
    require_flag_range("--device", a.device, 0, 1023);
    std::string why;
    if (!sim::backend_available("cuda", &why)) throw ParameterError("backend", why);
    const gpu::DeviceInfo dev = gpu::device_info(a.device);
    const std::string reference = a.no_torch ? std::string() : find_reference_script(a.reference);
    std::string torch_note;
    if (a.no_torch) {
        torch_note = "skipped (--no-torch)";
    } else if (reference.empty()) {
        torch_note = "skipped: tools/reference/elm_reference.py not found (give --reference)";
    } else {
        const auto probe = run_child({a.python, "-c", "import torch, h5py; assert torch.cuda.is_available(); "
                                                      "print(torch.__version__)"}, {}, true);
        torch_note = probe.exit_code == 0 ? probe.out.substr(0, probe.out.find('\n'))
                                          : fmt::format("skipped: {} has no torch with CUDA and h5py", a.python);
    }
    const bool torch = !a.no_torch && !reference.empty() && torch_note.rfind("skipped", 0) != 0;
    const int T = a.quick ? std::min(a.T, 100) : a.T;

    const ScratchDir scratch("elmsim-bench-gpu");
    const std::filesystem::path& tmp = scratch.path();
    const std::string commit = commit_or_unknown(), date = local_time_minutes();
    fmt::print("elmsim bench-gpu: the cuda backend against the cpu backend and the PyTorch reference on the GPU\n");
    fmt::print("device {} (sm_{}{}, {} SMs, {:.2f} GHz, FP32 peak {:.0f} GFLOP/s) | host {} | commit {} | {}\n",
               dev.name, dev.major, dev.minor, dev.sms, dev.clock_ghz, dev.fp32_peak_gflops, cpu_model(),
               commit, date);
    fmt::print("T = {}, recompute every {}, Adamax, loss on the last step; cpu: {} threads; torch: {}\n\n", T,
               a.recompute, a.cpu_threads, torch ? torch_note + " (cuda, float32)" : torch_note);
    fmt::print("{:<8} {:>5} {:>3} {:>4} {:>4} {:>4} | {:>9} {:>9} {:>8} {:>8} {:>5} {:>7} {:>6} | {:>9} {:>6} | {:>9} {:>6}\n",
               "config", "N", "d_m", "k_c", "B", "P", "train ms", "infer ms", "Mns/s", "GFLOP/s", "%pk", "kernels",
               "copies", "cpu ms", "cpu/x", "torch ms", "tor/x");
    std::fflush(stdout);
    for (const GpuRow& row : rows(a.quick)) {
        const auto cfg = experiment(row);
        const models::Batch batch = random_spike_batch(cfg.model, T, row.B);
        const auto P = models::make_network<float>(cfg.model).layout.trainable_size();
        // The largest rows take seconds a step: one timed repeat there.
        const int repeats = row.N >= 1024 ? 1 : a.repeats;
        const Times g = time_backend("cuda", cfg, batch, a, 0, repeats);
        Times c;
        if (row.cpu && !a.no_cpu) c = time_backend("cpu", cfg, batch, a, a.cpu_threads, 1);
        double torch_ms = NAN;
        if (torch) {
            const std::string model = (tmp / fmt::format("{}-{}.h5", row.name, row.B)).string();
            io::save_checkpoint(model, models::make_network<float>(cfg.model), cfg.toml_text, nullptr, tools::created_by());
            const auto t = run_child({a.python, reference, "--bench", "--device", "cuda", "--model", model, "--steps-T",
                                      std::to_string(T), "--batch", std::to_string(row.B), "--repeats",
                                      std::to_string(repeats), "--warmup", std::to_string(a.warmup)},
                                     {});
            torch_ms = json_number(t.out, "train_ms").value_or(NAN);
            if (t.exit_code != 0) fmt::print(stderr, "bench-gpu: the reference failed on {} (exit {})\n", row.name, t.exit_code);
        }
        const FlopCount f = count_flops(cfg.model, T, row.B, 1);
        const double gflops = f.train() / (g.train_ms * 1e6);
        const double mns = static_cast<double>(row.N) * T * row.B / (g.train_ms * 1e3);
        fmt::print("{:<8} {:>5} {:>3} {:>4} {:>4} {:>4} | {} {} {} {} {} {} {} | {} {} | {} {}\n", row.name, row.N, row.d_m,
                   row.k_c, row.B, P >= 1000000 ? fmt::format("{:.0f}M", P / 1e6) : fmt::format("{:.0f}k", P / 1e3),
                   cell(g.train_ms, 9, 2), cell(g.infer_ms, 9, 2), cell(mns, 8, 1), cell(gflops, 8, 1),
                   cell(100.0 * gflops / dev.fp32_peak_gflops, 5, 1), cell(g.train_launches, 7, 0), cell(g.train_copies, 6, 0),
                   cell(c.train_ms, 9, 1),
                   cell(c.train_ms / g.train_ms, 6, 1), cell(torch_ms, 9, 2), cell(torch_ms / g.train_ms, 6, 2));
        std::fflush(stdout);
    }
    // Simulation of the SHD-Adding test set's size (2264 pairs) on `wide`: batched inference, clock mode.
    {
        const GpuRow wide{"wide", 256, 16, 32, 4, 64, 256, false};
        const auto cfg = experiment(wide);
        const int samples = 2264, B = 256;
        const models::Batch batch = random_spike_batch(cfg.model, T, B);
        const auto net = models::make_network<float>(cfg.model);
        sim::BackendOptions bo;
        bo.device = a.device;
        const auto backend = sim::make_backend("cuda", net, bo);
        sim::RunOptions ro;
        backend->step(batch, ro, nullptr, false, nullptr);  // warm-up
        const auto t0 = std::chrono::steady_clock::now();
        for (int done = 0; done < samples; done += B) backend->step(batch, ro, nullptr, false, nullptr);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        fmt::print("\nsimulation, wide, {} samples x {} steps in batches of {}: {:.3f} s ({:.0f} samples/s)\n", samples,
                   T, B, s, samples / s);
    }
    fmt::print("\ncolumns: Mns/s = million neuron-steps per second in training; GFLOP/s of a training step "
               "(tools/bench/flop_count.hpp) and %pk its share of FP32 peak; kernels, copies = kernel launches and stream "
               "copies/memsets per training step (gpu/launch_counts.hpp); cpu/x and tor/x = their time / cuda's\n");
}

#else  // no CUDA backend in this build

void run_bench_gpu(const GpuBenchArgs&) {
    throw ParameterError("backend", "this build of elmsim has no CUDA backend (build with -DELM_CUDA=ON)");
}

#endif

}  // namespace

void register_bench_gpu(CLI::App& app) {
    auto a = std::make_shared<GpuBenchArgs>();
    auto* cmd = app.add_subcommand("bench-gpu", "CUDA backend benchmark against the CPU backend and PyTorch on the GPU");
    cmd->add_option("--T", a->T, "Time steps per sample (default 500)");
    cmd->add_option("--repeats", a->repeats, "Timed repeats on the GPU; the median is reported (default 3)");
    cmd->add_option("--warmup", a->warmup, "Untimed runs first (default 1)");
    cmd->add_option("--cpu-threads", a->cpu_threads, "Threads of the CPU backend it is compared with (default 2)");
    cmd->add_option("--recompute", a->recompute, "Recomputation interval K (0 = full tape; default 50)");
    cmd->add_option("--device", a->device, "CUDA device ordinal (default 0)");
    cmd->add_option("--python", a->python, "Python with torch (CUDA) and h5py (default python3)");
    cmd->add_option("--reference", a->reference, "Path of tools/reference/elm_reference.py");
    cmd->add_flag("--no-torch", a->no_torch, "Do not run the PyTorch reference");
    cmd->add_flag("--no-cpu", a->no_cpu, "Do not time the CPU backend");
    cmd->add_flag("--quick", a->quick, "The first six rows at T <= 100 (a smoke run)");
    cmd->callback([a] { run_bench_gpu(*a); });
}

}  // namespace elm::bench
