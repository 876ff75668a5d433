// Vectorised maths for the CPU engine's float hot loops. The memory drive dm = 1.7159 tanh(2/3 a)
// (spec section 2) is evaluated for every memory unit of every neuron at every step; one scalar libm
// tanhf call per unit was ~10 % of a training step. Here the float tanh of models/elm_math.hpp
// (tanh_lanes: written once, for one float and for vectors of floats) runs on 4-wide (SSE2, every
// x86-64) or 8-wide (AVX, with ELM_NATIVE) vectors of the GCC/Clang vector extension, with plain IEEE
// operations and no fused multiply-add, so every CPU, build and backend computes the same floats as the
// scalar models::dm_activation<float>, and an element's value does not depend on where it sits in the
// array (the tail goes through the same vector code). tests/test_vector_math.cpp checks both.
// double keeps std::tanh, so the float64 finite-difference checks see the exact function.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "elmsim/models/elm_math.hpp"

namespace elm::sim::cpu {

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
// The memory drive's tanh runs over B d_m values at once: 16 lanes where the build targets AVX-512.
// (The gather's AXPYs keep kLanes: their rows are B long, 8 for some models.)
#if defined(__AVX512F__)
inline constexpr int kWideLanes = 16;
typedef float FVW __attribute__((vector_size(4 * kWideLanes)));
typedef std::int32_t IVW __attribute__((vector_size(4 * kWideLanes)));
#else
inline constexpr int kWideLanes = kLanes;
using FVW = FV;
using IVW = IV;
#endif

inline FV splat(float v) { return FV{} + v; }

}  // namespace vector_math_detail
}  // namespace elm::sim::cpu

// The lane operations of models::tanh_lanes for the CPU's float vectors: the float tanh of the memory
// drive is the one of models/elm_math.hpp, run on kLanes (or, for the memory drive, kWideLanes) floats at
// once (same operations, same floats).
#define ELM_FLOAT_LANES(FV_, IV_)                                                                              \
    template <>                                                                                                \
    struct elm::models::FloatLanes<FV_> {                                                                      \
        using FV = FV_;                                                                                        \
        using Int = IV_;                                                                                       \
        using Mask = Int;                                                                                      \
        static FV splat(float v) { return FV{} + v; }                                                          \
        static Int splat_int(std::int32_t v) { return Int{} + v; }                                             \
        static Int truncate(FV v) { return __builtin_convertvector(v, Int); } /* toward zero, as static_cast */ \
        static FV to_float(Int v) { return __builtin_convertvector(v, FV); }                                   \
        static Int bits(FV v) {                                                                                \
            Int i;                                                                                             \
            std::memcpy(&i, &v, sizeof i);                                                                     \
            return i;                                                                                          \
        }                                                                                                      \
        static FV from_bits(Int i) {                                                                           \
            FV f;                                                                                              \
            std::memcpy(&f, &i, sizeof f);                                                                     \
            return f;                                                                                          \
        }                                                                                                      \
        static FV select(Mask m, FV if_true, FV if_false) {                                                    \
            return from_bits((m & bits(if_true)) | (~m & bits(if_false)));                                     \
        }                                                                                                      \
    };
ELM_FLOAT_LANES(elm::sim::cpu::vector_math_detail::FV, elm::sim::cpu::vector_math_detail::IV)
#if defined(__AVX512F__)
ELM_FLOAT_LANES(elm::sim::cpu::vector_math_detail::FVW, elm::sim::cpu::vector_math_detail::IVW)
#endif
#undef ELM_FLOAT_LANES

namespace elm::sim::cpu {

namespace vector_math_detail {
inline FV tanh_v(FV x) { return models::tanh_lanes(x); }
#if defined(__AVX512F__)
inline FVW tanh_v(FVW x) { return models::tanh_lanes(x); }
#endif
inline FVW splat_wide(float v) { return FVW{} + v; }
}  // namespace vector_math_detail

// In place: v[k] = dm_activation(v[k]) = 1.7159 tanh(2/3 v[k]) for k < n.
inline void dm_activation_inplace(float* v, std::size_t n) {
    using namespace vector_math_detail;
    const FVW slope = splat_wide(static_cast<float>(models::kDmSlope));
    const FVW scale = splat_wide(static_cast<float>(models::kDmScale));
    std::size_t k = 0;
    for (; k + kWideLanes <= n; k += kWideLanes) {
        FVW x;
        std::memcpy(&x, v + k, sizeof x);
        x = scale * tanh_v(slope * x);
        std::memcpy(v + k, &x, sizeof x);
    }
    if (k < n) {
        FVW x = splat_wide(0.0f);
        std::memcpy(&x, v + k, (n - k) * sizeof(float));
        x = scale * tanh_v(slope * x);
        std::memcpy(v + k, &x, (n - k) * sizeof(float));
    }
}

inline void dm_activation_inplace(double* v, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) v[k] = models::dm_activation(v[k]);
}

