// Fixed-budget enumeration along N, k_e or k_c (spec elm-network.md section 4). The search is
// described in models/budget.hpp; this file keeps it exhaustive where that is cheap (k_e, k_c: at
// most a few thousand values) and grid-based for N (up to P / 30 values).
#include "elmsim/models/budget.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::models {

std::string to_string(Axis a) {
    switch (a) {
        case Axis::N: return "N";
        case Axis::k_e: return "k_e";
        case Axis::k_c: return "k_c";
    }
    return "N";
}

Axis axis_from_string(const std::string& s) {
    if (s == "N") return Axis::N;
    if (s == "k_e") return Axis::k_e;
    if (s == "k_c") return Axis::k_c;
    throw ParameterError("axis", fmt::format("expected \"N\", \"k_e\" or \"k_c\", got \"{}\"", s));
}

namespace {

bool is_lif(const ModelConfig& c) { return c.output_mode == OutputMode::lif; }

// k_c moves in whole branches (k_c % n_b == 0); the LIF unit has no branches.
int kc_step(const ModelConfig& c) { return is_lif(c) ? 1 : c.n_b; }

bool is_valid(const ModelConfig& c) {
    try {
        c.validate();
        return true;
    } catch (const InputError&) {
        return false;
    }
}

// Smallest N for which the recurrent synapses of a k_c-synapse row can be distinct sources.
int min_neurons(ModelConfig c) {
    const int krec = c.k_rec();
    return std::max(1, c.self_synapse ? krec : krec + 1);
}

// Largest multiple of the branch step that N and the input width allow (0 if not even one). Both
// k_in = round(k_c s) and k_rec = k_c - k_in grow by 0 or 1 per synapse, so the valid k_c form a prefix.
int max_kc(ModelConfig c) {
    const int step = kc_step(c);
    const int max_rec = c.self_synapse ? c.N : c.N - 1;
    int best = 0;
    for (int kc = step; kc <= c.input_width() + c.N + step; kc += step) {
        c.k_c = kc;
        if (c.k_in() > c.input_width() || c.k_rec() > max_rec) break;
        best = kc;
    }
    return best;
}

std::int64_t fixed_params(const ModelConfig& c) {
    return static_cast<std::int64_t>(c.n_out) * (c.N + 1) + 256 * static_cast<std::int64_t>(c.C_e);
}

struct Fit {
    std::int64_t P;
    double tol;
    bool within(std::int64_t p) const { return std::abs(static_cast<double>(p - P)) <= tol * static_cast<double>(P); }
    double error(std::int64_t p) const { return std::abs(static_cast<double>(p - P)); }
};

// For fixed k_c and MLP sizes: the N (rounded down or up) whose P is closest to the budget.
std::optional<BudgetCandidate> solve_neurons(ModelConfig c, const Fit& fit) {
    const ParamCount per = count_params(c);
    const double denom = static_cast<double>(per.k_c + per.k_e + c.n_out);
    const double n = static_cast<double>(fit.P - c.n_out - 256 * static_cast<std::int64_t>(c.C_e)) / denom;
    std::optional<BudgetCandidate> best;
    for (double v : {std::floor(n), std::ceil(n)}) {
        if (v < 1.0 || v > std::numeric_limits<int>::max()) continue;
        c.N = static_cast<int>(v);
        const ParamCount pc = count_params(c);
        if (!fit.within(pc.P) || !is_valid(c)) continue;
        if (!best || fit.error(pc.P) < fit.error(best->count.P)) best = BudgetCandidate{c, pc};
    }
    return best;
}

// Axis N: split the per-neuron share between k_e (via d_m, d_h = 2 d_m) and k_c. For each d_m the
// k_c that keep P within tolerance form a band; inside it the k_c closest (in log) to base ratio * k_e
// is taken. Across d_m the pair with the smallest |log(k_c / k_e) - log(base ratio)| + |P / budget - 1|
// wins: balance first, but a pair that also lands closer to the budget breaks near-ties.
std::optional<BudgetCandidate> fit_for_neurons(const ModelConfig& base, int N, double log_ratio, const Fit& fit) {
    ModelConfig c = base;
    c.N = N;
    const double fixed = static_cast<double>(fixed_params(c));
    const double budget = static_cast<double>(fit.P);
    const int step = kc_step(c);
    const int kc_max = max_kc(c);
    if (kc_max == 0 || fixed >= budget * (1.0 + fit.tol)) return std::nullopt;
    const double q_lo = (budget * (1.0 - fit.tol) - fixed) / N;  // per-neuron k_c + k_e band
    const double q_hi = (budget * (1.0 + fit.tol) - fixed) / N;
    std::optional<BudgetCandidate> best;
    double best_score = 0.0;
    for (int dm = 1;; ++dm) {
        if (!is_lif(c)) {
            c.d_m = dm;
            c.d_h = 2 * dm;
        }
        const double ke = static_cast<double>(count_params(c).k_e);
        if (ke + step > q_hi) break;  // k_e only grows with d_m
        // Multiples of step inside [q_lo - ke, q_hi - ke] and [step, kc_max].
        const int lo = std::max(step, static_cast<int>(std::ceil(std::max(q_lo - ke, 0.0) / step)) * step);
        const int hi = static_cast<int>(std::min<double>(std::floor((q_hi - ke) / step) * step, kc_max));
        if (lo > hi) {
            if (is_lif(c)) break;
            continue;
        }
        // The LIF unit has k_e = 0, so there is no ratio to keep: aim at the middle of the budget.
        const double want = is_lif(c) ? (budget - fixed) / N : std::exp(log_ratio) * ke;
        const int near = static_cast<int>(std::llround(want / step)) * step;
        c.k_c = std::clamp(near, lo, hi);
        const ParamCount pc = count_params(c);
        if (fit.within(pc.P) && is_valid(c)) {
            const double balance = is_lif(c) ? 0.0 : std::abs(std::log(c.k_c / ke) - log_ratio);
            const double score = balance + fit.error(pc.P) / budget;
            if (!best || score < best_score) {
                best = BudgetCandidate{c, pc};
                best_score = score;
            }
        }
        if (is_lif(c)) break;  // k_e = 0: nothing to vary
    }
    return best;
}

// Geometric subset of candidates sorted by `value`: nearest (in log) to lo * 2^(j / ppo), plus both ends.
std::vector<BudgetCandidate> geometric_subset(const std::vector<BudgetCandidate>& all,
                                              std::int64_t (*value)(const BudgetCandidate&), int ppo) {
    if (all.size() <= 2) return all;
    const double lo = std::log(static_cast<double>(value(all.front())));
    const double hi = std::log(static_cast<double>(value(all.back())));
    const double step = std::log(2.0) / ppo;
    std::vector<std::size_t> picked;
    for (double t = lo; t <= hi + 1e-12; t += step) {
        std::size_t k = 0;
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < all.size(); ++i) {
            const double d = std::abs(std::log(static_cast<double>(value(all[i]))) - t);
            if (d < best) best = d, k = i;
        }
        picked.push_back(k);
    }
    picked.push_back(all.size() - 1);
    std::sort(picked.begin(), picked.end());
    picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
    std::vector<BudgetCandidate> out;
    for (auto k : picked) out.push_back(all[k]);
    return out;
}

