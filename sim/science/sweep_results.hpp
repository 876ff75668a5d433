// What a sweep directory holds, read for the fits: the plan (sweep.json), the finished runs
// (results.jsonl), the failed ones (runs/<id>/error.json), and the runs grouped as the fits need them
// — configurations (mean and spread of the metric over seeds), the groups of the plan (a budget's
// scan along an axis, a single-axis scan) and each budget's Pareto point (the configuration with the
// best mean). The fitted quantity is the loss, the error rate 1 - accuracy, or bpc (science.md
// section 2).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/sweep_config.hpp"

namespace elm::science {

struct RunRecord {
    std::string id, key;  // key: the configuration (id without the seed)
    std::uint64_t seed = 0;
    double N = 0, k_e = 0, k_c = 0, P = 0;
    int d_m = 0, d_h = 0;
    double y = 0.0;  // the fitted quantity
    std::vector<std::pair<double, std::string>> budget_groups;  // (budget, axis)
    std::vector<int> scans;
};

struct ConfigSummary {
    std::string key;
    double N = 0, k_e = 0, k_c = 0, P = 0;
    int d_m = 0, d_h = 0;
    double mean = 0.0, sd = 0.0;  // over seeds (sd 0 for one seed)
    int seeds = 0;
};

struct SweepData {
    std::string dir;
    nlohmann::json plan;
    io::SweepConfig sweep;            // the sweep file as planned
    io::ExperimentConfig base;        // the base experiment config as planned
    io::SweepMetric metric = io::SweepMetric::test_loss;
    std::string quantity;             // "loss" | "error" | "bpc"
    double L_0 = 0.0;
    std::vector<RunRecord> runs;      // finished, in results.jsonl order
    std::vector<std::string> failed;  // ids with error.json
    std::size_t planned = 0;
};

// InputError: not a sweep directory, no finished run, a record without the fields of the contract,
// a non-finite metric (naming the run).
SweepData read_sweep(const std::string& dir);

// Mean over seeds per configuration, of the given runs (configurations in first-seen order).
std::vector<ConfigSummary> summarize(const std::vector<const RunRecord*>& runs);
std::vector<const RunRecord*> all_runs(const SweepData& d);
std::vector<const RunRecord*> runs_of_budget(const SweepData& d, double budget);
std::vector<const RunRecord*> runs_of_group(const SweepData& d, double budget, const std::string& axis);
std::vector<const RunRecord*> runs_of_scan(const SweepData& d, int scan);
const ConfigSummary& best_of(const std::vector<ConfigSummary>& configs);  // smallest mean; configs not empty

}  // namespace elm::science
