// The fits of spec science.md against data with known answers: the information model, the scaling
// law and the additive power law are fitted back from points generated with known parameters plus
// small noise; AIC prefers the model the data came from; degenerate input is refused. And the
// information model's properties on the spec's formula: I grows along each axis, the optimum at a
// fixed budget is interior, and the optimal N and k_e both grow with P.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/law_fits.hpp"

using namespace elm;
using namespace elm::science;

namespace {

// Parameters of the kind a sweep on SHD-Adding gives (L_0 = ln 19).
InformationModel reference_model() { return InformationModel{0.05, 0.7, 0.4, 150.0, 25.0, 0.3, std::log(19.0)}; }

// Multiplicative noise of relative size `rel`, fixed seed.
template <class F>
std::vector<ConfigPoint> factorial_points(F&& loss, double rel, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, rel);
    std::vector<ConfigPoint> pts;
    for (double N : {4, 8, 16, 32, 64, 128, 256, 512})
        for (double ke : {18, 43, 117, 361, 1096})
            for (double kc : {4, 16, 64}) pts.push_back(ConfigPoint{N, ke, kc, loss(N, ke, kc) * (1.0 + noise(rng))});
    return pts;
}

double rel_err(double got, double want) { return std::abs(got - want) / std::abs(want); }

models::ModelConfig shd_adding_base() {
    models::ModelConfig c;
    c.C = 700;
    c.n_out = 19;
    c.N = 32;
    c.d_m = 4;
    c.d_h = 8;
    c.n_b = 4;
    c.k_c = 8;
    return c;
}

struct Optimum {
    int N = 0;
    std::int64_t k_e = 0, k_c = 0;
    double I = 0.0;
    int N_min = 0, N_max = 0;
    std::int64_t ke_min = 0, ke_max = 0;
};

Optimum optimum_at(const InformationModel& m, double P) {
    Optimum o;
    const auto all = models::all_configs_for_budget(shd_adding_base(), static_cast<std::int64_t>(P), 0.05);
    REQUIRE(!all.empty());
    o.N_min = o.N_max = all.front().cfg.N;
    o.ke_min = o.ke_max = all.front().count.k_e;
    for (const auto& c : all) {
        const double I = m.information(c.cfg.N, static_cast<double>(c.count.k_e), static_cast<double>(c.count.k_c));
        if (I > o.I) o.I = I, o.N = c.cfg.N, o.k_e = c.count.k_e, o.k_c = c.count.k_c;
        o.N_min = std::min(o.N_min, c.cfg.N), o.N_max = std::max(o.N_max, c.cfg.N);
        o.ke_min = std::min(o.ke_min, c.count.k_e), o.ke_max = std::max(o.ke_max, c.count.k_e);
    }
    return o;
}

}  // namespace

TEST_CASE("information model: fitted back from its own data within tolerance", "[science]") {
    const InformationModel truth = reference_model();
    const auto pts = factorial_points([&](double N, double ke, double kc) { return truth.loss(N, ke, kc); }, 0.002, 11);
    const InformationModelFit fit = fit_information_model(pts, truth.L_0);
    const auto& m = fit.model;
    INFO("s0 " << m.s0 << " alpha " << m.alpha << " beta " << m.beta << " N0 " << m.N0 << " kappa " << m.kappa
               << " L_inf " << m.L_inf);
    // 0.2 % noise on 120 points: the estimates land within a few percent (tolerances ~3x what is seen).
    CHECK(rel_err(m.alpha, truth.alpha) < 0.05);
    CHECK(rel_err(m.beta, truth.beta) < 0.05);
    CHECK(rel_err(m.N0, truth.N0) < 0.10);
    CHECK(rel_err(m.s0, truth.s0) < 0.20);
    CHECK(rel_err(m.kappa, truth.kappa) < 0.15);
    CHECK(rel_err(m.L_inf, truth.L_inf) < 0.05);
    CHECK(fit.quality.r2 > 0.999);
    CHECK(m.L_0 == truth.L_0);  // fixed, not fitted
    // The intervals contain the truth and are ordered.
    const double want[6] = {truth.s0, truth.alpha, truth.beta, truth.N0, truth.kappa, truth.L_inf};
    for (std::size_t j = 0; j < 6; ++j) {
        INFO(kInformationParameterNames[j]);
        CHECK(fit.intervals[j].lo <= fit.intervals[j].value);
        CHECK(fit.intervals[j].value <= fit.intervals[j].hi);
        CHECK(fit.intervals[j].lo <= want[j]);
        CHECK(want[j] <= fit.intervals[j].hi);
    }
}

TEST_CASE("AIC prefers the model the data came from", "[science]") {
    const InformationModel info = reference_model();
    const auto from_info = factorial_points([&](double N, double ke, double kc) { return info.loss(N, ke, kc); }, 0.002, 5);
    CHECK(fit_information_model(from_info, info.L_0).quality.aic < fit_additive_power_law(from_info).quality.aic - 10.0);

    const AdditivePowerLaw power{0.2, 2.0, 0.5, 3.0, 0.6, 1.0, 0.3};
    const auto from_power = factorial_points([&](double N, double ke, double kc) { return power.loss(N, ke, kc); }, 0.002, 6);
    const PowerLawFit pf = fit_additive_power_law(from_power);
    CHECK(pf.quality.aic < fit_information_model(from_power, info.L_0).quality.aic - 10.0);
    // The power law itself comes back: the exponents within a few percent.
    CHECK(rel_err(pf.law.a, power.a) < 0.1);
    CHECK(rel_err(pf.law.b, power.b) < 0.1);
    CHECK(rel_err(pf.law.c, power.c) < 0.2);
}

