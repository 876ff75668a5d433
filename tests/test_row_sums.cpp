// The synapse loops' sums (sim/cpu/row_dots.hpp, sim/cpu/vector_math.hpp weighted_row_sum) against the
// plain scalar loops they replace, bit for bit, on edge shapes: counts and lengths that are not
// multiples of the vector width, one row, one term, and data whose sums depend on their order.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "elmsim/sim/cpu/row_dots.hpp"
#include "elmsim/sim/cpu/vector_math.hpp"

using namespace elm;

namespace {

// Values over many binades, so that a sum taken in another order rounds differently.
std::vector<float> spread_values(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
    std::uniform_int_distribution<int> expo(-12, 12);
    std::vector<float> v(n);
    for (auto& x : v) x = std::ldexp(mant(rng), expo(rng));
    return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("ordered row dots equal the scalar loop bit for bit", "[row_sums]") {
    int order_sensitive = 0;
    for (int count : {1, 3, 15, 16, 17, 33, 48}) {
        for (int n : {1, 2, 7, 15, 16, 17, 31, 32, 33, 64}) {
            const std::vector<float> x = spread_values(static_cast<std::size_t>(count) * n, 11u * count + n);
            const std::vector<float> y = spread_values(static_cast<std::size_t>(count) * n, 7u * count + 3u * n);
            std::vector<float> acc = spread_values(count, 5u + count), want = acc;
            acc[0] = want[0] = -0.0f;  // a signed zero start survives only the exact sequence of adds
            for (int r = 0; r < count; ++r) {
                float a = want[r], reversed = want[r];
                for (int k = 0; k < n; ++k) a += x[r * n + k] * y[r * n + k];
                for (int k = n - 1; k >= 0; --k) reversed += x[r * n + k] * y[r * n + k];
                want[r] = a;
                order_sensitive += !same_bits(a, reversed);
            }
            sim::cpu::ordered_row_dots(
                count, n,
                [&](int r) {
                    return std::pair<const float*, const float*>{x.data() + r * n, y.data() + r * n};
                },
                acc.data());
            for (int r = 0; r < count; ++r) {
                INFO("count " << count << " n " << n << " r " << r);
                REQUIRE(same_bits(acc[r], want[r]));
            }
        }
    }
    CHECK(order_sensitive > 100);  // the data tell the order apart
}

TEST_CASE("ordered row dots: special values pass through as in the scalar loop", "[row_sums]") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const int count = 20, n = 18;
    std::vector<float> x(count * n, 1.0f), y(count * n, 0.5f), acc(count, 0.0f);
    x[3 * n + 5] = inf;
    y[7 * n + 17] = nan;
    x[19 * n] = -inf;
    sim::cpu::ordered_row_dots(
        count, n,
        [&](int r) { return std::pair<const float*, const float*>{x.data() + r * n, y.data() + r * n}; }, acc.data());
    CHECK(acc[3] == inf);
    CHECK(std::isnan(acc[7]));
    CHECK(acc[19] == -inf);
    CHECK(acc[0] == 9.0f);
}

TEST_CASE("weighted row sums equal one multiply-add pass per term bit for bit", "[row_sums]") {
    for (int count : {0, 1, 5, 12, 24}) {
        for (std::size_t n : {1u, 3u, 8u, 9u, 16u, 17u, 31u, 32u, 33u, 48u, 70u}) {
            const std::vector<float> rows = spread_values(count * n + 1, 13u * count + static_cast<unsigned>(n));
            const std::vector<float> w = spread_values(count + 1, 17u + count);
            std::vector<float> want(n, 0.0f), got(n, 1.0f);
            for (int e = 0; e < count; ++e)
                for (std::size_t b = 0; b < n; ++b) want[b] += w[e] * rows[e * n + b];
            sim::cpu::weighted_row_sum(
                n, count, [&](int e) { return std::pair<float, const float*>{w[e], rows.data() + e * n}; },
                got.data());
            for (std::size_t b = 0; b < n; ++b) {
                INFO("count " << count << " n " << n << " b " << b);
                REQUIRE(same_bits(got[b], want[b]));
            }
        }
    }
}

TEST_CASE("weighted row sums in double are the plain loop, in order", "[row_sums]") {
    const std::vector<double> rows = {1e16, 2.0, -1e16, 3.0, 1.0, 1.0};
    const std::vector<double> w = {1.0, 1.0, 1.0};
    std::vector<double> out(2, 7.0);
    sim::cpu::weighted_row_sum(
        2, 3, [&](int e) { return std::pair<double, const double*>{w[e], rows.data() + 2 * e}; }, out.data());
    CHECK(out[0] == 1.0);  // (1e16 - 1e16) + 1: in order
    CHECK(out[1] == 6.0);
}
