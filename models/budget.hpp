// Fixed-budget enumeration (spec elm-network.md section 4, `elmsim budget`): the configurations whose
// parameter count P (count_params) lies within a relative tolerance of a budget, along one axis.
//
// The search, per axis (everything not mentioned is copied from `base`):
//   N   — N runs over a geometric grid from the smallest to the largest N that can meet the budget.
//         For each N the per-neuron share q = (P - n_out (N + 1) - 256 C_e) / N is split between
//         k_e and k_c: every d_m (d_h = 2 d_m) with k_e(d_m) < q is tried with k_c = q - k_e rounded
//         to the multiples of n_b below and above (capped where k_in <= C and k_rec <= N - 1 stop
//         holding); of the pairs within tolerance the one whose k_c / k_e is closest (in log) to the
//         base's ratio wins, so k_e and k_c stay balanced as N moves.
//   k_e — d_m (d_h = 2 d_m) runs over all values that can meet the budget with the base's k_c; N is
//         solved from P (rounded down and up, the closer P kept).
//   k_c — k_c runs over the multiples of n_b that can meet the budget with the base's d_m and d_h;
//         N is solved from P as for k_e.
// Every candidate passes ModelConfig::validate() (k_c % n_b == 0, k_in <= C, k_rec <= N - 1, ...).
// For the k_e and k_c axes all feasible values are known, and the returned ones are those nearest to
// a geometric grid with `points_per_octave` points per doubling of the axis, plus both ends. Results
// are sorted by the varied axis, one candidate per value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elmsim/models/model_config.hpp"
#include "elmsim/models/param_count.hpp"

namespace elm::models {

enum class Axis { N, k_e, k_c };
std::string to_string(Axis a);
Axis axis_from_string(const std::string& s);  // "N" | "k_e" | "k_c"; throws InputError

struct BudgetCandidate {
    ModelConfig cfg;
    ParamCount count;   // count_params(cfg)
};

// Throws InputError for P <= 0, tolerance outside (0, 1), a LIF base with axis k_e (k_e is 0), or
// when no configuration fits (the message gives the smallest P that the axis can reach).
std::vector<BudgetCandidate> configs_for_budget(const ModelConfig& base, std::int64_t P, Axis axis,
                                                double tolerance, int points_per_octave = 2);

// `points` configurations of one axis spread over it (a budget sweep's tradeoff scan): all candidates
// of configs_for_budget at full resolution, then the ones nearest (in log of the varied quantity: N,
// k_e or k_c) to `points` evenly spaced values from one end to the other, both ends included. Fewer
// come back when the axis has fewer distinct values. Throws as configs_for_budget; points >= 2.
std::vector<BudgetCandidate> configs_spread_over_axis(const ModelConfig& base, std::int64_t P, Axis axis,
                                                      double tolerance, int points);

// Every configuration within the tolerance of P that varies N, d_m (d_h = 2 d_m) and k_c together
// (n_b, l and the rest from `base`): for each d_m and k_c the N closest to the budget. Empty when none
// fits. What "the budget's feasible configurations" are when a model's optimum is searched.
std::vector<BudgetCandidate> all_configs_for_budget(const ModelConfig& base, std::int64_t P, double tolerance);

}  // namespace elm::models
