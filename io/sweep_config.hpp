// SweepConfig: a budget sweep file (spec science.md section 1) — one base experiment config, the
// budgets, the axes each budget's tradeoff scan varies, points per axis, seeds, the per-run length
// (steps or a wall-clock budget), the metric the fits use, how many runs at once, and optional
// single-axis scans. Parsing is strict like the experiment config's: an unknown key, a wrong type or
// an impossible value is one InputError naming the file and the key ("demo.toml: sweep.points:
// expected an integer >= 2, got 1 (line 6)"). Whether the budgets are possible for the base's task is
// checked by the planner (sim/science/sweep_plan.hpp), which names sweep.budgets likewise.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "elmsim/models/budget.hpp"

namespace elm::io {

enum class SweepMetric { test_loss, test_accuracy, test_bpc };
std::string to_string(SweepMetric m);

// A single-axis scan (claim (a)): `axis` is N, d_m or k_c (k_e moves through d_m: d_h = 2 d_m unless
// `fixed` sets d_h); every other structural key comes from the base or from `fixed`
// (N, d_m, d_h, k_c, n_b, l).
struct SweepScan {
    std::string axis;
    std::vector<int> values;
    std::map<std::string, int> fixed;
};

struct SweepConfig {
    std::string origin;            // the file, for messages
    std::string base_path;         // the experiment config, resolved against the sweep file's folder
    std::vector<double> budgets;   // target P values, as written (1e4 and 10000 alike)
    double tolerance = 0.05;
    std::vector<models::Axis> axes = {models::Axis::k_e};
    int points = 5;
    std::vector<std::uint64_t> seeds = {1};
    std::int64_t steps = 0;        // optimizer steps per run, or ...
    double minutes = 0.0;          // ... a wall-clock training budget per run (exactly one is set)
    SweepMetric metric = SweepMetric::test_loss;
    int workers = 1;               // runs at once in one process
    int threads = 1;               // worker threads per run
    std::int64_t checkpoint_every = 0;  // 0: the base config's train.checkpoint_every, else about 10 per run
    double stale_minutes = 10.0;   // a claim not touched for this long is taken over
    std::vector<SweepScan> scans;
    std::string toml_text;         // the file as read
};

SweepConfig parse_sweep_config(const std::string& toml_text, const std::string& origin, const std::string& base_dir);
SweepConfig load_sweep_config(const std::string& path);

}  // namespace elm::io
