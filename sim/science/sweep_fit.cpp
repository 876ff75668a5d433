#include "elmsim/sim/science/sweep_fit.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <gsl/gsl_fit.h>

#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/law_fits.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"
#include "elmsim/sim/science/sweep_results.hpp"

namespace elm::science {

using nlohmann::json;

namespace {

json interval_json(const Interval& i) { return json{{"value", i.value}, {"lo", i.lo}, {"hi", i.hi}}; }

json quality_json(const FitQuality& q) {
    return json{{"n", q.n}, {"parameters", q.k}, {"rss", q.rss}, {"r2", q.r2}, {"rmse", q.rmse}, {"aic", q.aic},
                {"converged", q.converged}};
}

json config_json(const ConfigSummary& c) {
    return json{{"key", c.key}, {"N", c.N}, {"k_e", c.k_e}, {"k_c", c.k_c}, {"P", c.P}, {"d_m", c.d_m}, {"d_h", c.d_h},
                {"L", c.mean}, {"L_sd", c.sd}, {"seeds", c.seeds}};
}

// Percentile interval of bootstrap values around the full-data estimate.
Interval percentile(std::vector<double> v, double value) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
    if (v.size() < 10) return Interval{value, NAN, NAN};
    std::sort(v.begin(), v.end());
    const auto at = [&](double q) { return v[static_cast<std::size_t>(std::lround(q * static_cast<double>(v.size() - 1)))]; };
    return Interval{value, at(0.025), at(0.975)};
}

// Slope of log y on log x (least squares; GSL).
double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
    std::vector<double> lx, ly;
    for (std::size_t i = 0; i < x.size(); ++i) lx.push_back(std::log(x[i])), ly.push_back(std::log(y[i]));
    double c0, c1, cov00, cov01, cov11, sumsq;
    if (gsl_fit_linear(lx.data(), 1, ly.data(), 1, lx.size(), &c0, &c1, &cov00, &cov01, &cov11, &sumsq) != 0) return NAN;
    return c1;
}

struct Front {
    std::vector<double> budgets;
    std::vector<ConfigSummary> best;  // one per budget
};

// The best configuration (mean over its seeds) of each budget that has runs.
Front pareto_front(const std::vector<std::vector<const RunRecord*>>& per_budget, const std::vector<double>& budgets) {
    Front f;
    for (std::size_t b = 0; b < budgets.size(); ++b) {
        if (per_budget[b].empty()) continue;
        f.budgets.push_back(budgets[b]);
        f.best.push_back(best_of(summarize(per_budget[b])));
    }
    return f;
}

std::vector<BudgetPoint> front_points(const Front& f) {
    std::vector<BudgetPoint> pts;
    for (const auto& c : f.best) pts.push_back(BudgetPoint{c.P, c.mean});
    return pts;
}

struct Optimum {
    models::BudgetCandidate cand;
    double I = 0.0, L = 0.0;
};

std::optional<Optimum> model_optimum(const InformationModel& m, const models::ModelConfig& base, double budget, double tol) {
    std::optional<Optimum> best;
    for (const auto& c : models::all_configs_for_budget(base, static_cast<std::int64_t>(std::llround(budget)), tol)) {
        const double I = m.information(c.cfg.N, static_cast<double>(c.count.k_e), static_cast<double>(c.count.k_c));
        if (!best || I > best->I) best = Optimum{c, I, 0.0};
    }
    if (best) best->L = m.loss(best->cand.cfg.N, static_cast<double>(best->cand.count.k_e), static_cast<double>(best->cand.count.k_c));
    return best;
}

double axis_value(const std::string& axis, double N, double k_e, double k_c, int d_m) {
    if (axis == "N") return N;
    if (axis == "k_e") return k_e;
    if (axis == "d_m") return d_m;
    return k_c;
}

json points_with_model(const std::vector<ConfigSummary>& configs, const InformationModel& m, const std::string& axis) {
    json pts = json::array();
    for (const auto& c : configs) {
        json j = config_json(c);
        j["x"] = axis_value(axis, c.N, c.k_e, c.k_c, c.d_m);
        j["L_model"] = m.loss(c.N, c.k_e, c.k_c);
        pts.push_back(j);
    }
    return pts;
}

json curve_point(const models::ModelConfig& cfg, const InformationModel& m, const std::string& axis) {
    const auto pc = models::count_params(cfg);
    const double ke = static_cast<double>(pc.k_e), kc = static_cast<double>(pc.k_c);
    return json{{"x", axis_value(axis, cfg.N, ke, kc, cfg.d_m)}, {"N", cfg.N}, {"k_e", ke}, {"k_c", kc}, {"P", pc.P},
                {"L", m.loss(cfg.N, ke, kc)}, {"I", m.information(cfg.N, ke, kc)}};
}