std::int64_t value_ke(const BudgetCandidate& c) { return c.count.k_e; }
std::int64_t value_kc(const BudgetCandidate& c) { return c.count.k_c; }

std::vector<BudgetCandidate> along_neurons(const ModelConfig& base, const Fit& fit, int ppo) {
    ModelConfig smallest = base;
    if (!is_lif(base)) smallest.d_m = 1, smallest.d_h = 2;
    const std::int64_t ke_min = count_params(smallest).k_e;
    const double n_max_real = (static_cast<double>(fit.P) * (1.0 + fit.tol) - base.n_out - 256.0 * base.C_e) /
                              static_cast<double>(ke_min + kc_step(base) + base.n_out);
    if (n_max_real < 1.0) return {};
    const int n_max = static_cast<int>(std::min<double>(n_max_real, std::numeric_limits<int>::max()));
    const ParamCount bc = count_params(base);
    const double log_ratio = is_lif(base) ? 0.0 : std::log(static_cast<double>(bc.k_c) / bc.k_e);

    std::vector<int> grid;
    for (double g = 1.0; g < n_max; g *= std::pow(2.0, 1.0 / ppo)) grid.push_back(static_cast<int>(std::lround(g)));
    grid.push_back(n_max);
    grid.erase(std::unique(grid.begin(), grid.end()), grid.end());

    std::vector<BudgetCandidate> out;
    for (std::size_t k = 0; k < grid.size(); ++k) {
        if (out.empty() && k > 0) {
            // Feasibility starts somewhere in (grid[k-1], grid[k]]: find where, so that the list
            // begins at the true smallest N rather than at the next grid point.
            for (int n = grid[k - 1] + 1; n < grid[k]; ++n)
                if (auto c = fit_for_neurons(base, n, log_ratio, fit)) {
                    out.push_back(*c);
                    break;
                }
        }
        if (auto c = fit_for_neurons(base, grid[k], log_ratio, fit)) out.push_back(*c);
    }
    return out;
}

