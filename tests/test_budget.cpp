// Tests of the fixed-budget enumeration (models/budget.cpp, spec elm-network.md section 4): every
// candidate is valid, its stored count equals count_params, its P is within tolerance, the varied
// axis increases strictly, and impossible requests fail with a message giving the smallest P.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"

using namespace elm::models;

namespace {

ModelConfig shd_adding_base() {
    ModelConfig c;
    c.C = 700;
    c.n_out = 19;
    c.N = 128;
    c.d_m = 16;
    c.d_h = 32;
    c.n_b = 4;
    c.k_c = 32;
    return c;
}

std::int64_t axis_value(const BudgetCandidate& c, Axis a) {
    switch (a) {
        case Axis::N: return c.cfg.N;
        case Axis::k_e: return c.count.k_e;
        case Axis::k_c: return c.count.k_c;
    }
    return 0;
}

void check_candidates(const std::vector<BudgetCandidate>& list, std::int64_t P, Axis axis, double tol) {
    REQUIRE(list.size() >= 3);
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& c = list[i];
        INFO("candidate " << i << ": N=" << c.cfg.N << " d_m=" << c.cfg.d_m << " d_h=" << c.cfg.d_h
                          << " k_c=" << c.cfg.k_c << " P=" << c.count.P);
        CHECK_NOTHROW(c.cfg.validate());
        CHECK(c.count.P == count_params(c.cfg).P);
        CHECK(c.count.k_e == count_params(c.cfg).k_e);
        CHECK(std::abs(static_cast<double>(c.count.P - P)) <= tol * static_cast<double>(P));
        if (c.cfg.output_mode != OutputMode::lif) CHECK(c.cfg.k_c % c.cfg.n_b == 0);  // LIF has no branches
        if (i > 0) CHECK(axis_value(c, axis) > axis_value(list[i - 1], axis));
    }
}

}  // namespace

TEST_CASE("budget candidates along each axis fit the budget and are valid", "[budget]") {
    const ModelConfig base = shd_adding_base();
    for (std::int64_t P : {std::int64_t{50'000}, std::int64_t{200'000}, std::int64_t{2'000'000}}) {
        for (Axis axis : {Axis::N, Axis::k_e, Axis::k_c}) {
            INFO("P = " << P << ", axis " << to_string(axis));
            const auto list = configs_for_budget(base, P, axis, 0.05);
            check_candidates(list, P, axis, 0.05);
        }
    }
}

TEST_CASE("budget: axis semantics", "[budget]") {
    const ModelConfig base = shd_adding_base();
    const std::int64_t P = 500'000;
    // Varying k_e keeps k_c; varying k_c keeps d_m and d_h; varying N keeps d_h = 2 d_m.
    for (const auto& c : configs_for_budget(base, P, Axis::k_e, 0.05)) {
        CHECK(c.cfg.k_c == base.k_c);
        CHECK(c.cfg.d_h == 2 * c.cfg.d_m);
    }
    for (const auto& c : configs_for_budget(base, P, Axis::k_c, 0.05)) {
        CHECK(c.cfg.d_m == base.d_m);
        CHECK(c.cfg.d_h == base.d_h);
    }
    const auto along_n = configs_for_budget(base, P, Axis::N, 0.05);
    for (const auto& c : along_n) CHECK(c.cfg.d_h == 2 * c.cfg.d_m);
    // More neurons under the same budget leave fewer parameters per neuron.
    CHECK(along_n.front().count.k_e + along_n.front().count.k_c > along_n.back().count.k_e + along_n.back().count.k_c);
    // The grid spans the feasible range: from a handful of neurons to thousands.
    CHECK(along_n.front().cfg.N < 10);
    CHECK(along_n.back().cfg.N > 1000);
}

TEST_CASE("budget: LIF and embedding bases", "[budget]") {
    ModelConfig lif = shd_adding_base();
    lif.output_mode = OutputMode::lif;
    check_candidates(configs_for_budget(lif, 100'000, Axis::N, 0.05), 100'000, Axis::N, 0.05);
    CHECK_THROWS_WITH(configs_for_budget(lif, 100'000, Axis::k_e, 0.05), Catch::Contains("lif"));

    ModelConfig text = shd_adding_base();
    text.C = 256;
    text.n_out = 256;
    text.C_e = 16;
    for (Axis axis : {Axis::N, Axis::k_e, Axis::k_c})
        check_candidates(configs_for_budget(text, 1'000'000, axis, 0.05), 1'000'000, axis, 0.05);
}

TEST_CASE("budget: impossible requests are errors", "[budget]") {
    const ModelConfig base = shd_adding_base();
    CHECK_THROWS_WITH(configs_for_budget(base, 0, Axis::N, 0.05), Catch::Contains("must be > 0"));
    CHECK_THROWS_WITH(configs_for_budget(base, 1000, Axis::N, 0.0), Catch::Contains("tolerance"));
    CHECK_THROWS_WITH(configs_for_budget(base, 1000, Axis::N, 1.0), Catch::Contains("tolerance"));
    for (Axis axis : {Axis::N, Axis::k_e, Axis::k_c}) {
        INFO(to_string(axis));
        CHECK_THROWS_WITH(configs_for_budget(base, 100, axis, 0.05), Catch::Contains("smallest feasible is P ="));
    }
    CHECK_THROWS_AS(axis_from_string("depth"), elm::InputError);
    CHECK(axis_from_string("k_c") == Axis::k_c);
}
