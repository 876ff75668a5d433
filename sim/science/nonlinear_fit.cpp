#include "elmsim/sim/science/nonlinear_fit.hpp"

#include <cmath>
#include <mutex>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

namespace elm::science {

namespace {

// GSL's default error handler aborts the process; elmsim reports through return codes instead.
void quiet_gsl() {
    static std::once_flag once;
    std::call_once(once, [] { gsl_set_error_handler_off(); });
}

struct Context {
    const LeastSquaresProblem* problem;
};

int residual_function(const gsl_vector* x, void* params, gsl_vector* f) {
    const auto* ctx = static_cast<const Context*>(params);
    const std::size_t n = ctx->problem->n, p = ctx->problem->p;
    std::vector<double> theta(p), r(n);
    for (std::size_t j = 0; j < p; ++j) theta[j] = gsl_vector_get(x, j);
    if (!ctx->problem->residuals(theta.data(), r.data())) return GSL_EDOM;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(r[i])) return GSL_EDOM;
        gsl_vector_set(f, i, r[i]);
    }
    return GSL_SUCCESS;
}

std::optional<LeastSquaresFit> fit_from(const LeastSquaresProblem& problem, const std::vector<double>& start,
                                        std::size_t max_iterations) {
    Context ctx{&problem};
    {
        // A start outside the model's finite region cannot be fitted from.
        std::vector<double> r(problem.n);
        if (!problem.residuals(start.data(), r.data())) return std::nullopt;
        for (double v : r)
            if (!std::isfinite(v)) return std::nullopt;
    }
    gsl_multifit_nlinear_fdf fdf{};
    fdf.f = residual_function;
    fdf.df = nullptr;  // forward-difference Jacobian
    fdf.fvv = nullptr;
    fdf.n = problem.n;
    fdf.p = problem.p;
    fdf.params = &ctx;
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace* w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, problem.n, problem.p);
    if (!w) return std::nullopt;
    gsl_vector* x0 = gsl_vector_alloc(problem.p);
    for (std::size_t j = 0; j < problem.p; ++j) gsl_vector_set(x0, j, start[j]);
    std::optional<LeastSquaresFit> out;
    if (gsl_multifit_nlinear_init(x0, &fdf, w) == GSL_SUCCESS) {
        int info = 0;
        const int status = gsl_multifit_nlinear_driver(max_iterations, 1e-10, 1e-10, 1e-12, nullptr, nullptr, &info, w);
        const gsl_vector* x = gsl_multifit_nlinear_position(w);
        const gsl_vector* f = gsl_multifit_nlinear_residual(w);
        double rss = 0.0;
        gsl_blas_ddot(f, f, &rss);
        if (std::isfinite(rss)) {
            LeastSquaresFit fit;
            fit.theta.resize(problem.p);
            for (std::size_t j = 0; j < problem.p; ++j) fit.theta[j] = gsl_vector_get(x, j);
            fit.rss = rss;
            fit.iterations = static_cast<int>(gsl_multifit_nlinear_niter(w));
            fit.converged = status == GSL_SUCCESS;
            gsl_matrix* covar = gsl_matrix_alloc(problem.p, problem.p);
            const gsl_matrix* J = gsl_multifit_nlinear_jac(w);
            const double dof = static_cast<double>(problem.n) - static_cast<double>(problem.p);
            const double sigma2 = dof > 0 ? rss / dof : 0.0;
            fit.covariance.assign(problem.p * problem.p, NAN);
            if (gsl_multifit_nlinear_covar(J, 0.0, covar) == GSL_SUCCESS)
                for (std::size_t a = 0; a < problem.p; ++a)
                    for (std::size_t b = 0; b < problem.p; ++b)
                        fit.covariance[a * problem.p + b] = sigma2 * gsl_matrix_get(covar, a, b);
            gsl_matrix_free(covar);
            out = std::move(fit);
        }
    }
    gsl_vector_free(x0);
    gsl_multifit_nlinear_free(w);
    return out;
}

}  // namespace

std::optional<LeastSquaresFit> fit_least_squares(const LeastSquaresProblem& problem,
                                                 const std::vector<std::vector<double>>& starts,
                                                 std::size_t max_iterations) {
    quiet_gsl();
    std::optional<LeastSquaresFit> best;
    for (const auto& s : starts) {
        if (s.size() != problem.p) continue;
        auto fit = fit_from(problem, s, max_iterations);
        if (fit && (!best || fit->rss < best->rss)) best = std::move(fit);
    }
    return best;
}

double t_quantile_95(double dof) {
    quiet_gsl();
    if (!(dof >= 1.0)) return NAN;
    return gsl_cdf_tdist_Pinv(0.975, dof);
}

}  // namespace elm::science
