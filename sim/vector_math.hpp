// Vectorised maths for the CPU engine's float hot loops. The memory drive dm = 1.7159 tanh(2/3 a)
// (spec section 2) is evaluated for every memory unit of every neuron at every step; one scalar libm
// tanhf call per unit was ~10 % of a training step. Here tanh runs on 4-wide (SSE2, every x86-64) or
// 8-wide (AVX, with ELM_NATIVE) vectors of the GCC/Clang vector extension, with plain IEEE operations
// and no fused multiply-add, so every CPU and build computes the same floats, and an element's value
// does not depend on where it sits in the array (the tail goes through the same vector code).
//
// Accuracy: at most 1.5e-7 absolute and 2.5 ulp relative from the exact tanh over the float range
// (tests/test_vector_math.cpp, against double tanh). double keeps std::tanh, so the float64
// finite-difference checks see the exact function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "elmsim/sim/elm_math.hpp"

namespace elm::sim {

namespace vector_math_detail {

// 8 lanes where the build targets AVX (ELM_NATIVE), else 4 (SSE2). Lanes are independent and use the
// same operations, so the width changes the speed, not the floats.
#if defined(__AVX__)
inline constexpr int kLanes = 8;
#else
inline constexpr int kLanes = 4;
#endif
typedef float FV __attribute__((vector_size(4 * kLanes)));
typedef std::int32_t IV __attribute__((vector_size(4 * kLanes)));

inline FV splat(float v) { return FV{} + v; }
inline IV splat_int(std::int32_t v) { return IV{} + v; }
inline FV as_float(IV v) {
    FV f;
    std::memcpy(&f, &v, sizeof f);
    return f;
}
inline IV as_int(FV v) {
    IV i;
    std::memcpy(&i, &v, sizeof i);
    return i;
}
inline FV select(IV mask, FV if_true, FV if_false) { return as_float((mask & as_int(if_true)) | (~mask & as_int(if_false))); }

// expm1(y) for y in [-18, 0] in one pass: y = n ln2 + r with |r| <= ln2 / 2 (ln2 split in a high part
// with few mantissa bits and a low part, so n ln2_hi is exact), expm1(r) by its Taylor series to r^8
// (truncation < 1e-9 relative), then expm1(y) = 2^n expm1(r) + (2^n - 1) with 2^n built in the
// exponent field. For |y| <= ln2 / 2, n = 0 and the result is the series itself, so small arguments
// keep their relative accuracy (no 1 - 1 cancellation).
inline FV expm1_nonpositive(FV y) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    const IV n = __builtin_convertvector(y * splat(log2e) - splat(0.5f), IV);  // round(y / ln2) for y <= 0
    const FV nf = __builtin_convertvector(n, FV);
    const FV r = (y - nf * splat(ln2_hi)) - nf * splat(ln2_lo);
    FV q = splat(1.0f / 40320.0f);
    q = q * r + splat(1.0f / 5040.0f);
    q = q * r + splat(1.0f / 720.0f);
    q = q * r + splat(1.0f / 120.0f);
    q = q * r + splat(1.0f / 24.0f);
    q = q * r + splat(1.0f / 6.0f);
    q = q * r + splat(0.5f);
    q = q * r * r + r;
    const FV scale = as_float((n + 127) << 23);
    return scale * q + (scale - splat(1.0f));
}

// tanh(x) = sign(x) (-expm1(-2|x|)) / (2 + expm1(-2|x|)); |x| clamped at 9, where tanh rounds to 1.
inline FV tanh_v(FV x) {
    const IV sign = as_int(x) & splat_int(INT32_MIN);
    FV ax = as_float(as_int(x) & splat_int(INT32_MAX));
    const IV is_num = ax == ax;
    ax = select(is_num, ax, splat(0.0f));         // NaN lanes: computed as 0, restored below
    ax = select(ax > splat(9.0f), splat(9.0f), ax);
    const FV y = splat(-2.0f) * ax;
    const FV em = expm1_nonpositive(y);
    const FV t = -em / (splat(2.0f) + em);
    return select(is_num, as_float(as_int(t) | sign), x);
}

}  // namespace vector_math_detail

// In place: v[k] = dm_activation(v[k]) = 1.7159 tanh(2/3 v[k]) for k < n.
inline void dm_activation_inplace(float* v, std::size_t n) {
    using namespace vector_math_detail;
    const FV slope = splat(static_cast<float>(kDmSlope)), scale = splat(static_cast<float>(kDmScale));
    std::size_t k = 0;
    for (; k + kLanes <= n; k += kLanes) {
        FV x;
        std::memcpy(&x, v + k, sizeof x);
        x = scale * tanh_v(slope * x);
        std::memcpy(v + k, &x, sizeof x);
    }
    if (k < n) {
        FV x = splat(0.0f);
        std::memcpy(&x, v + k, (n - k) * sizeof(float));
        x = scale * tanh_v(slope * x);
        std::memcpy(v + k, &x, (n - k) * sizeof(float));
    }
}

inline void dm_activation_inplace(double* v, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) v[k] = dm_activation(v[k]);
}

// y[k] += a x[k] for k < n, multiply then add (no fusion), so every element rounds as the scalar
// expression would; vectors for float (GCC 12 keeps the plain loop scalar when it sits inside the
// synapse loop of the gather).
inline void axpy(std::size_t n, float a, const float* __restrict x, float* __restrict y) {
    using namespace vector_math_detail;
    const FV av = splat(a);
    std::size_t k = 0;
    for (; k + kLanes <= n; k += kLanes) {
        FV xv, yv;
        std::memcpy(&xv, x + k, sizeof xv);
        std::memcpy(&yv, y + k, sizeof yv);
        yv += av * xv;
        std::memcpy(y + k, &yv, sizeof yv);
    }
    for (; k < n; ++k) y[k] += a * x[k];
}

inline void axpy(std::size_t n, double a, const double* __restrict x, double* __restrict y) {
    for (std::size_t k = 0; k < n; ++k) y[k] += a * x[k];
}

// Single float through the same vector code (for callers that need one value with the array's rounding).
inline float tanh_vectorised(float x) {
    using namespace vector_math_detail;
    return tanh_v(splat(x))[0];
}

}  // namespace elm::sim
