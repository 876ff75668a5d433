// Many short dot products, each summed in a fixed order:
//   acc[r] = (...((acc[r] + x_r[0] y_r[0]) + x_r[1] y_r[1]) + ...) + x_r[n-1] y_r[n-1]   for r < count,
// every term multiplied, then added (the floats of the scalar loop `a += x[k] * y[k]`). The engine has
// two such sums per neuron and step: a synapse's weight gradient over the batch's rows (r = synapse,
// k = row) and a unit readout v = c + wy . m over the memory units (r = row, k = unit).
//
// A plain loop sums each r with scalar adds in a chain (the order forbids splitting the sum). Where the
// build targets AVX-512, 16 sums run at once, one per vector lane: the products of 16 rows are formed
// as vectors over k, turned into vectors over r (a 16 x 16 transpose in registers) and added in k's
// order: the same operations on every lane, so the same floats as the scalar loop.
#pragma once

#include <cstddef>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace elm::sim::cpu {

namespace row_dots_detail {

template <class Real, class Rows>
inline void scalar(int count, int n, Rows rows, Real* acc) {
    for (int r = 0; r < count; ++r) {
        const auto [x, y] = rows(r);
        Real a = acc[r];
        for (int k = 0; k < n; ++k) a += x[k] * y[k];
        acc[r] = a;
    }
}

#if defined(__AVX512F__)
inline __mmask16 first_lanes(int n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1u); }

// The shuffles with a full zeroing mask: the same instructions, without the undefined pass-through
// operand of the plain intrinsics (which GCC 12 reports as maybe-uninitialized).
constexpr __mmask16 kAll = 0xFFFF;
inline __m512 unpack_lo(__m512 a, __m512 b) { return _mm512_maskz_unpacklo_ps(kAll, a, b); }
inline __m512 unpack_hi(__m512 a, __m512 b) { return _mm512_maskz_unpackhi_ps(kAll, a, b); }
template <int kImm>
inline __m512 shuffle_within_128(__m512 a, __m512 b) { return _mm512_maskz_shuffle_ps(kAll, a, b, kImm); }
template <int kImm>
inline __m512 shuffle_128s(__m512 a, __m512 b) { return _mm512_maskz_shuffle_f32x4(kAll, a, b, kImm); }

// p[i] lane j  ->  p[j] lane i.
inline void transpose16(__m512 (&p)[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = unpack_lo(p[2 * i], p[2 * i + 1]);
        t[2 * i + 1] = unpack_hi(p[2 * i], p[2 * i + 1]);
    }
    // u[4g + c], 128-bit lane L: element 4L + c of rows 4g .. 4g + 3
    __m512 u[16];
    for (int g = 0; g < 4; ++g) {
        u[4 * g] = shuffle_within_128<0x44>(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = shuffle_within_128<0xEE>(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = shuffle_within_128<0x44>(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = shuffle_within_128<0xEE>(t[4 * g + 1], t[4 * g + 3]);
    }
    for (int c = 0; c < 4; ++c) {
        const __m512 a_even = shuffle_128s<0x88>(u[c], u[4 + c]);
        const __m512 a_odd = shuffle_128s<0xDD>(u[c], u[4 + c]);
        const __m512 b_even = shuffle_128s<0x88>(u[8 + c], u[12 + c]);
        const __m512 b_odd = shuffle_128s<0xDD>(u[8 + c], u[12 + c]);
        p[c] = shuffle_128s<0x88>(a_even, b_even);
        p[8 + c] = shuffle_128s<0xDD>(a_even, b_even);
        p[4 + c] = shuffle_128s<0x88>(a_odd, b_odd);
        p[12 + c] = shuffle_128s<0xDD>(a_odd, b_odd);
    }
}

template <class Rows>
inline void lanes16(int count, int n, Rows rows, float* acc) {
    for (int r0 = 0; r0 < count; r0 += 16) {
        const int rn = count - r0 < 16 ? count - r0 : 16;
        const __mmask16 rmask = first_lanes(rn);
        __m512 a = _mm512_maskz_loadu_ps(rmask, acc + r0);
        for (int k0 = 0; k0 < n; k0 += 16) {
            const int kn = n - k0 < 16 ? n - k0 : 16;
            const __mmask16 kmask = first_lanes(kn);
            __m512 p[16];
#pragma GCC unroll 16
            for (int r = 0; r < 16; ++r) {
                if (r < rn) {
                    const auto [x, y] = rows(r0 + r);
                    p[r] = _mm512_mul_ps(_mm512_maskz_loadu_ps(kmask, x + k0), _mm512_maskz_loadu_ps(kmask, y + k0));
                } else {
                    p[r] = _mm512_setzero_ps();
                }
            }
            transpose16(p);
            if (kn == 16) {
#pragma GCC unroll 16
                for (int k = 0; k < 16; ++k) a = _mm512_add_ps(a, p[k]);
            } else {
#pragma GCC unroll 16
                for (int k = 0; k < 16; ++k)
                    if (k < kn) a = _mm512_add_ps(a, p[k]);
            }
        }
        _mm512_mask_storeu_ps(acc + r0, rmask, a);
    }
}
#endif

}  // namespace row_dots_detail

// `rows(r)` gives {x_r, y_r}, each n values.
template <class Real, class Rows>
inline void ordered_row_dots(int count, int n, Rows rows, Real* acc) {
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<Real, float>) {
        row_dots_detail::lanes16(count, n, rows, acc);
        return;
    }
#endif
    row_dots_detail::scalar(count, n, rows, acc);
}

}  // namespace elm::sim::cpu
