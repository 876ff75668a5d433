// The vectorised tanh of the memory drive against double-precision tanh: accuracy over the float
// range, symmetry, saturation, special values, and position independence inside an array.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "elmsim/sim/cpu/vector_math.hpp"

using namespace elm;

TEST_CASE("vectorised tanh is within a few ulp of tanh", "[vector_math]") {
    double worst_abs = 0, worst_ulp = 0;
    auto check = [&](float x) {
        const float got = sim::cpu::tanh_vectorised(x);
        const double want = std::tanh(static_cast<double>(x));
        const double err = std::fabs(got - want);
        worst_abs = std::max(worst_abs, err);
        const double ulp = std::nextafter(static_cast<float>(std::fabs(want)), 2.0f) - static_cast<float>(std::fabs(want));
        if (want != 0) worst_ulp = std::max(worst_ulp, err / ulp);
        REQUIRE(sim::cpu::tanh_vectorised(-x) == -got);  // exactly odd
    };
    for (int i = -200000; i <= 200000; ++i) check(static_cast<float>(i) * 6e-5f);  // [-12, 12]
    for (float x = 1e-30f; x < 1.0f; x *= 1.01f) check(x);                         // tiny and small
    for (float x : {0.35f, std::nextafter(0.35f, 0.0f), 9.0f, 8.99f, 20.0f, 1e30f}) check(x);
    INFO("worst absolute error " << worst_abs << ", worst " << worst_ulp << " ulp");
    CHECK(worst_abs <= 2.5e-7);
    CHECK(worst_ulp <= 4.0);
}

TEST_CASE("vectorised tanh: special values", "[vector_math]") {
    const float inf = std::numeric_limits<float>::infinity();
    CHECK(sim::cpu::tanh_vectorised(inf) == 1.0f);
    CHECK(sim::cpu::tanh_vectorised(-inf) == -1.0f);
    CHECK(sim::cpu::tanh_vectorised(50.0f) == 1.0f);
    CHECK(sim::cpu::tanh_vectorised(0.0f) == 0.0f);
    CHECK(std::signbit(sim::cpu::tanh_vectorised(-0.0f)));
    CHECK(std::isnan(sim::cpu::tanh_vectorised(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("dm_activation_inplace: same value wherever an element sits, double is exact", "[vector_math]") {
    for (std::size_t n : {1u, 3u, 4u, 7u, 13u}) {
        std::vector<float> v(n);
        for (std::size_t k = 0; k < n; ++k) v[k] = -3.0f + 0.77f * static_cast<float>(k);
        std::vector<float> out = v;
        sim::cpu::dm_activation_inplace(out.data(), n);
        for (std::size_t k = 0; k < n; ++k) {
            float one = v[k];
            sim::cpu::dm_activation_inplace(&one, 1);
            CHECK(out[k] == one);
            CHECK(out[k] == Approx(models::dm_activation(static_cast<double>(v[k]))).epsilon(1e-6));
        }
    }
    std::vector<double> d{-2.0, 0.1, 5.0};
    sim::cpu::dm_activation_inplace(d.data(), d.size());
    CHECK(d[1] == models::dm_activation(0.1));
}

// The CPU's vector tanh is models::tanh_lanes run on vectors; the scalar one is what the CUDA backend
// and every scalar caller run. They must agree bit for bit, or a GPU run could not match a CPU run.
TEST_CASE("the scalar float tanh of elm_math and the CPU's vector tanh give the same floats", "[vector_math]") {
    std::size_t compared = 0;
    auto same = [&](float x) {
        const float scalar = models::tanh_real(x), vector = sim::cpu::tanh_vectorised(x);
        if (std::isnan(scalar)) {
            REQUIRE(std::isnan(vector));
        } else {
            INFO("x = " << x);
            REQUIRE(std::memcmp(&scalar, &vector, sizeof scalar) == 0);  // -0.0 included
        }
        ++compared;
    };
    for (int i = -200000; i <= 200000; ++i) same(static_cast<float>(i) * 6e-5f);
    for (float x = 1e-30f; x < 20.0f; x *= 1.003f) {
        same(x);
        same(-x);
    }
    const float inf = std::numeric_limits<float>::infinity();
    for (float x : {0.0f, -0.0f, 9.0f, std::nextafter(9.0f, 0.0f), 1e30f, inf, -inf,
                    std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()})
        same(x);
    // And dm_activation: the engine's in-place vector form against the scalar formula, element by element.
    std::vector<float> v(1003);
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = -13.0f + 0.0261f * static_cast<float>(k);
    std::vector<float> out = v;
    sim::cpu::dm_activation_inplace(out.data(), out.size());
    for (std::size_t k = 0; k < v.size(); ++k) REQUIRE(out[k] == models::dm_activation(v[k]));
    CHECK(compared > 400000);
}

TEST_CASE("copy_short copies exactly n values, for every n around the block sizes", "[vector_math]") {
    for (std::size_t n = 0; n <= 40; ++n) {
        std::vector<float> src(n), dst(n + 8, -1.0f);
        for (std::size_t k = 0; k < n; ++k) src[k] = static_cast<float>(k) + 0.5f;
        sim::cpu::copy_short(src.data(), n, dst.data());
        INFO("n = " << n);
        for (std::size_t k = 0; k < n; ++k) REQUIRE(dst[k] == src[k]);
        for (std::size_t k = n; k < n + 8; ++k) REQUIRE(dst[k] == -1.0f);  // nothing past n
    }
}