// dst[k] = src[k] for k < n, inline: the per-row copies of a step (a bias row into the products'
// accumulators, a neuron's branch values) are 4-32 floats, and std::copy of a run-time length is a
// call to memmove whose overhead is most of such a copy.
template <class Real>
inline void copy_short(const Real* __restrict src, std::size_t n, Real* __restrict dst) {
    std::size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __builtin_memcpy(dst + k, src + k, 16 * sizeof(Real));
        __asm__ volatile("");  // GCC would turn this loop back into a memmove call
    }
    if (k + 8 <= n) __builtin_memcpy(dst + k, src + k, 8 * sizeof(Real)), k += 8;
    if (k + 4 <= n) __builtin_memcpy(dst + k, src + k, 4 * sizeof(Real)), k += 4;
    switch (n - k) {  // no loop, for the same reason
        case 3: dst[k + 2] = src[k + 2]; [[fallthrough]];
        case 2: dst[k + 1] = src[k + 1]; [[fallthrough]];
        case 1: dst[k] = src[k]; break;
        default: break;
    }
}

// out[b] = the sum over terms e = 0 .. count-1, in that order, of w_e row_e[b], from 0, each term
// multiplied then added, for b < n: the floats of `out = 0` followed by `out[b] += w_e row_e[b]` for each
// term. `term(e)` gives {w_e, row_e}. The partial sums stay in registers over all the terms, where a
// pass over `out` per term would reload and store them (a chain through memory: the gathers' old cost).
template <class Term>
inline void weighted_row_sum(std::size_t n, int count, Term term, float* __restrict out) {
    using namespace vector_math_detail;
    constexpr std::size_t W = kWideLanes;
    std::size_t b = 0;
    for (; b + 2 * W <= n; b += 2 * W) {
        FVW a0 = splat_wide(0.0f), a1 = a0;
        for (int e = 0; e < count; ++e) {
            const auto [w, row] = term(e);
            const FVW wv = splat_wide(w);
            FVW x0, x1;
            std::memcpy(&x0, row + b, sizeof x0);
            std::memcpy(&x1, row + b + W, sizeof x1);
            a0 += wv * x0;
            a1 += wv * x1;
        }
        std::memcpy(out + b, &a0, sizeof a0);
        std::memcpy(out + b + W, &a1, sizeof a1);
    }
    // One vector of lanes [b, b + lanes) at a time: 16 (AVX-512), then 8, then single floats.
    auto one_vector = [&](auto zero) {
        using V = decltype(zero);
        V a = zero;
        for (int e = 0; e < count; ++e) {
            const auto [w, row] = term(e);
            V x;
            std::memcpy(&x, row + b, sizeof x);
            a += (V{} + w) * x;
        }
        std::memcpy(out + b, &a, sizeof a);
        b += sizeof(V) / sizeof(float);
    };
    while (b + W <= n) one_vector(splat_wide(0.0f));
    while (b + kLanes <= n) one_vector(splat(0.0f));
    for (; b < n; ++b) {
        float a = 0.0f;
        for (int e = 0; e < count; ++e) {
            const auto [w, row] = term(e);
            a += w * row[b];
        }
        out[b] = a;
    }
}

template <class Term>
inline void weighted_row_sum(std::size_t n, int count, Term term, double* __restrict out) {
    std::fill(out, out + n, 0.0);
    for (int e = 0; e < count; ++e) {
        const auto [w, row] = term(e);
        for (std::size_t b = 0; b < n; ++b) out[b] += w * row[b];
    }
}

// Single float through the same vector code (for callers that need one value with the array's rounding).
inline float tanh_vectorised(float x) {
    using namespace vector_math_detail;
    return tanh_v(splat(x))[0];
}

}  // namespace elm::sim::cpu
