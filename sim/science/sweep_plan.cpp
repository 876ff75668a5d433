#include "elmsim/sim/science/sweep_plan.hpp"

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "elmsim/io/toml_section.hpp"
#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/information_model.hpp"

namespace elm::science {

namespace fs = std::filesystem;

namespace {

std::string run_id(const models::ModelConfig& m, std::uint64_t seed) {
    return fmt::format("N{}-dm{}-dh{}-kc{}-nb{}-l{}-s{}", m.N, m.d_m, m.d_h, m.k_c, m.n_b, m.l, seed);
}

// Steps of one sample (or byte window) at the task's bin width.
double steps_per_sample(const io::ExperimentConfig& cfg) {
    if (cfg.task.kind == io::TaskKind::bytes) return static_cast<double>(cfg.task.window);
    return std::ceil(io::sample_duration_ms(cfg.task) / cfg.model.dt_ms);
}

double estimate_gflop(const io::ExperimentConfig& base, const io::SweepConfig& sw, const models::ModelConfig& m,
                      const models::ParamCount& pc) {
    // 2 FLOPs per parameter touched, and a per-neuron share for the work that does not scale with the
    // neuron's parameters (decays, state updates, loops): measured, many tiny neurons cost ~4x their P.
    // Byte tasks read out every step: n_out N more (256 N, more than the neurons when they are small).
    const double readout = base.train.loss == models::LossMode::next_byte ? static_cast<double>(m.n_out) : 0.0;
    const double per_sample_step =
        2.0 * static_cast<double>(m.N) * (static_cast<double>(pc.k_c + pc.k_e + 128) + readout);
    const double T = steps_per_sample(base);
    const double steps = sw.steps > 0 ? static_cast<double>(sw.steps) : static_cast<double>(base.train.max_steps);
    const double train = 3.0 * per_sample_step * T * static_cast<double>(base.train.batch_size) * steps;
    const double eval_samples = base.task.kind == io::TaskKind::shd_adding ? static_cast<double>(base.task.adding_test_pairs)
                                : base.task.kind == io::TaskKind::bytes
                                    ? static_cast<double>(std::max<std::int64_t>(base.task.eval_windows, 1))
                                    : 500.0;
    return (train + per_sample_step * T * eval_samples) / 1e9;
}

void check_metric(const io::SweepConfig& sw, const io::ExperimentConfig& base) {
    const bool bytes = base.task.kind == io::TaskKind::bytes;
    if (bytes && sw.metric == io::SweepMetric::test_accuracy)
        throw InputError(fmt::format("{}: sweep.metric: expected \"test_loss\" | \"test_bpc\" for a bytes task, got "
                                     "\"test_accuracy\"", sw.origin));
    if (!bytes && sw.metric == io::SweepMetric::test_bpc)
        throw InputError(fmt::format("{}: sweep.metric: expected \"test_loss\" | \"test_accuracy\" for a {} task, got "
                                     "\"test_bpc\"", sw.origin, io::to_string(base.task.kind)));
}

class PlanBuilder {
public:
    PlanBuilder(SweepPlan& plan) : plan_(plan) {}

