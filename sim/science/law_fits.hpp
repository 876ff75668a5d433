// Fits of science.md sections 2 and 3 on sweep data, by nonlinear least squares (nonlinear_fit.hpp):
//   fit_scaling_law         L*(P) = L_inf + A P^(-gamma) on the Pareto points, L_inf in [0, min L*)
//   fit_information_model   the information model on configurations (mean metric over seeds), with
//                           s0, N0, kappa in log space, alpha, beta in (0, 2), L_inf in [0, L_0)
//   fit_additive_power_law  L_inf + A N^(-a) + B k_e^(-b) + C k_c^(-c), its rival for the AIC
// Each maps bounded parameters through log / logistic transforms, fits from a fixed grid of starts
// (deterministic) and keeps the smallest residual sum of squares. Too few or degenerate points are an
// InputError saying what is missing.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "elmsim/sim/science/information_model.hpp"

namespace elm::science {

struct Interval {
    double value = 0.0, lo = 0.0, hi = 0.0;  // estimate and 95 % interval
};

struct ConfigPoint {
    double N = 0.0, k_e = 0.0, k_c = 0.0;
    double L = 0.0;  // the fitted quantity (loss, error rate or bpc), mean over seeds
};

struct BudgetPoint {
    double P = 0.0;
    double L = 0.0;
};

struct FitQuality {
    std::size_t n = 0;       // points
    std::size_t k = 0;       // fitted parameters
    double rss = 0.0;
    double r2 = 0.0;         // 1 - rss / total sum of squares (scaling law: in log(L* - L_inf))
    double rmse = 0.0;       // sqrt(rss / n)
    double aic = 0.0;        // n ln(rss / n) + 2 k
    bool converged = false;  // GSL's convergence test passed (else: best point where it stopped)
};

struct ScalingLawFit {
    ScalingLaw law;
    FitQuality quality;
};

struct InformationModelFit {
    InformationModel model;
    // s0, alpha, beta, N0, kappa, L_inf: asymptotic 95 % intervals from the covariance of the
    // transformed parameters (Student t), mapped back through the transforms; NaN bounds where the
    // data do not determine the parameter (GSL drops it from the covariance as linearly dependent).
    std::array<Interval, 6> intervals;
    FitQuality quality;
};

struct PowerLawFit {
    AdditivePowerLaw law;
    FitQuality quality;
};

inline constexpr std::array<const char*, 6> kInformationParameterNames = {"s0", "alpha", "beta", "N0", "kappa", "L_inf"};

// `start` (optional) is tried before the grid of starts: the bootstrap passes the full fit.
ScalingLawFit fit_scaling_law(const std::vector<BudgetPoint>& points, const ScalingLaw* start = nullptr);
InformationModelFit fit_information_model(const std::vector<ConfigPoint>& points, double L_0);
PowerLawFit fit_additive_power_law(const std::vector<ConfigPoint>& points);

double akaike(std::size_t n, double rss, std::size_t k);

}  // namespace elm::science
