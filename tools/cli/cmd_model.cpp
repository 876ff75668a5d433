// `elmsim info`, `elmsim budget`, `elmsim init`: structure, parameter accounting, untrained models.
#include <cmath>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/param_count.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"

namespace elm::tools {

namespace {
// A parameter budget as typed: a whole number, also in scientific notation (20000, 1e6, 2.5e5).
std::int64_t parse_budget(const std::string& text) {
    std::size_t used = 0;
    double v = 0.0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !std::isfinite(v) || v <= 0.0 || v > 9.0e15 || v != std::floor(v))
        throw InputError(fmt::format("--params: expected a budget P > 0, a whole number of parameters such as 20000 "
                                     "or 1e6, got \"{}\"", text));
    return static_cast<std::int64_t>(v);
}

void print_counts(const models::ModelConfig& cfg, const std::string& task) {
    const auto pc = models::count_params(cfg);
    const models::ParamLayout layout(cfg);
    fmt::print("task           {}\n", task);
    fmt::print("output_mode    {}   phi {}   l {}\n", models::to_string(cfg.output_mode), models::to_string(cfg.phi), cfg.l);
    fmt::print("N              {}\n", cfg.N);
    fmt::print("k_e            {}   (MLP {}, output {}, tau_m {})\n", pc.k_e, pc.mlp, pc.output, pc.tau);
    fmt::print("k_c            {}   (k_in {} inputs, k_rec {} recurrent, {} branches)\n", pc.k_c, cfg.k_in(),
               cfg.k_rec(), cfg.n_b);
    fmt::print("d_m {}  d_h {}  n_b {}  C {}  C_e {}  n_out {}\n", cfg.d_m, cfg.d_h, cfg.n_b, cfg.C, cfg.C_e, cfg.n_out);
    fmt::print("P              {}\n", pc.P);
    fmt::print("  synapses     {}   (N k_c)\n", static_cast<std::int64_t>(cfg.N) * pc.k_c);
    fmt::print("  neurons      {}   (N k_e)\n", static_cast<std::int64_t>(cfg.N) * pc.k_e);
    fmt::print("  readout      {}   (n_out (N + 1))\n", pc.readout);
    fmt::print("  embedding    {}   (256 C_e)\n", pc.embedding);
    fmt::print("trainable scalars in the parameter layout: {}\n", layout.trainable_size());
}

struct InfoArgs {
    std::string config, model;
};

struct BudgetArgs {
    std::string task = "shd-adding", config, axis = "N", params;
    double tolerance = 0.05;
};

struct InitArgs {
    std::string config, out;
};

}  // namespace

void register_info(CLI::App& app) {
    auto args = std::make_shared<InfoArgs>();
    auto* cmd = app.add_subcommand("info", "Print N, k_e, k_c, P and the per-part parameter counts");
    auto* c = cmd->add_option("--config", args->config, "Experiment config (TOML)");
    auto* m = cmd->add_option("--model", args->model, "Model checkpoint (HDF5)");
    c->excludes(m);
    cmd->callback([args] {
        if (!args->config.empty()) {
            const auto cfg = io::load_experiment_config(args->config);
            print_counts(cfg.model, io::to_string(cfg.task.kind));
        } else if (!args->model.empty()) {
            const auto ck = io::load_checkpoint(args->model);
            print_counts(ck.net.cfg, "from " + args->model);
        } else {
            throw InputError("info: give --config F or --model F");
        }
    });
}

void register_budget(CLI::App& app) {
    auto args = std::make_shared<BudgetArgs>();
    auto* cmd = app.add_subcommand("budget", "List configurations whose parameter count P fits a budget");
    cmd->add_option("--task", args->task, "Task: shd, shd-adding or bytes (sets C and n_out)");
    cmd->add_option("--params", args->params, "Budget P (trainable parameters; 20000, 1e6 and 2.5e5 are accepted)")
        ->required();
    cmd->add_option("--axis", args->axis, "Axis to vary: N, k_e or k_c");
    cmd->add_option("--tolerance", args->tolerance, "Relative tolerance on P");
    cmd->add_option("--config", args->config, "Base configuration (TOML); defaults to the task's defaults");
    cmd->callback([args] {
        models::ModelConfig base;
        std::string task = args->task;
        if (!args->config.empty()) {
            const auto cfg = io::load_experiment_config(args->config);
            base = cfg.model;
            task = io::to_string(cfg.task.kind);
        } else {
            const auto cfg = io::parse_experiment_config(fmt::format("[task]\nkind = \"{}\"\n", args->task), "--task");
            base = cfg.model;
        }
        const std::int64_t P = parse_budget(args->params);
        const auto axis = with_flag_names({{"axis", "--axis"}}, [&] { return models::axis_from_string(args->axis); });
        const auto list = models::configs_for_budget(base, P, axis, args->tolerance);
        fmt::print("# task {}  budget P = {}  axis {}  tolerance {}\n", task, P, args->axis, args->tolerance);
        fmt::print("{:>7} {:>7} {:>7} {:>5} {:>5} {:>5} {:>10} {:>8}\n", "N", "k_e", "k_c", "d_m", "d_h", "n_b", "P",
                   "P/budget");
        for (const auto& c : list)
            fmt::print("{:>7} {:>7} {:>7} {:>5} {:>5} {:>5} {:>10} {:>8.4f}\n", c.cfg.N, c.count.k_e, c.count.k_c,
                       c.cfg.d_m, c.cfg.d_h, c.cfg.n_b, c.count.P,
                       static_cast<double>(c.count.P) / static_cast<double>(P));
    });
}

void register_init(CLI::App& app) {
    auto args = std::make_shared<InitArgs>();
    auto* cmd = app.add_subcommand("init", "Build a model from a config (seeded) and save it untrained");
    cmd->add_option("--config", args->config, "Experiment config (TOML)")->required();
    cmd->add_option("--out", args->out, "Output checkpoint (HDF5)")->required();
    cmd->callback([args] {
        io::ensure_writable_dir(args->out);
        const auto cfg = io::load_experiment_config(args->config);
        const auto net = models::make_network<float>(cfg.model);
        io::save_checkpoint(args->out, net, cfg.toml_text, nullptr, created_by());
        const auto pc = models::count_params(cfg.model);
        fmt::print("wrote {}: N {} k_e {} k_c {} P {}\n", args->out, cfg.model.N, pc.k_e, pc.k_c, pc.P);
    });
}

}  // namespace elm::tools
