#include "elmsim/sim/science/sweep_results.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "elmsim/io/input_file.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"

namespace elm::science {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double number(const json& j, const char* key, const std::string& where) {
    if (!j.contains(key) || !(j[key].is_number() || j[key].is_null()))
        throw InputError(fmt::format("{}: expected a number '{}'", where, key));
    if (j[key].is_null()) return NAN;  // written for a non-finite value
    return j[key].get<double>();
}

RunRecord record_from(const json& j, const SweepData& d, const std::string& where) {
    RunRecord r;
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) throw InputError(fmt::format("{}: expected a run object with an id", where));
    r.id = j["id"].get<std::string>();
    const std::string at = fmt::format("{}: run {}", where, r.id);
    r.key = r.id.substr(0, r.id.rfind("-s"));
    r.seed = static_cast<std::uint64_t>(number(j, "seed", at));
    r.N = number(j, "N", at);
    r.k_e = number(j, "k_e", at);
    r.k_c = number(j, "k_c", at);
    r.P = number(j, "P", at);
    r.d_m = static_cast<int>(number(j, "d_m", at));
    r.d_h = static_cast<int>(number(j, "d_h", at));
    const std::string field = io::to_string(d.metric);
    const double v = number(j, field.c_str(), at);
    if (!std::isfinite(v))
        throw InputError(fmt::format("{}: {} is not finite (the run diverged?); rerun it (remove runs/{}) or leave it out", at,
                                     field, r.id));
    r.y = d.metric == io::SweepMetric::test_accuracy ? 1.0 - v : v;
    if (!j.contains("groups") || !j["groups"].is_array()) throw InputError(fmt::format("{}: expected an array 'groups'", at));
    for (const auto& g : j["groups"]) {
        if (g.contains("scan")) r.scans.push_back(g["scan"].get<int>());
        else r.budget_groups.emplace_back(g.at("budget").get<double>(), g.at("axis").get<std::string>());
    }
    return r;
}

}  // namespace

SweepData read_sweep(const std::string& dir) {
    SweepData d;
    d.dir = dir;
    const fs::path plan_path = fs::path(dir) / "sweep.json";
    if (!fs::is_directory(dir)) throw InputError(fmt::format("{}: --sweep: not a directory", dir));
    if (!fs::exists(plan_path))
        throw InputError(fmt::format("{}: not a sweep directory (no sweep.json; `elmsim sweep --out {}` makes one)", dir, dir));
    io::require_regular_input(plan_path.string(), "sweep plan");
    try {
        d.plan = json::parse(read_file(plan_path));
        if (d.plan.value("kind", "") != "elmsim-sweep") throw InputError("not an elmsim sweep plan");
        d.sweep = io::parse_sweep_config(d.plan.at("sweep_text").get<std::string>(), d.plan.at("sweep_file").get<std::string>(),
                                         fs::path(d.plan.at("sweep_file").get<std::string>()).parent_path().string());
        d.base = io::parse_experiment_config(d.plan.at("base_text").get<std::string>(), d.plan.at("base_file").get<std::string>());
        d.planned = d.plan.at("runs").size();
    } catch (const json::exception& e) {
        throw InputError(fmt::format("{}: not a readable sweep plan ({})", plan_path.string(), e.what()));
    } catch (const InputError& e) {
        throw InputError(fmt::format("{}: {}", plan_path.string(), e.what()));
    }
    d.metric = d.sweep.metric;
    d.quantity = d.metric == io::SweepMetric::test_accuracy ? "error" : d.metric == io::SweepMetric::test_bpc ? "bpc" : "loss";
    d.L_0 = null_metric(d.metric, d.base.model.n_out);

    const fs::path results = fs::path(dir) / "results.jsonl";
    if (fs::exists(results)) io::require_regular_input(results.string(), "results file");
    std::ifstream in(results);
    std::string line;
    std::size_t lineno = 0;
    while (in && std::getline(in, line)) {
        ++lineno;
        if (line.empty()) continue;
        const std::string where = fmt::format("{}:{}", results.string(), lineno);
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception&) {
            throw InputError(fmt::format("{}: not a JSON object", where));
        }
        try {
            d.runs.push_back(record_from(j, d, where));
        } catch (const json::exception& e) {
            throw InputError(fmt::format("{}: {}", where, e.what()));
        }
    }
    for (const auto& r : d.plan["runs"]) {
        const std::string id = r.value("id", "");
        if (fs::exists(fs::path(dir) / "runs" / id / "error.json")) d.failed.push_back(id);
    }
    if (d.runs.empty())
        throw InputError(fmt::format("{}: no finished runs yet ({} planned, {} failed): run `elmsim sweep` first", dir,
                                     d.planned, d.failed.size()));
    return d;
}

std::vector<ConfigSummary> summarize(const std::vector<const RunRecord*>& runs) {
    std::vector<ConfigSummary> out;
    std::vector<std::vector<double>> values;
    for (const RunRecord* r : runs) {
        auto it = std::find_if(out.begin(), out.end(), [&](const ConfigSummary& c) { return c.key == r->key; });
        if (it == out.end()) {
            out.push_back(ConfigSummary{r->key, r->N, r->k_e, r->k_c, r->P, r->d_m, r->d_h, 0.0, 0.0, 0});
            values.emplace_back();
            it = out.end() - 1;
        }
        values[static_cast<std::size_t>(it - out.begin())].push_back(r->y);
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& v = values[i];
        double m = 0.0;
        for (double x : v) m += x;
        m /= static_cast<double>(v.size());
        double ss = 0.0;
        for (double x : v) ss += (x - m) * (x - m);
        out[i].mean = m;
        out[i].sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
        out[i].seeds = static_cast<int>(v.size());
    }
    return out;
}

std::vector<const RunRecord*> all_runs(const SweepData& d) {
    std::vector<const RunRecord*> out;
    for (const auto& r : d.runs) out.push_back(&r);
    return out;
}

std::vector<const RunRecord*> runs_of_budget(const SweepData& d, double budget) {
    std::vector<const RunRecord*> out;
    for (const auto& r : d.runs)
        if (std::any_of(r.budget_groups.begin(), r.budget_groups.end(), [&](const auto& g) { return g.first == budget; }))
            out.push_back(&r);
    return out;
}

std::vector<const RunRecord*> runs_of_group(const SweepData& d, double budget, const std::string& axis) {
    std::vector<const RunRecord*> out;
    for (const auto& r : d.runs)
        if (std::any_of(r.budget_groups.begin(), r.budget_groups.end(),
                        [&](const auto& g) { return g.first == budget && g.second == axis; }))
            out.push_back(&r);
    return out;
}

std::vector<const RunRecord*> runs_of_scan(const SweepData& d, int scan) {
    std::vector<const RunRecord*> out;
    for (const auto& r : d.runs)
        if (std::find(r.scans.begin(), r.scans.end(), scan) != r.scans.end()) out.push_back(&r);
    return out;
}

const ConfigSummary& best_of(const std::vector<ConfigSummary>& configs) {
    return *std::min_element(configs.begin(), configs.end(),
                             [](const ConfigSummary& a, const ConfigSummary& b) { return a.mean < b.mean; });
}

}  // namespace elm::science