std::vector<BudgetCandidate> along_complexity(const ModelConfig& base, const Fit& fit, int ppo) {
    std::vector<BudgetCandidate> all;
    ModelConfig c = base;
    const int n_min = min_neurons(c);
    for (int dm = 1;; ++dm) {
        c.d_m = dm;
        c.d_h = 2 * dm;
        const ParamCount per = count_params(c);
        const double n = static_cast<double>(fit.P) * (1.0 + fit.tol) /
                         static_cast<double>(per.k_c + per.k_e + c.n_out);
        if (n < n_min) break;  // larger d_m only leaves room for fewer neurons
        if (auto cand = solve_neurons(c, fit)) all.push_back(*cand);
    }
    return geometric_subset(all, value_ke, ppo);
}

std::vector<BudgetCandidate> along_connectivity(const ModelConfig& base, const Fit& fit, int ppo) {
    std::vector<BudgetCandidate> all;
    ModelConfig c = base;
    for (int kc = kc_step(base);; kc += kc_step(base)) {
        c.k_c = kc;
        if (c.k_in() > c.input_width()) break;  // k_in only grows with k_c
        const ParamCount per = count_params(c);
        const double n = static_cast<double>(fit.P) * (1.0 + fit.tol) /
                         static_cast<double>(per.k_c + per.k_e + c.n_out);
        if (n < min_neurons(c)) break;  // needed N grows, affordable N shrinks with k_c
        if (auto cand = solve_neurons(c, fit)) all.push_back(*cand);
    }
    return geometric_subset(all, value_kc, ppo);
}

// The smallest configuration the axis can reach, for the "nothing fits" message.
ModelConfig smallest_config(const ModelConfig& base, Axis axis) {
    ModelConfig c = base;
    if (axis != Axis::k_c && !is_lif(c)) c.d_m = 1, c.d_h = 2;
    if (axis != Axis::k_e) c.k_c = kc_step(c);
    c.N = min_neurons(c);
    return c;
}

}  // namespace

