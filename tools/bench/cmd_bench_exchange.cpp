// `elmsim bench-exchange`: the gradient exchange of data-parallel training (sim/data_parallel.hpp) on
// its own, run under mpirun/srun: for each parameter count P, the median time of the fixed-order sum
// over the job's processes (tree_sum_over_ranks) of P floats, the bytes each process sent, and the
// rate. Rank 0 prints one markdown table; with one process there is nothing to exchange.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/cli/commands.hpp"

namespace elm::bench {

namespace {

struct ExchangeArgs {
    std::vector<std::int64_t> params{100000, 1000000, 10000000};
    int repeats = 10;
};

// Bytes rank `r` sends in one exchange of `count` floats over R ranks (as tree_sum_over_ranks does).
double bytes_sent(std::size_t count, int R) {
    if (R == 1) return 0.0;
    if ((R & (R - 1)) != 0) return 4.0 * static_cast<double>(count) * (R - 1);  // all-gather
    const double piece = std::ceil(static_cast<double>(count) / R);
    // Halving: half, a quarter, ... of the padded vector; then the all-gather of the pieces.
    return 4.0 * piece * (R - 1) + 4.0 * piece * (R - 1);
}

void run_bench_exchange(const ExchangeArgs& a) {
    if (a.repeats < 1) throw InputError("bench-exchange: --repeats must be >= 1");
    for (const auto p : a.params)
        if (p < 1 || p > (std::int64_t{1} << 30))
            throw InputError(fmt::format("bench-exchange: --params {}: expected 1 .. 2^30 floats", p));
    const auto comm = sim::world_communicator();
    const int R = comm->size();
    const bool speaks = comm->rank() == 0;
    if (speaks) {
        fmt::print("bench-exchange: {}, the fixed-order gradient sum of data-parallel training\n\n", comm->describe());
        fmt::print("| P (floats) | bytes sent per process | median time (ms) | sent per process (GB/s) |\n");
        fmt::print("|--:|--:|--:|--:|\n");
    }
    for (const auto p : a.params) {
        std::vector<float> data(static_cast<std::size_t>(p));
        std::vector<double> seconds;
        sim::RankSumBuffers buffers;  // kept between exchanges, as training keeps them
        for (int k = 0; k <= a.repeats; ++k) {
            for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>((i + comm->rank()) % 7);
            comm->barrier();
            const auto t0 = std::chrono::steady_clock::now();
            sim::tree_sum_over_ranks(*comm, data, buffers);
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (k > 0) seconds.push_back(s);  // the first is a warm-up
        }
        std::sort(seconds.begin(), seconds.end());
        const double med = seconds[seconds.size() / 2];
        const double bytes = bytes_sent(data.size(), R);
        if (speaks)
            fmt::print("| {} | {:.3g} | {:.3f} | {} |\n", p, bytes, 1e3 * med,
                       R == 1 ? std::string("-") : fmt::format("{:.2f}", bytes / med / 1e9));
    }
}

}  // namespace

void register_bench_exchange(CLI::App& app) {
    auto a = std::make_shared<ExchangeArgs>();
    auto* cmd = app.add_subcommand("bench-exchange",
                                   "The gradient exchange of training on many processes (run under mpirun)");
    cmd->add_option("--params", a->params, "Parameter counts to exchange (default 1e5 1e6 1e7)");
    cmd->add_option("--repeats", a->repeats, "Timed exchanges per count, after one warm-up (default 10)");
    cmd->callback([a] { run_bench_exchange(*a); });
}

}  // namespace elm::bench
