// The plan of a budget sweep (spec science.md section 1): the sweep file expanded into runs. For
// each budget and axis, configs_spread_over_axis picks `points` budget-matched configurations (the
// other axes balanced as in `elmsim budget`); each single-axis scan adds its values; every
// configuration runs once per seed. A configuration that two groups share (the same structure at one
// budget on two axes) is one run that belongs to both.
//
// A run's id is derived from its structure and seed only — "N59-dm7-dh14-kc32-nb4-l1-s1" — so the
// same sweep file always yields the same ids, and its config.toml is the base experiment config with
// those keys (and the sweep's steps, seed, checkpoint interval and output folder) overridden.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/sweep_config.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/param_count.hpp"

namespace elm::science {

// Where a run belongs: a budget's tradeoff scan along an axis, or a single-axis scan.
struct RunGroup {
    double budget = 0.0;  // 0 for scans
    std::string axis;     // "N" | "k_e" | "k_c"; scans: "N" | "d_m" | "k_c"
    int scan = -1;        // index of the [[sweep.scan]] entry, -1 for a budget's scan
    bool operator==(const RunGroup&) const = default;
};

struct PlannedRun {
    std::string id;
    std::uint64_t seed = 0;
    models::ModelConfig model;
    models::ParamCount count;
    std::vector<RunGroup> groups;
    double est_gflop = 0.0;  // training + final evaluation work, rough: 6 N (k_c + k_e + 128 [+ n_out for bytes]) per sample-step
    std::string config_key() const;  // the id without its seed: runs that differ only by seed
};

struct SweepPlan {
    io::SweepConfig sweep;
    io::ExperimentConfig base;
    std::vector<PlannedRun> runs;  // budgets in file order, then axes, then the axis values, then seeds; scans last
};

// InputError naming the sweep file's key: a base that cannot be read, a metric the task does not
// have (test_bpc is for byte tasks, test_accuracy for classification), a budget the task cannot
// reach (sweep.budgets), an axis the model cannot vary (sweep.axes), an impossible scan value.
SweepPlan make_sweep_plan(const io::SweepConfig& sweep);

// The model of value `value` of the sweep's scan `scan` (its fixed keys applied; d_h = 2 d_m when d_m
// is set and d_h is not). InputError naming sweep.scan[k].values when the structure is impossible.
models::ModelConfig scan_model(const io::SweepConfig& sweep, const models::ModelConfig& base, std::size_t scan, int value);

// The full experiment config a run trains (TOML text, data paths absolute) and the same parsed.
std::string run_config_text(const SweepPlan& plan, const PlannedRun& run, const std::string& run_dir);

// Whether two run configs train the same run: equal but for where the data and the output live
// (task.train, valid, test, bytes and train.out_dir are paths of one machine; a sweep directory is
// shared by machines that mount it, and the data, at other places). Unparsable text is not the same.
bool same_run_config(const std::string& a, const std::string& b);

// L_0 of the metric (science.md section 3): ln n_out for the loss, 1 - 1/n_out for the error rate,
// 8 bits for bpc.
double null_metric(io::SweepMetric metric, int n_out);

// A run's groups as sweep.json and result.json write them: {"axis", "budget"} or {"axis", "scan"}.
nlohmann::json groups_to_json(const std::vector<RunGroup>& groups);

// sweep.json: the plan as the fits read it (the base config's text included).
nlohmann::json plan_to_json(const SweepPlan& plan);

}  // namespace elm::science