std::vector<BudgetCandidate> configs_for_budget(const ModelConfig& base, std::int64_t P, Axis axis,
                                                double tolerance, int points_per_octave) {
    if (P <= 0) throw InputError(fmt::format("budget: the parameter budget P must be > 0, got {}", P));
    if (!(tolerance > 0.0 && tolerance < 1.0))
        throw InputError(fmt::format("budget: the tolerance must be in (0, 1), got {}", tolerance));
    if (points_per_octave < 1)
        throw InputError(fmt::format("budget: points per octave must be >= 1, got {}", points_per_octave));
    if (axis == Axis::k_e && is_lif(base))
        throw InputError("budget: axis k_e cannot vary for output_mode = \"lif\" (a LIF unit has k_e = 0)");

    const Fit fit{P, tolerance};
    std::vector<BudgetCandidate> out;
    switch (axis) {
        case Axis::N: out = along_neurons(base, fit, points_per_octave); break;
        case Axis::k_e: out = along_complexity(base, fit, points_per_octave); break;
        case Axis::k_c: out = along_connectivity(base, fit, points_per_octave); break;
    }
    if (out.empty()) {
        const ModelConfig s = smallest_config(base, axis);
        try {
            s.validate();
        } catch (const InputError& e) {
            throw InputError(fmt::format("budget: no configuration varying {} is possible: {}", to_string(axis), e.what()));
        }
        const std::int64_t p_min = count_params(s).P;
        throw InputError(fmt::format(
            "budget: no configuration varying {} has P within {:g}% of {}; the smallest feasible is P = {} "
            "(N = {}, d_m = {}, k_c = {}){}",
            to_string(axis), tolerance * 100.0, P, p_min, s.N, s.d_m, s.k_c,
            p_min <= P ? "; try a larger tolerance" : ""));
    }
    return out;
}

namespace {

std::int64_t axis_value(const BudgetCandidate& c, Axis axis) {
    switch (axis) {
        case Axis::N: return c.cfg.N;
        case Axis::k_e: return c.count.k_e;
        case Axis::k_c: return c.count.k_c;
    }
    return 0;
}

}  // namespace

std::vector<BudgetCandidate> configs_spread_over_axis(const ModelConfig& base, std::int64_t P, Axis axis,
                                                      double tolerance, int points) {
    if (points < 2) throw InputError(fmt::format("budget: expected at least 2 points per axis, got {}", points));
    // 16 points per octave reaches every N up to ~23 and a 4 % grid beyond: fine enough to pick from.
    const std::vector<BudgetCandidate> all = configs_for_budget(base, P, axis, tolerance, 16);
    if (static_cast<int>(all.size()) <= points) return all;
    const double lo = std::log(static_cast<double>(axis_value(all.front(), axis)));
    const double hi = std::log(static_cast<double>(axis_value(all.back(), axis)));
    std::vector<std::size_t> picked;
    for (int j = 0; j < points; ++j) {
        const double target = lo + (hi - lo) * j / (points - 1);
        std::size_t best = 0;
        double best_d = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < all.size(); ++i) {
            // Each candidate once: a grid point whose nearest is taken already gets the next nearest.
            if (std::find(picked.begin(), picked.end(), i) != picked.end()) continue;
            const double d = std::abs(std::log(static_cast<double>(axis_value(all[i], axis))) - target);
            if (d < best_d) best_d = d, best = i;
        }
        picked.push_back(best);
    }
    std::sort(picked.begin(), picked.end());
    std::vector<BudgetCandidate> out;
    for (auto i : picked) out.push_back(all[i]);
    return out;
}

std::vector<BudgetCandidate> all_configs_for_budget(const ModelConfig& base, std::int64_t P, double tolerance) {
    if (P <= 0) throw InputError(fmt::format("budget: the parameter budget P must be > 0, got {}", P));
    if (!(tolerance > 0.0 && tolerance < 1.0))
        throw InputError(fmt::format("budget: the tolerance must be in (0, 1), got {}", tolerance));
    const Fit fit{P, tolerance};
    std::vector<BudgetCandidate> out;
    ModelConfig c = base;
    for (int dm = 1;; ++dm) {
        if (!is_lif(c)) c.d_m = dm, c.d_h = 2 * dm;
        bool any_room = false;
        for (int kc = kc_step(base);; kc += kc_step(base)) {
            c.k_c = kc;
            if (c.k_in() > c.input_width()) break;
            const ParamCount per = count_params(c);
            const double n = static_cast<double>(fit.P) * (1.0 + fit.tol) / static_cast<double>(per.k_c + per.k_e + c.n_out);
            if (n < min_neurons(c)) break;
            any_room = true;
            if (auto cand = solve_neurons(c, fit)) out.push_back(*cand);
        }
        if (!any_room || is_lif(c)) break;
    }
    return out;
}

}  // namespace elm::models
