// Nonlinear least squares through GSL's multifit_nlinear (trust region, Levenberg-Marquardt steps,
// finite-difference Jacobian), from several starting points: the fit with the smallest residual sum
// of squares wins. Parameters are unconstrained reals; a model with bounds maps them itself (log,
// logistic) — see law_fits.cpp.
#pragma once

#include <functional>
#include <optional>
#include <vector>

namespace elm::science {

struct LeastSquaresProblem {
    std::size_t n = 0;  // residuals
    std::size_t p = 0;  // parameters
    // residuals[i] = model_i(theta) - data_i; false when theta is outside where the model is finite.
    std::function<bool(const double* theta, double* residuals)> residuals;
};

struct LeastSquaresFit {
    std::vector<double> theta;
    std::vector<double> covariance;  // p x p, row-major: sigma^2 (J^T J)^-1 with sigma^2 = rss / (n - p)
    double rss = 0.0;
    int iterations = 0;
    bool converged = false;          // GSL reported convergence (not only "no further progress")
};

// The best fit over `starts` (each of size p), or nullopt when no start gave finite residuals.
std::optional<LeastSquaresFit> fit_least_squares(const LeastSquaresProblem& problem,
                                                 const std::vector<std::vector<double>>& starts,
                                                 std::size_t max_iterations = 500);

// Two-sided 95 % quantile of Student's t with `dof` degrees of freedom (1.96 for large dof).
double t_quantile_95(double dof);

}  // namespace elm::science