std::vector<int> dense_values(const std::vector<int>& values, const std::string& axis, int step) {
    const int lo = *std::min_element(values.begin(), values.end()), hi = *std::max_element(values.begin(), values.end());
    std::vector<int> out;
    if (axis == "d_m") {
        for (int v = lo; v <= hi; ++v) out.push_back(v);
        return out;
    }
    for (int k = 0; k <= 40; ++k) {
        int v = static_cast<int>(std::lround(lo * std::pow(static_cast<double>(hi) / lo, k / 40.0)));
        if (axis == "k_c") v = std::max(step, v / step * step);
        if (out.empty() || out.back() != v) out.push_back(v);
    }
    return out;
}

}  // namespace

json fit_sweep(const std::string& dir, const FitOptions& opt) {
    if (opt.bootstrap < 0) throw ParameterError("bootstrap", fmt::format("expected >= 0 resamples, got {}", opt.bootstrap));
    const SweepData d = read_sweep(dir);
    const auto& base = d.base.model;
    const double tol = d.sweep.tolerance;

    // Pareto front and scaling law.
    std::vector<double> budgets;
    std::vector<std::vector<const RunRecord*>> per_budget;
    for (double b : d.sweep.budgets) {
        budgets.push_back(b);
        per_budget.push_back(runs_of_budget(d, b));
    }
    const Front front = pareto_front(per_budget, budgets);
    if (front.budgets.size() < 3)
        throw InputError(fmt::format("{}: the scaling law needs finished runs at 3 budgets or more, this sweep has them at {} "
                                     "(of {} planned)", dir, front.budgets.size(), budgets.size()));
    const ScalingLawFit law = fit_scaling_law(front_points(front));
    std::vector<double> P, Ns, kes, kcs;
    for (const auto& c : front.best) P.push_back(c.P), Ns.push_back(c.N), kes.push_back(c.k_e), kcs.push_back(c.k_c);
    const double aN = loglog_slope(P, Ns), ae = loglog_slope(P, kes), ac = loglog_slope(P, kcs);

    // Bootstrap: resample each budget's runs, choose its Pareto point again, refit.
    std::mt19937_64 rng(opt.seed);
    std::vector<double> bL, bA, bg, baN, bae, bac;
    int ok = 0;
    for (int rep = 0; rep < opt.bootstrap; ++rep) {
        std::vector<std::vector<const RunRecord*>> sample(per_budget.size());
        for (std::size_t b = 0; b < per_budget.size(); ++b) {
            const auto& runs = per_budget[b];
            std::uniform_int_distribution<std::size_t> pick(0, runs.empty() ? 0 : runs.size() - 1);
            for (std::size_t k = 0; k < runs.size(); ++k) sample[b].push_back(runs[pick(rng)]);
        }
        const Front f = pareto_front(sample, budgets);
        try {
            const ScalingLawFit s = fit_scaling_law(front_points(f), &law.law);
            std::vector<double> p, n, e, c;
            for (const auto& x : f.best) p.push_back(x.P), n.push_back(x.N), e.push_back(x.k_e), c.push_back(x.k_c);
            bL.push_back(s.law.L_inf), bA.push_back(s.law.A), bg.push_back(s.law.gamma);
            baN.push_back(loglog_slope(p, n)), bae.push_back(loglog_slope(p, e)), bac.push_back(loglog_slope(p, c));
            ++ok;
        } catch (const InputError&) {
            // a resample with too few distinct budgets: left out
        }
    }

    // Information model and its rival on every configuration.
    const std::vector<ConfigSummary> configs = summarize(all_runs(d));
    std::vector<ConfigPoint> cps;
    for (const auto& c : configs) cps.push_back(ConfigPoint{c.N, c.k_e, c.k_c, c.mean});
    const InformationModelFit info = fit_information_model(cps, d.L_0);
    const PowerLawFit power = fit_additive_power_law(cps);
    const InformationModel& m = info.model;

    json out;
    out["kind"] = "elmsim-fit";
    out["spec_version"] = kScienceSpecVersion;
    out["sweep"] = dir;
    out["metric"] = io::to_string(d.metric);
    out["fitted_quantity"] = d.quantity;
    out["L_0"] = d.L_0;
    out["runs_planned"] = d.planned;
    out["runs_finished"] = d.runs.size();
    out["runs_failed"] = d.failed;
    out["configurations"] = configs.size();

    json pareto = json::array();
    for (std::size_t i = 0; i < front.budgets.size(); ++i) {
        json j = config_json(front.best[i]);
        j["budget"] = front.budgets[i];
        j["L_model"] = m.loss(front.best[i].N, front.best[i].k_e, front.best[i].k_c);
        pareto.push_back(j);
    }
    out["pareto"] = pareto;
    out["scaling_law"] = {{"form", "L*(P) = L_inf + A P^-gamma"},
                          {"L_inf", interval_json(percentile(bL, law.law.L_inf))},
                          {"A", interval_json(percentile(bA, law.law.A))},
                          {"gamma", interval_json(percentile(bg, law.law.gamma))},
                          {"r2_log", law.quality.r2},
                          {"rss", law.quality.rss},
                          {"points", law.quality.n},
                          {"converged", law.quality.converged},
                          {"bootstrap", opt.bootstrap},
                          {"bootstrap_fitted", ok}};
    out["allocation_exponents"] = {{"a_N", interval_json(percentile(baN, aN))},
                                   {"a_e", interval_json(percentile(bae, ae))},
                                   {"a_c", interval_json(percentile(bac, ac))}};
    json params;
    for (std::size_t j = 0; j < 6; ++j) params[kInformationParameterNames[j]] = interval_json(info.intervals[j]);
    out["information_model"] = {{"form", "L = L_inf + (L_0 - L_inf) exp(-N/(1+N/N0) * 1/2 log2(1 + s0 k_e^alpha k_c^beta) / kappa)"},
                                {"parameters", params},
                                {"L_0", d.L_0},
                                {"quality", quality_json(info.quality)}};
    const auto& pl = power.law;
    out["power_law"] = {{"form", "L = L_inf + A N^-a + B k_e^-b + C k_c^-c"},
                        {"parameters", {{"L_inf", pl.L_inf}, {"A", pl.A}, {"a", pl.a}, {"B", pl.B}, {"b", pl.b}, {"C", pl.C}, {"c", pl.c}}},
                        {"quality", quality_json(power.quality)}};
    out["aic_information_minus_power_law"] = info.quality.aic - power.quality.aic;

    json optima = json::array();
    for (std::size_t i = 0; i < front.budgets.size(); ++i) {
        const auto o = model_optimum(m, base, front.budgets[i], tol);
        json j = {{"budget", front.budgets[i]}, {"best_run", config_json(front.best[i])}};
        j["best_run"]["L_model"] = m.loss(front.best[i].N, front.best[i].k_e, front.best[i].k_c);
        if (o) {
            const auto& c = o->cand;
            j["model_optimum"] = {{"N", c.cfg.N}, {"d_m", c.cfg.d_m}, {"d_h", c.cfg.d_h}, {"k_e", c.count.k_e},
                                  {"k_c", c.count.k_c}, {"P", c.count.P}, {"I", o->I}, {"L_model", o->L}};
        }
        optima.push_back(j);
    }
    out["model_optima"] = optima;

    // Curves for the pictures: both fronts over the budgets' range, the model along each group's axis.
    json model_front = json::array(), law_front = json::array();
    const double lo = *std::min_element(front.budgets.begin(), front.budgets.end()) / 1.5;
    const double hi = *std::max_element(front.budgets.begin(), front.budgets.end()) * 1.5;
    for (int k = 0; k <= 24; ++k) {
        const double p = lo * std::pow(hi / lo, k / 24.0);
        law_front.push_back({{"P", p}, {"L", law.law.loss(p)}});
        if (const auto o = model_optimum(m, base, p, tol))
            model_front.push_back({{"P", static_cast<double>(o->cand.count.P)}, {"L", o->L}, {"N", o->cand.cfg.N},
                                   {"k_e", o->cand.count.k_e}, {"k_c", o->cand.count.k_c}});
    }
    out["scaling_front"] = law_front;
    out["model_front"] = model_front;

    json groups = json::array();
    for (double b : d.sweep.budgets)
        for (models::Axis a : d.sweep.axes) {
            const std::string axis = models::to_string(a);
            const auto runs = runs_of_group(d, b, axis);
            if (runs.empty()) continue;
            const auto cs = summarize(runs);
            json curve = json::array();
            try {
                for (const auto& c : models::configs_spread_over_axis(base, static_cast<std::int64_t>(std::llround(b)), a, tol, 40))
                    curve.push_back(curve_point(c.cfg, m, axis));
            } catch (const InputError&) {
            }
            const auto& best = best_of(cs);
            json g = {{"budget", b}, {"axis", axis}, {"points", points_with_model(cs, m, axis)}, {"model_curve", curve},
                      {"best", best.key}};
            if (!curve.empty()) {
                const auto mo = std::min_element(curve.begin(), curve.end(),
                                                 [](const json& x, const json& y) { return x["L"] < y["L"]; });
                g["model_optimum_x"] = (*mo)["x"];
            }
            groups.push_back(g);
        }
    out["groups"] = groups;

    json scans = json::array();
    for (std::size_t k = 0; k < d.sweep.scans.size(); ++k) {
        const auto& sc = d.sweep.scans[k];
        const auto runs = runs_of_scan(d, static_cast<int>(k));
        if (runs.empty()) continue;
        json curve = json::array();
        const int step = sc.fixed.count("n_b") ? sc.fixed.at("n_b") : base.n_b;
        for (int v : dense_values(sc.values, sc.axis, base.output_mode == models::OutputMode::lif ? 1 : step)) {
            try {
                curve.push_back(curve_point(scan_model(d.sweep, base, k, v), m, sc.axis));
            } catch (const InputError&) {
            }
        }
        scans.push_back({{"scan", k}, {"axis", sc.axis}, {"fixed", sc.fixed},
                         {"points", points_with_model(summarize(runs), m, sc.axis)}, {"model_curve", curve}});
    }
    out["scans"] = scans;
    out["points"] = points_with_model(configs, m, "N");
    return out;
}

