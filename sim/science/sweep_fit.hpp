// `elmsim fit --sweep DIR` (spec science.md sections 2-4) as a library call: the Pareto point of each
// budget, the scaling law L*(P) with 95 % bootstrap intervals (runs resampled within each budget, the
// Pareto point chosen again, the law refitted), the allocation exponents N*, k_e*, k_c* ~ P^a (log-log
// least squares, same bootstrap), the information model and the additive power law on every
// configuration (mean over seeds) with R^2, RMSE and AIC, the model's optimum per budget (maximum I
// over the budget's feasible configurations) beside the sweep's best run, and the curves the
// pictures draw (the model along each group's axis, its predicted front). All of it is one JSON
// document, fit.json, and a short table for people.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace elm::science {

struct FitOptions {
    int bootstrap = 1000;     // resamples for the scaling-law intervals (>= 0)
    std::uint64_t seed = 1;   // of the resampling
};

// InputError as read_sweep, and: fewer than 3 budgets with finished runs, fewer configurations than
// the models have parameters (+1), degenerate data (nothing varies).
nlohmann::json fit_sweep(const std::string& dir, const FitOptions& options);

// The stdout table of a fit.json document.
std::string fit_table(const nlohmann::json& fit);

}  // namespace elm::science
