// `elmsim bench-event`: what learning on the event schedule costs (spec section 5), against clock-mode
// training of the same network in the same run. One training step (forward + BPTT + Adamax) of B rows
// and T steps, median of repeats, for:
//   clock          the clock batch (every update dt_ms): the reference;
//   event, dt      an event batch whose every update is one dt_ms (the clock schedule through the
//                  event path: per-row timing, no padding);
//   event, varied  every row and step its own gap of 1..G cells (per-row decays, rate gains);
//   event, padded  row 0 updates at every step, the other rows only in the last T/8 steps (7/8 of
//                  their steps are padding);
//   one row        row 0 alone (B = 1): with the clock batch, what the padded batch would cost if its
//                  padded row-updates were free; the excess is reported per padded row-update.
// Input: random events, each channel-update holds one with probability 0.05. Prints one table.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::bench {

namespace {

struct BenchEventArgs {
    int N = 64, d_m = 12, k_c = 32, T = 400, B = 8, G = 10, threads = 2, repeats = 5;
    std::string backend = "cpu";
};

models::Batch random_batch(const models::ModelConfig& m, int T, int B, Rng& rng) {
    models::Batch b;
    b.T = T;
    b.B = B;
    b.C = m.C;
    b.x.resize(static_cast<std::size_t>(T) * B * m.C);
    for (auto& v : b.x) v = rng.uniform() < 0.05 ? 1.0f : 0.0f;
    for (int r = 0; r < B; ++r) b.targets.push_back(static_cast<std::int32_t>(rng.below(m.n_out)));
    return b;
}

void run_bench_event(const BenchEventArgs& a) {
    // Upper bounds too: 2 d_m, T x B x C and T x B gap cells are computed from these.
    using tools::require_flag_range;
    require_flag_range("--N", a.N, 2, 65536);
    require_flag_range("--d-m", a.d_m, 1, 4096);
    require_flag_range("--k-c", a.k_c, 1, 65536);
    require_flag_range("--T", a.T, 8, 1000000);
    require_flag_range("--B", a.B, 2, 4096);
    require_flag_range("--G", a.G, 1, 1000000);
    require_flag_range("--threads", a.threads, 0, 1024);
    require_flag_range("--repeats", a.repeats, 1, 100000);
    models::ModelConfig m;
    m.N = a.N;
    m.C = 700;
    m.n_out = 19;
    m.d_m = a.d_m;
    m.d_h = 2 * a.d_m;
    m.n_b = 4;
    m.k_c = a.k_c;
    m.dt_ms = 2.0;
    m.validate();
    const auto net = models::make_network<float>(m);
    sim::BackendOptions bo;
    bo.threads = a.threads;
    const auto backend = sim::make_backend(a.backend, net, bo);
    models::TrainConfig tc;
    tc.optimizer = models::OptimizerKind::adamax;
    sim::RunOptions ro;
    const auto step_ms = [&](const models::Batch& batch) {
        return median_ms(
            [&] {
                backend->zero_gradients();
                backend->step(batch, ro, nullptr, true, nullptr);
                backend->update(tc, 1e-3);
            },
            1, a.repeats);
    };
    Rng rng(7, 1);
    const models::Batch clock = random_batch(m, a.T, a.B, rng);
    models::Batch event_dt = clock;
    event_dt.resolution_ms = m.dt_ms;
    event_dt.gap_cells.assign(static_cast<std::size_t>(a.T) * a.B, 1);
    models::Batch varied = clock;
    varied.resolution_ms = m.dt_ms / a.G;
    varied.gap_cells.resize(static_cast<std::size_t>(a.T) * a.B);
    for (auto& g : varied.gap_cells) g = static_cast<std::int32_t>(1 + rng.below(static_cast<std::uint64_t>(a.G)));
    models::Batch padded = varied;
    const int late = a.T - a.T / 8;  // rows >= 1 update only from here on
    for (int t = 0; t < late; ++t)
        for (int r = 1; r < a.B; ++r) {
            padded.gap_cells[static_cast<std::size_t>(t) * a.B + r] = 0;
            std::fill_n(padded.x.begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(t) * a.B + r) * m.C), m.C,
                        0.0f);
        }
    models::Batch one;
    one.T = a.T;
    one.B = 1;
    one.C = m.C;
    one.resolution_ms = varied.resolution_ms;
    one.targets = {varied.targets[0]};
    for (int t = 0; t < a.T; ++t) {
        one.gap_cells.push_back(varied.gap_cells[static_cast<std::size_t>(t) * a.B]);
        const auto x = varied.x.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(t) * a.B * m.C);
        one.x.insert(one.x.end(), x, x + m.C);
    }

    fmt::print("elmsim bench-event: one training step (forward + BPTT + Adamax) | machine {} | load {} | commit {}\n",
               cpu_model(), load_average(), first_line_of("git rev-parse --short HEAD 2>/dev/null"));
    fmt::print("N {}  d_m {}  k_c {}  C 700  T {}  B {}  gaps 1..{} cells  threads {}  backend {}  median of {}\n\n", a.N,
               a.d_m, a.k_c, a.T, a.B, a.G, a.threads, backend->describe(), a.repeats);
    const double ref = step_ms(clock);
    const double one_ms = step_ms(one);
    const auto row = [&](const char* name, double updates, double ms, const std::string& note) {
        fmt::print("| {} | {:.0f} | {:.2f} | {:.2f} | {} |\n", name, updates, ms, ms / ref, note);
    };
    fmt::print("| batch | row updates | ms/step | x clock | |\n|---|---|---|---|---|\n");
    const double all = static_cast<double>(a.T) * a.B;
    row("clock", all, ref, "the reference");
    row("event, every update dt", all, step_ms(event_dt), "the clock schedule through the event path");
    row("event, varied gaps", all, step_ms(varied), "a decay set per row and step, rate gains");
    const double padded_ms = step_ms(padded);
    const double padded_updates = a.T + static_cast<double>(a.B - 1) * (a.T - late);
    // What the padded batch would cost if padding were free: its first `late` steps as the one-row batch,
    // the rest as the clock batch. The excess, per padded row-update, against a clock row-update.
    const double free_ms = one_ms * late / a.T + ref * (a.T - late) / a.T;
    const double per_padded = (padded_ms - free_ms) / (static_cast<double>(a.B - 1) * late);
    row("event, padded 7/8", padded_updates, padded_ms,
        fmt::format("{:.2f} ms if padding were free; a padded row-update costs {:.2f} of a clock one", free_ms,
                    per_padded / (ref / all)));
    row("one row alone (B = 1)", a.T, one_ms, "row 0 of the padded batch, alone");
}

}  // namespace

void register_bench_event(CLI::App& app) {
    auto a = std::make_shared<BenchEventArgs>();
    auto* cmd = app.add_subcommand("bench-event",
                                   "Training on the event schedule against clock-mode training: per-row timing, padding");
    cmd->add_option("--N", a->N, "Neurons (default 64)");
    cmd->add_option("--d-m", a->d_m, "Memory units per neuron (default 12)");
    cmd->add_option("--k-c", a->k_c, "Synapses per neuron (default 32)");
    cmd->add_option("--T", a->T, "Steps per batch (default 400)");
    cmd->add_option("--B", a->B, "Rows per batch (default 8)");
    cmd->add_option("--G", a->G, "Longest gap in cells (default 10)");
    cmd->add_option("--threads", a->threads, "Worker threads (default 2)");
    cmd->add_option("--repeats", a->repeats, "Timed repeats (default 5)");
    cmd->add_option("--backend", a->backend, "Backend (default cpu)");
    cmd->callback([a] { run_bench_event(*a); });
}

}  // namespace elm::bench