    void add(models::ModelConfig m, const RunGroup& group) {
        for (std::uint64_t seed : plan_.sweep.seeds) {
            m.seed = seed;
            const std::string id = run_id(m, seed);
            auto it = index_.find(id);
            if (it == index_.end()) {
                PlannedRun r;
                r.id = id;
                r.seed = seed;
                r.model = m;
                r.count = models::count_params(m);
                r.est_gflop = estimate_gflop(plan_.base, plan_.sweep, m, r.count);
                index_[id] = plan_.runs.size();
                plan_.runs.push_back(std::move(r));
                it = index_.find(id);
            }
            auto& groups = plan_.runs[it->second].groups;
            if (std::find(groups.begin(), groups.end(), group) == groups.end()) groups.push_back(group);
        }
    }

private:
    SweepPlan& plan_;
    std::map<std::string, std::size_t> index_;
};

}  // namespace

models::ModelConfig scan_model(const io::SweepConfig& sw, const models::ModelConfig& base, std::size_t k, int value) {
    const io::SweepScan& scan = sw.scans[k];
    models::ModelConfig m = base;
    const auto set = [&m](const std::string& key, int v) {
        if (key == "N") m.N = v;
        else if (key == "d_m") m.d_m = v;
        else if (key == "d_h") m.d_h = v;
        else if (key == "k_c") m.k_c = v;
        else if (key == "n_b") m.n_b = v;
        else if (key == "l") m.l = v;
    };
    for (const auto& [key, v] : scan.fixed) set(key, v);
    set(scan.axis, value);
    const bool dm_set = scan.axis == "d_m" || scan.fixed.count("d_m");
    if (dm_set && !scan.fixed.count("d_h")) m.d_h = 2 * m.d_m;
    try {
        m.validate();
    } catch (const InputError& e) {
        throw InputError(fmt::format("{}: sweep.scan[{}].values: {} = {}: {}", sw.origin, k, scan.axis, value, e.what()));
    }
    return m;
}

std::string PlannedRun::config_key() const { return id.substr(0, id.rfind("-s")); }

SweepPlan make_sweep_plan(const io::SweepConfig& sweep) {
    SweepPlan plan;
    plan.sweep = sweep;
    try {
        plan.base = io::load_experiment_config(sweep.base_path);
    } catch (const InputError& e) {
        throw InputError(fmt::format("{}: sweep.base: {}", sweep.origin, e.what()));
    }
    check_metric(sweep, plan.base);
    PlanBuilder builder(plan);
    for (double b : sweep.budgets) {
        const auto P = static_cast<std::int64_t>(std::llround(b));
        for (models::Axis axis : sweep.axes) {
            std::vector<models::BudgetCandidate> cands;
            try {
                cands = models::configs_spread_over_axis(plan.base.model, P, axis, sweep.tolerance, sweep.points);
            } catch (const InputError& e) {
                const bool axis_problem = axis == models::Axis::k_e && plan.base.model.output_mode == models::OutputMode::lif;
                throw InputError(fmt::format("{}: sweep.{}: {}: {}", sweep.origin, axis_problem ? "axes" : "budgets",
                                             axis_problem ? models::to_string(axis) : fmt::format("{:g}", b), e.what()));
            }
            if (cands.size() < 2)
                throw InputError(fmt::format("{}: sweep.budgets: {:g}: only {} configuration varying {} fits this budget; a "
                                             "tradeoff scan needs at least 2 (raise the budget or the tolerance)",
                                             sweep.origin, b, cands.size(), models::to_string(axis)));
            for (const auto& c : cands) builder.add(c.cfg, RunGroup{b, models::to_string(axis), -1});
        }
    }
    for (std::size_t k = 0; k < sweep.scans.size(); ++k)
        for (int v : sweep.scans[k].values)
            builder.add(scan_model(sweep, plan.base.model, k, v), RunGroup{0.0, sweep.scans[k].axis, static_cast<int>(k)});
    return plan;
}

std::string run_config_text(const SweepPlan& plan, const PlannedRun& run, const std::string& run_dir) {
    toml::table root = io::parse_toml(plan.base.toml_text, plan.base.origin);
    const auto& b = plan.base;
    auto* task = root["task"].as_table();
    const auto absolute = [](const std::string& p) { return fs::absolute(p).lexically_normal().string(); };
    if (task) {
        if (b.task.kind == io::TaskKind::bytes) {
            if (!b.task.bytes_path.empty()) task->insert_or_assign("bytes", absolute(b.task.bytes_path));
        } else {
            for (const auto& [key, path] : {std::pair{"train", &b.task.train_path}, std::pair{"valid", &b.task.valid_path},
                                            std::pair{"test", &b.task.test_path}})
                if (!path->empty()) task->insert_or_assign(key, absolute(*path));
        }
    }
    if (!root["model"].as_table()) root.insert("model", toml::table{});
    if (!root["train"].as_table()) root.insert("train", toml::table{});
    auto& model = *root["model"].as_table();
    const auto& m = run.model;
    model.insert_or_assign("N", m.N);
    model.insert_or_assign("d_m", m.d_m);
    model.insert_or_assign("d_h", m.d_h);
    model.insert_or_assign("k_c", m.k_c);
    model.insert_or_assign("n_b", m.n_b);
    model.insert_or_assign("l", m.l);
    model.insert_or_assign("seed", static_cast<std::int64_t>(run.seed));
    auto& train = *root["train"].as_table();
    const auto& sw = plan.sweep;
    const std::int64_t steps = sw.steps > 0 ? sw.steps : b.train.max_steps;
    train.insert_or_assign("seed", static_cast<std::int64_t>(run.seed));
    train.insert_or_assign("max_steps", steps);
    const std::int64_t every = sw.checkpoint_every > 0 ? sw.checkpoint_every
                               : sw.steps > 0          ? std::max<std::int64_t>(1, (steps + 9) / 10)
                               : b.train.checkpoint_every > 0 ? b.train.checkpoint_every
                                                              : 100;
    train.insert_or_assign("checkpoint_every", every);
    train.insert_or_assign("out_dir", run_dir);
    train.erase("threads");  // the sweep's threads (or --threads) apply; they do not change the floats
    std::ostringstream os;
    os << "# elmsim sweep run " << run.id << ": " << b.origin << " with the structure, seed, steps, checkpoint interval\n"
       << "# and output folder of the sweep " << sw.origin << "\n"
       << root << "\n";
    return os.str();
}

bool same_run_config(const std::string& a, const std::string& b) {
    const auto without_paths = [](const std::string& text) -> std::optional<toml::table> {
        try {
            toml::table t = io::parse_toml(text, "config");
            if (auto* task = t["task"].as_table())
                for (const char* k : {"train", "valid", "test", "bytes"}) task->erase(k);
            if (auto* train = t["train"].as_table()) train->erase("out_dir");
            return t;
        } catch (const InputError&) {
            return std::nullopt;
        }
    };
    const auto x = without_paths(a), y = without_paths(b);
    return x && y && *x == *y;
}

double null_metric(io::SweepMetric metric, int n_out) {
    switch (metric) {
        case io::SweepMetric::test_loss: return std::log(static_cast<double>(n_out));
        case io::SweepMetric::test_accuracy: return 1.0 - 1.0 / n_out;
        case io::SweepMetric::test_bpc: return 8.0;
    }
    return 0.0;
}

nlohmann::json groups_to_json(const std::vector<RunGroup>& groups) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& g : groups) {
        nlohmann::json j = {{"axis", g.axis}};
        if (g.scan >= 0) j["scan"] = g.scan;
        else j["budget"] = g.budget;
        out.push_back(j);
    }
    return out;
}

