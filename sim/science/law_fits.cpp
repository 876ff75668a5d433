#include "elmsim/sim/science/law_fits.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/nonlinear_fit.hpp"

namespace elm::science {

namespace {

double logistic(double u) { return 1.0 / (1.0 + std::exp(-u)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

void check_finite(const std::vector<double>& values, const char* what) {
    for (double v : values)
        if (!std::isfinite(v)) throw InputError(fmt::format("fit: a {} is not finite ({})", what, v));
}

double min_of(const std::vector<ConfigPoint>& pts) {
    double m = std::numeric_limits<double>::infinity();
    for (const auto& p : pts) m = std::min(m, p.L);
    return m;
}

FitQuality quality_of(const std::vector<double>& observed, double rss, std::size_t k, bool converged) {
    FitQuality q;
    q.n = observed.size();
    q.k = k;
    q.rss = rss;
    double mean = 0.0;
    for (double v : observed) mean += v;
    mean /= static_cast<double>(observed.size());
    double tss = 0.0;
    for (double v : observed) tss += (v - mean) * (v - mean);
    q.r2 = tss > 0 ? 1.0 - rss / tss : NAN;
    q.rmse = std::sqrt(rss / static_cast<double>(q.n));
    q.aic = akaike(q.n, rss, k);
    q.converged = converged;
    return q;
}

void check_points(const std::vector<ConfigPoint>& pts, std::size_t params, const char* model) {
    if (pts.size() < params + 1)
        throw InputError(fmt::format("fit: the {} has {} parameters and needs at least {} configurations, got {}", model,
                                     params, params + 1, pts.size()));
    std::set<double> Ns, Ls, inner;
    for (const auto& p : pts) {
        check_finite({p.N, p.k_e, p.k_c, p.L}, "configuration value or metric");
        if (p.N <= 0 || p.k_e <= 0 || p.k_c <= 0)
            throw InputError(fmt::format("fit: N, k_e and k_c must be > 0, got N = {}, k_e = {}, k_c = {}", p.N, p.k_e, p.k_c));
        Ns.insert(p.N);
        Ls.insert(p.L);
        inner.insert(p.k_e * 1e9 + p.k_c);
    }
    if (Ns.size() < 2 || inner.size() < 2)
        throw InputError(fmt::format("fit: degenerate input for the {}: the configurations must vary N and at least one "
                                     "of k_e, k_c ({} distinct N, {} distinct (k_e, k_c))", model, Ns.size(), inner.size()));
    if (Ls.size() < 2) throw InputError(fmt::format("fit: degenerate input for the {}: every metric is the same", model));
}

// The least-squares problem of a model of the configurations: residual i = model(point i) - L_i,
// with `map` taking the unconstrained parameters to the model (anything with loss(N, k_e, k_c)).
template <class Map>
LeastSquaresProblem configuration_problem(const std::vector<ConfigPoint>& points, std::size_t params, Map map) {
    LeastSquaresProblem prob;
    prob.n = points.size();
    prob.p = params;
    prob.residuals = [&points, map](const double* t, double* r) {
        const auto model = map(t);
        for (std::size_t i = 0; i < points.size(); ++i) r[i] = model.loss(points[i].N, points[i].k_e, points[i].k_c) - points[i].L;
        return true;
    };
    return prob;
}

std::vector<double> metrics_of(const std::vector<ConfigPoint>& points) {
    std::vector<double> L;
    for (const auto& p : points) L.push_back(p.L);
    return L;
}

}  // namespace

double akaike(std::size_t n, double rss, std::size_t k) {
    const double nn = static_cast<double>(n);
    return nn * std::log(std::max(rss, 1e-300) / nn) + 2.0 * static_cast<double>(k);
}

ScalingLawFit fit_scaling_law(const std::vector<BudgetPoint>& points, const ScalingLaw* start) {
    std::set<double> budgets;
    std::vector<double> L;
    for (const auto& p : points) {
        check_finite({p.P, p.L}, "budget or Pareto metric");
        if (p.P <= 0 || p.L <= 0) throw InputError(fmt::format("fit: scaling law: P and L* must be > 0, got P = {}, L* = {}", p.P, p.L));
        budgets.insert(p.P);
        L.push_back(p.L);
    }
    if (budgets.size() < 3)
        throw InputError(fmt::format("fit: the scaling law L_inf + A P^-gamma needs at least 3 budgets with finished runs, "
                                     "got {}", budgets.size()));
    const double Lmin = *std::min_element(L.begin(), L.end());
    // theta = (logit(L_inf / Lmin), ln A, ln gamma)
    const auto map = [Lmin](const double* t) { return ScalingLaw{Lmin * logistic(t[0]), std::exp(t[1]), std::exp(t[2])}; };
    LeastSquaresProblem prob;
    prob.n = points.size();
    prob.p = 3;
    prob.residuals = [&](const double* t, double* r) {
        const ScalingLaw law = map(t);
        for (std::size_t i = 0; i < points.size(); ++i) r[i] = law.loss(points[i].P) - points[i].L;
        return true;
    };
    std::vector<std::vector<double>> starts;
    if (start && start->L_inf < Lmin && start->A > 0 && start->gamma > 0)
        starts.push_back({logit(std::max(start->L_inf / Lmin, 1e-6)), std::log(start->A), std::log(start->gamma)});
    for (double frac : {0.02, 0.5, 0.9})
        for (double gamma : {0.1, 0.3, 1.0}) {
            // A so that the law passes through the points on average (in log).
            double s = 0.0;
            for (const auto& p : points) s += std::log(std::max(p.L - frac * Lmin, 1e-12)) + gamma * std::log(p.P);
            starts.push_back({logit(frac), s / static_cast<double>(points.size()), std::log(gamma)});
        }
    const auto fit = fit_least_squares(prob, starts);
    if (!fit) throw InputError("fit: the scaling law could not be fitted (no start gave finite residuals)");
    ScalingLawFit out;
    out.law = map(fit->theta.data());
    out.quality = quality_of(L, fit->rss, 3, fit->converged);
    // R^2 in log(L* - L_inf): how straight the front is on log-log axes once L_inf is removed.
    double mean = 0.0, tss = 0.0, rss = 0.0;
    std::vector<double> y;
    for (const auto& p : points) y.push_back(std::log(std::max(p.L - out.law.L_inf, 1e-300)));
    for (double v : y) mean += v;
    mean /= static_cast<double>(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double pred = std::log(out.law.A) - out.law.gamma * std::log(points[i].P);
        tss += (y[i] - mean) * (y[i] - mean);
        rss += (y[i] - pred) * (y[i] - pred);
    }
    out.quality.r2 = tss > 0 ? 1.0 - rss / tss : NAN;
    return out;
}

InformationModelFit fit_information_model(const std::vector<ConfigPoint>& points, double L_0) {
    if (!(L_0 > 0) || !std::isfinite(L_0)) throw InputError(fmt::format("fit: L_0 must be > 0, got {}", L_0));
    check_points(points, 6, "information model");
    // theta = (ln s0, logit(alpha / 2), logit(beta / 2), ln N0, ln kappa, logit(L_inf / L_0))
    const auto map = [L_0](const double* t) {
        InformationModel m;
        m.s0 = std::exp(t[0]);
        m.alpha = 2.0 * logistic(t[1]);
        m.beta = 2.0 * logistic(t[2]);
        m.N0 = std::exp(t[3]);
        m.kappa = std::exp(t[4]);
        m.L_inf = L_0 * logistic(t[5]);
        m.L_0 = L_0;
        return m;
    };
    const LeastSquaresProblem prob = configuration_problem(points, 6, map);
    std::vector<double> Ns;
    for (const auto& p : points) Ns.push_back(p.N);
    std::sort(Ns.begin(), Ns.end());
    const double Lmin = min_of(points);
    std::vector<std::vector<double>> starts;
    for (double alpha : {0.3, 1.0})
        for (double beta : {0.3, 1.0})
            for (double N0 : {Ns[Ns.size() / 2], 10.0 * Ns.back()})
                for (double s0 : {1e-3, 1e-1})
                    for (double linf_frac : {0.1, 0.8}) {
                        InformationModel m{s0, alpha, beta, N0, 1.0, std::min(linf_frac * Lmin, 0.99 * L_0), L_0};
                        // kappa so that the median point's predicted loss matches its metric.
                        std::vector<double> ratios;
                        for (const auto& p : points) {
                            const double q = (p.L - m.L_inf) / (L_0 - m.L_inf);
                            if (q > 0 && q < 1) ratios.push_back(m.information(p.N, p.k_e, p.k_c) / -std::log(q));
                        }
                        if (ratios.empty()) continue;
                        std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
                        m.kappa = std::max(ratios[ratios.size() / 2], 1e-9);
                        starts.push_back({std::log(m.s0), logit(m.alpha / 2), logit(m.beta / 2), std::log(m.N0),
                                          std::log(m.kappa), logit(m.L_inf / L_0)});
                    }
    const auto fit = fit_least_squares(prob, starts);
    if (!fit) throw InputError("fit: the information model could not be fitted (no start gave finite residuals)");
    InformationModelFit out;
    out.model = map(fit->theta.data());
    out.quality = quality_of(metrics_of(points), fit->rss, 6, fit->converged);
    const double t = t_quantile_95(static_cast<double>(points.size()) - 6.0);
    const auto back = [&](std::size_t j, double theta) {
        std::vector<double> th = fit->theta;
        th[j] = theta;
        const InformationModel m = map(th.data());
        const double v[6] = {m.s0, m.alpha, m.beta, m.N0, m.kappa, m.L_inf};
        return v[j];
    };
    for (std::size_t j = 0; j < 6; ++j) {
        // A zero variance is GSL's mark of a direction the data do not determine (a parameter at its
        // bound, e.g. L_inf -> 0 far from saturation): no interval then, rather than a false exact one.
        const double var = fit->covariance[j * 6 + j];
        const double half = var > 0 && std::isfinite(var) && std::isfinite(t) ? t * std::sqrt(var) : NAN;
        out.intervals[j] = Interval{back(j, fit->theta[j]), back(j, fit->theta[j] - half), back(j, fit->theta[j] + half)};
    }
    return out;
}

PowerLawFit fit_additive_power_law(const std::vector<ConfigPoint>& points) {
    check_points(points, 7, "additive power law");
    const double Lmin = min_of(points);
    // theta = (logit(L_inf / Lmin), ln A, ln a, ln B, ln b, ln C, ln c)
    const auto map = [Lmin](const double* t) {
        return AdditivePowerLaw{Lmin * logistic(t[0]), std::exp(t[1]), std::exp(t[2]), std::exp(t[3]),
                                std::exp(t[4]),        std::exp(t[5]), std::exp(t[6])};
    };
    const LeastSquaresProblem prob = configuration_problem(points, 7, map);
    std::vector<std::vector<double>> starts;
    for (double frac : {0.1, 0.8})
        for (double a : {0.2, 0.7})
            for (double b : {0.2, 0.7})
                for (double c : {0.2, 0.7}) {
                    // Equal shares of the mean excess loss for the three terms.
                    double excess = 0.0, sa = 0.0, sb = 0.0, sc = 0.0;
                    for (const auto& p : points) {
                        excess += p.L - frac * Lmin;
                        sa += std::pow(p.N, -a), sb += std::pow(p.k_e, -b), sc += std::pow(p.k_c, -c);
                    }
                    const double share = std::max(excess / 3.0, 1e-12);
                    starts.push_back({logit(frac), std::log(share / sa), std::log(a), std::log(share / sb), std::log(b),
                                      std::log(share / sc), std::log(c)});
                }
    const auto fit = fit_least_squares(prob, starts);
    if (!fit) throw InputError("fit: the additive power law could not be fitted (no start gave finite residuals)");
    PowerLawFit out;
    out.law = map(fit->theta.data());
    out.quality = quality_of(metrics_of(points), fit->rss, 7, fit->converged);
    return out;
}

}  // namespace elm::science