TEST_CASE("scaling law: fitted back from a noisy front", "[science]") {
    const ScalingLaw truth{0.5, 30.0, 0.4};
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0.0, 0.002);
    std::vector<BudgetPoint> pts;
    for (double P : {1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6}) pts.push_back(BudgetPoint{P, truth.loss(P) * (1.0 + noise(rng))});
    const ScalingLawFit fit = fit_scaling_law(pts);
    INFO("L_inf " << fit.law.L_inf << " A " << fit.law.A << " gamma " << fit.law.gamma);
    CHECK(rel_err(fit.law.gamma, truth.gamma) < 0.05);
    CHECK(rel_err(fit.law.L_inf, truth.L_inf) < 0.05);
    CHECK(rel_err(fit.law.A, truth.A) < 0.25);
    CHECK(fit.quality.r2 > 0.99);
}

TEST_CASE("fits refuse degenerate or too small input", "[science]") {
    const InformationModel m = reference_model();
    std::vector<ConfigPoint> same_n;
    for (double ke : {18, 43, 117, 361}) same_n.push_back(ConfigPoint{32, ke, 8, m.loss(32, ke, 8)});
    for (double kc : {4, 16, 64, 128}) same_n.push_back(ConfigPoint{32, 117, kc, m.loss(32, 117, kc)});
    CHECK_THROWS_WITH(fit_information_model(same_n, m.L_0), Catch::Contains("degenerate") && Catch::Contains("vary N"));

    std::vector<ConfigPoint> few = {{8, 18, 4, 2.0}, {16, 43, 8, 1.5}, {32, 117, 16, 1.2}};
    CHECK_THROWS_WITH(fit_information_model(few, m.L_0), Catch::Contains("at least 7 configurations"));
    CHECK_THROWS_WITH(fit_additive_power_law(few), Catch::Contains("at least 8 configurations"));

    std::vector<ConfigPoint> flat;
    for (double N : {4, 8, 16, 32}) for (double kc : {4, 16}) flat.push_back(ConfigPoint{N, 18, kc, 1.0});
    CHECK_THROWS_WITH(fit_information_model(flat, m.L_0), Catch::Contains("every metric is the same"));

    std::vector<ConfigPoint> nan_point = same_n;
    nan_point[0].N = 4;
    nan_point[1].L = NAN;
    CHECK_THROWS_WITH(fit_information_model(nan_point, m.L_0), Catch::Contains("not finite"));

    CHECK_THROWS_WITH(fit_scaling_law({{1e3, 2.0}, {1e4, 1.5}}), Catch::Contains("at least 3 budgets"));
    CHECK_THROWS_WITH(fit_scaling_law({{1e3, 2.0}, {1e3, 1.9}, {1e4, 1.5}}), Catch::Contains("at least 3 budgets"));
    CHECK_THROWS_AS(fit_scaling_law({{1e3, 2.0}, {1e4, NAN}, {1e5, 1.0}}), InputError);
}

TEST_CASE("information model: I grows along each axis alone", "[science]") {
    const InformationModel m = reference_model();
    for (double N = 1; N < 1e5; N *= 1.5) CHECK(m.information(N * 1.5, 117, 16) > m.information(N, 117, 16));
    for (double ke = 1; ke < 1e5; ke *= 1.5) CHECK(m.information(64, ke * 1.5, 16) > m.information(64, ke, 16));
    for (double kc = 1; kc < 1e4; kc *= 1.5) CHECK(m.information(64, 117, kc * 1.5) > m.information(64, 117, kc));
    // The loss falls where I grows, from L_0 (no information) towards L_inf.
    CHECK(m.loss(64, 117, 16) < m.loss(32, 117, 16));
    CHECK(m.loss(1e-9, 117, 16) == Approx(m.L_0));
    CHECK(m.loss(1e6, 1e6, 1e6) == Approx(m.L_inf).margin(1e-6));
    // Both saturations: N_eff tends to N0, I_1 grows by alpha/2 bits per doubling of k_e, not more.
    CHECK(m.effective_neurons(1e9) == Approx(m.N0).epsilon(1e-6));
    CHECK(m.bits_per_neuron(2e6, 16) - m.bits_per_neuron(1e6, 16) == Approx(m.alpha / 2).epsilon(1e-3));
}

TEST_CASE("information model: the fixed-budget optimum is interior, and N* and k_e* grow with P", "[science]") {
    const InformationModel m = reference_model();
    std::vector<Optimum> opts;
    for (double P : {3e3, 1e4, 3e4, 1e5, 3e5}) {
        const Optimum o = optimum_at(m, P);
        INFO("P " << P << ": optimum N " << o.N << " k_e " << o.k_e << " k_c " << o.k_c << " (N in " << o.N_min << ".."
                  << o.N_max << ", k_e in " << o.ke_min << ".." << o.ke_max << ")");
        CHECK(o.N > o.N_min);
        CHECK(o.N < o.N_max);
        CHECK(o.k_e > o.ke_min);
        CHECK(o.k_e < o.ke_max);
        opts.push_back(o);
    }
    for (std::size_t i = 1; i < opts.size(); ++i) {
        CHECK(opts[i].N >= opts[i - 1].N);
        CHECK(opts[i].k_e >= opts[i - 1].k_e);
    }
    CHECK(opts.back().N > 2 * opts.front().N);
    CHECK(opts.back().k_e > 2 * opts.front().k_e);
}