nlohmann::json plan_to_json(const SweepPlan& plan) {
    using nlohmann::json;
    const auto& sw = plan.sweep;
    json j;
    j["kind"] = "elmsim-sweep";
    j["spec_version"] = kScienceSpecVersion;
    j["sweep_file"] = sw.origin;
    j["sweep_text"] = sw.toml_text;
    j["base_file"] = sw.base_path;
    j["base_text"] = plan.base.toml_text;
    j["task"] = io::to_string(plan.base.task.kind);
    j["n_out"] = plan.base.model.n_out;
    j["metric"] = io::to_string(sw.metric);
    j["L_0"] = null_metric(sw.metric, plan.base.model.n_out);
    j["budgets"] = sw.budgets;
    json axes = json::array();
    for (auto a : sw.axes) axes.push_back(models::to_string(a));
    j["axes"] = axes;
    j["tolerance"] = sw.tolerance;
    j["points"] = sw.points;
    j["seeds"] = sw.seeds;
    j["steps"] = sw.steps;
    j["minutes"] = sw.minutes;
    json scans = json::array();
    for (const auto& s : sw.scans) scans.push_back({{"axis", s.axis}, {"values", s.values}, {"fixed", s.fixed}});
    j["scans"] = scans;
    json runs = json::array();
    for (const auto& r : plan.runs) {
        const json groups = groups_to_json(r.groups);
        runs.push_back({{"id", r.id}, {"seed", r.seed}, {"N", r.model.N}, {"d_m", r.model.d_m}, {"d_h", r.model.d_h},
                        {"k_c", r.count.k_c}, {"n_b", r.model.n_b}, {"l", r.model.l}, {"k_e", r.count.k_e},
                        {"P", r.count.P}, {"groups", groups}, {"est_gflop", r.est_gflop}});
    }
    j["runs"] = runs;
    return j;
}

}  // namespace elm::science