std::string fit_table(const json& f) {
    std::string s;
    const std::string q = f["fitted_quantity"];
    s += fmt::format("fit: {}  metric {} (fitted: {}, L_0 = {:.4g})  runs {} finished / {} planned, {} failed, {} "
                     "configurations\n\n",
                     f["sweep"].get<std::string>(), f["metric"].get<std::string>(), q, f["L_0"].get<double>(),
                     f["runs_finished"].get<std::size_t>(), f["runs_planned"].get<std::size_t>(), f["runs_failed"].size(),
                     f["configurations"].get<std::size_t>());
    s += fmt::format("{:>10}  {:<34} {:>8} {:>7}   {:<34} {:>8}\n", "budget", "best run: N / k_e / k_c (P)", q, "model",
                     "model optimum: N / k_e / k_c (P)", "model");
    for (const auto& o : f["model_optima"]) {
        const auto& b = o["best_run"];
        const std::string best = fmt::format("{:g} / {:g} / {:g} ({:g})", b["N"].get<double>(), b["k_e"].get<double>(),
                                             b["k_c"].get<double>(), b["P"].get<double>());
        std::string opt = "-", optL = "-";
        if (o.contains("model_optimum")) {
            const auto& m = o["model_optimum"];
            opt = fmt::format("{} / {} / {} ({})", m["N"].get<int>(), m["k_e"].get<std::int64_t>(), m["k_c"].get<std::int64_t>(),
                              m["P"].get<std::int64_t>());
            optL = fmt::format("{:.4f}", m["L_model"].get<double>());
        }
        s += fmt::format("{:>10g}  {:<34} {:>8.4f} {:>7.4f}   {:<34} {:>8}\n", o["budget"].get<double>(), best,
                         b["L"].get<double>(), b["L_model"].get<double>(), opt, optL);
    }
    const auto iv = [](const json& j) {
        const auto finite = [](const json& v) { return v.is_number() && std::isfinite(v.get<double>()); };
        if (!finite(j["lo"]) || !finite(j["hi"])) return fmt::format("{:.4g} [not determined]", j["value"].get<double>());
        return fmt::format("{:.4g} [{:.4g}, {:.4g}]", j["value"].get<double>(), j["lo"].get<double>(), j["hi"].get<double>());
    };
    const auto& sl = f["scaling_law"];
    s += fmt::format("\nscaling law   L*(P) = L_inf + A P^-gamma   L_inf {}  A {}  gamma {}  R^2(log) {:.3f}  ({} bootstrap fits)\n",
                     iv(sl["L_inf"]), iv(sl["A"]), iv(sl["gamma"]), sl["r2_log"].is_null() ? NAN : sl["r2_log"].get<double>(),
                     sl["bootstrap_fitted"].get<int>());
    const auto& ae = f["allocation_exponents"];
    s += fmt::format("allocation    N* ~ P^{}   k_e* ~ P^{}   k_c* ~ P^{}\n", iv(ae["a_N"]), iv(ae["a_e"]), iv(ae["a_c"]));
    const auto& im = f["information_model"];
    std::string params;
    for (const char* k : kInformationParameterNames) params += fmt::format("  {} {}", k, iv(im["parameters"][k]));
    const auto qual = [](const json& qj) {
        return fmt::format("R^2 {:.3f}  RMSE {:.4g}  AIC {:.2f}{}", qj["r2"].is_null() ? NAN : qj["r2"].get<double>(),
                           qj["rmse"].get<double>(), qj["aic"].get<double>(), qj["converged"].get<bool>() ? "" : "  (not converged)");
    };
    s += fmt::format("information   {}\n             {}\n", qual(im["quality"]), params);
    s += fmt::format("power law     {}\n", qual(f["power_law"]["quality"]));
    const double daic = f["aic_information_minus_power_law"].get<double>();
    s += fmt::format("AIC(information) - AIC(power law) = {:.2f}: {}\n", daic,
                     daic < -2 ? "the information model is preferred" : daic > 2 ? "the additive power law is preferred"
                                                                                 : "no clear preference");
    return s;
}

}  // namespace elm::science
