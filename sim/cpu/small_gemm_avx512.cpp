// AVX-512 kernels for the float small GEMMs (sim/cpu/small_gemm.hpp). This file alone is compiled with
// -mavx512f -mfma (CMakeLists.txt) and is called only after the run-time check of gemm_isa(), so one
// binary runs everywhere. As in the AVX2 kernel file, nothing from other headers is instantiated here.
//
// Tiles are up to 8 rows x 2 vectors of 16 columns; the last vector of a tile is masked (lanes past the
// matrix are neither read nor written), so any width runs through the same code. Every output element
// is c = fma(a_k, b_k, c) for k ascending from its initial value — the AVX2 kernels' rule, so the two
// give the same floats — or, unfused, c + a_k b_k rounded twice (the portable rule).
#include "elmsim/sim/cpu/small_gemm_avx512.hpp"

#include <cstdlib>

#if defined(ELM_AVX512_KERNELS)
#include <immintrin.h>
#endif

namespace elm::sim::cpu::avx512 {

#if defined(ELM_AVX512_KERNELS)

namespace {

constexpr int kLanes = 16;

template <bool kTransA>
inline const float* a_at(const float* A, int lda, int i, int k) {
    return kTransA ? A + static_cast<long>(k) * lda + i : A + static_cast<long>(i) * lda + k;
}

template <bool kFused>
inline __m512 madd(__m512 a, __m512 b, __m512 c) {
    if constexpr (kFused) return _mm512_fmadd_ps(a, b, c);
    else return _mm512_add_ps(c, _mm512_mul_ps(a, b));
}

inline __mmask16 lanes_mask(int n) { return static_cast<__mmask16>(n >= kLanes ? 0xFFFF : (1u << n) - 1u); }

// MR rows (1-4) x NV (1-2) vectors; vector NV-1 uses mask `last`, the others are full. Named
// accumulators, as in the AVX2 kernels (an array of vectors is stored to the stack on every k by GCC 12).
// The tiles are not inlined: inside the panel loops GCC 12 runs out of general registers for the row
// offsets and moves them in from vector registers on every FMA (2-3 % of a text training step).
template <bool kFused, bool kTransA, int MR, int NV>
__attribute__((noinline)) void tile(int K, const float* A, int lda, const float* B, int ldb, long b1_off, float* C,
                                    int ldc, __mmask16 last) {
    static_assert(MR >= 1 && MR <= 4 && NV >= 1 && NV <= 2);
    const long ldc_l = ldc;
    const __mmask16 m0 = NV == 1 ? last : __mmask16(0xFFFF), m1 = last;
    auto load_c = [&](int i, int v) {
        return (i < MR && v < NV) ? _mm512_maskz_loadu_ps(v == 0 ? m0 : m1, C + i * ldc_l + kLanes * v)
                                  : _mm512_setzero_ps();
    };
    __m512 c00 = load_c(0, 0), c01 = load_c(0, 1), c10 = load_c(1, 0), c11 = load_c(1, 1);
    __m512 c20 = load_c(2, 0), c21 = load_c(2, 1), c30 = load_c(3, 0), c31 = load_c(3, 1);
    for (int k = 0; k < K; ++k) {
        const float* b = B + static_cast<long>(k) * ldb;
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
        const __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, b + b1_off) : b0;
        const __m512 a0 = _mm512_set1_ps(*a_at<kTransA>(A, lda, 0, k));
        c00 = madd<kFused>(a0, b0, c00);
        if constexpr (NV > 1) c01 = madd<kFused>(a0, b1, c01);
        if constexpr (MR > 1) {
            const __m512 a1 = _mm512_set1_ps(*a_at<kTransA>(A, lda, 1, k));
            c10 = madd<kFused>(a1, b0, c10);
            if constexpr (NV > 1) c11 = madd<kFused>(a1, b1, c11);
        }
        if constexpr (MR > 2) {
            const __m512 a2 = _mm512_set1_ps(*a_at<kTransA>(A, lda, 2, k));
            c20 = madd<kFused>(a2, b0, c20);
            if constexpr (NV > 1) c21 = madd<kFused>(a2, b1, c21);
        }
        if constexpr (MR > 3) {
            const __m512 a3 = _mm512_set1_ps(*a_at<kTransA>(A, lda, 3, k));
            c30 = madd<kFused>(a3, b0, c30);
            if constexpr (NV > 1) c31 = madd<kFused>(a3, b1, c31);
        }
    }
    auto store_c = [&](int i, int v, __m512 value) {
        if (i < MR && v < NV) _mm512_mask_storeu_ps(C + i * ldc_l + kLanes * v, v == 0 ? m0 : m1, value);
    };
    store_c(0, 0, c00), store_c(0, 1, c01), store_c(1, 0, c10), store_c(1, 1, c11);
    store_c(2, 0, c20), store_c(2, 1, c21), store_c(3, 0, c30), store_c(3, 1, c31);
}

// The A operand of an 8-row tile, advanced one k at a time. Row-major A: two row pointers (rows 0 and
// 4) and the offsets of rows +1, +2, +3 (base + index addressing), so the eight row reads need seven
// registers; GCC 12 otherwise keeps eight row offsets in vector registers and moves one into a
// general register for every FMA. Transposed A: one pointer to the k-th row of A^T.
template <bool kTransA>
struct EightRows {
    const float* lo;
    const float* hi;
    long l1, l2, l3, step;
    EightRows(const float* A, int lda)
        : lo(A), hi(kTransA ? A + 4 : A + 4L * lda), l1(kTransA ? 1 : lda), l2(2 * l1), l3(3 * l1),
          step(kTransA ? lda : 1) {}
    float at(int i) const {
        const float* base = i < 4 ? lo : hi;
        switch (i & 3) {
            case 0: return base[0];
            case 1: return base[l1];
            case 2: return base[l2];
            default: return base[l3];
        }
    }
    void next() {
        lo += step;
        hi += step;
    }
};

// 8 rows x NV (1-2) vectors: 16 accumulators for a two-vector panel (the FMA latency of two ports
// needs at least 8 in flight, and the broadcasts of A are shared by both vectors), 8 for a panel of at
// most 16 columns (the packed operands' panels are 16 wide), where 4 rows would leave too few.
template <bool kFused, bool kTransA, int NV>
__attribute__((noinline)) void tile8(int K, const float* A, int lda, const float* B, int ldb, long b1_off, float* C,
                                     int ldc, __mmask16 last) {
    static_assert(NV == 1 || NV == 2);
    const long ldc_l = ldc;
    const __mmask16 m0 = NV == 1 ? last : __mmask16(0xFFFF), m1 = last;
    auto load_c = [&](int i, int v) {
        return v < NV ? _mm512_maskz_loadu_ps(v == 0 ? m0 : m1, C + i * ldc_l + kLanes * v) : _mm512_setzero_ps();
    };
    __m512 c00 = load_c(0, 0), c01 = load_c(0, 1), c10 = load_c(1, 0), c11 = load_c(1, 1);
    __m512 c20 = load_c(2, 0), c21 = load_c(2, 1), c30 = load_c(3, 0), c31 = load_c(3, 1);
    __m512 c40 = load_c(4, 0), c41 = load_c(4, 1), c50 = load_c(5, 0), c51 = load_c(5, 1);
    __m512 c60 = load_c(6, 0), c61 = load_c(6, 1), c70 = load_c(7, 0), c71 = load_c(7, 1);
    EightRows<kTransA> a(A, lda);
    const float* b_row = B;
    for (int k = 0; k < K; ++k, a.next(), b_row += ldb) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b_row);
        const __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, b_row + b1_off) : b0;
        auto row = [&](__m512& x0, __m512& x1, float ai) {
            const __m512 av = _mm512_set1_ps(ai);
            x0 = madd<kFused>(av, b0, x0);
            if constexpr (NV > 1) x1 = madd<kFused>(av, b1, x1);
        };
        row(c00, c01, a.at(0));
        row(c10, c11, a.at(1));
        row(c20, c21, a.at(2));
        row(c30, c31, a.at(3));
        row(c40, c41, a.at(4));
        row(c50, c51, a.at(5));
        row(c60, c61, a.at(6));
        row(c70, c71, a.at(7));
    }
    auto store_c = [&](int i, __m512 x0, __m512 x1) {
        _mm512_mask_storeu_ps(C + i * ldc_l, m0, x0);
        if constexpr (NV > 1) _mm512_mask_storeu_ps(C + i * ldc_l + kLanes, m1, x1);
    };
    store_c(0, c00, c01), store_c(1, c10, c11), store_c(2, c20, c21), store_c(3, c30, c31);
    store_c(4, c40, c41), store_c(5, c50, c51), store_c(6, c60, c61), store_c(7, c70, c71);
}

// Rows of a column panel of up to 32 columns, eight at a time, then four, then the 1-3 left over. The
// panel's second vector of columns starts b1_off floats after its first in each row of B (kLanes when
// B is a plain matrix; the distance between two packed panels otherwise).
template <bool kFused, bool kTransA, int NV>
void panel(int M, int K, const float* A, int lda, const float* B, int ldb, long b1_off, float* C, int ldc,
           __mmask16 last) {
    const int step = kTransA ? 1 : lda;  // distance between consecutive rows of A
    int m0 = 0;
    for (; m0 + 8 <= M; m0 += 8)
        tile8<kFused, kTransA, NV>(K, A + static_cast<long>(m0) * step, lda, B, ldb, b1_off,
                                   C + static_cast<long>(m0) * ldc, ldc, last);
    for (; m0 + 4 <= M; m0 += 4)
        tile<kFused, kTransA, 4, NV>(K, A + static_cast<long>(m0) * step, lda, B, ldb, b1_off,
                                     C + static_cast<long>(m0) * ldc, ldc, last);
    const float* a = A + static_cast<long>(m0) * step;
    float* c = C + static_cast<long>(m0) * ldc;
    switch (M - m0) {
        case 3: tile<kFused, kTransA, 3, NV>(K, a, lda, B, ldb, b1_off, c, ldc, last); break;
        case 2: tile<kFused, kTransA, 2, NV>(K, a, lda, B, ldb, b1_off, c, ldc, last); break;
        case 1: tile<kFused, kTransA, 1, NV>(K, a, lda, B, ldb, b1_off, c, ldc, last); break;
        default: break;
    }
}

template <bool kFused, bool kTransA>
void gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    for (int n0 = 0; n0 < N; n0 += 2 * kLanes) {
        const int width = N - n0 < 2 * kLanes ? N - n0 : 2 * kLanes;
        if (width > kLanes)
            panel<kFused, kTransA, 2>(M, K, A, lda, B + n0, ldb, kLanes, C + n0, ldc, lanes_mask(width - kLanes));
        else
            panel<kFused, kTransA, 1>(M, K, A, lda, B + n0, ldb, kLanes, C + n0, ldc, lanes_mask(width));
    }
}

}  // namespace

bool compiled() { return true; }

bool supported() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

void nn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<true, false>(M, N, K, A, lda, B, ldb, C, ldc);
}
void tn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<true, true>(M, N, K, A, lda, B, ldb, C, ldc);
}
void nn_acc_packed(int M, int N, int K, const float* A, int lda, const float* Bp, int panel_width, float* C, int ldc) {
    // Two whole panels at a time run as one two-vector panel (16 accumulators); a last odd or narrower
    // panel alone.
    const long panel_size = static_cast<long>(panel_width) * K;
    int p0 = 0;
    if (panel_width == kLanes)
        for (; p0 + 2 * kLanes <= N; p0 += 2 * kLanes)
            panel<true, false, 2>(M, K, A, lda, Bp + static_cast<long>(p0) * K, kLanes, panel_size, C + p0, ldc,
                                  lanes_mask(kLanes));
    for (; p0 < N; p0 += panel_width) {
        const int w = N - p0 < panel_width ? N - p0 : panel_width;
        gemm<true, false>(M, w, K, A, lda, Bp + static_cast<long>(p0) * K, w, C + p0, ldc);
    }
}
void nn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<false, false>(M, N, K, A, lda, B, ldb, C, ldc);
}
void tn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<false, true>(M, N, K, A, lda, B, ldb, C, ldc);
}

#else  // not an x86-64 build

bool compiled() { return false; }
bool supported() { return false; }
void nn_acc(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void tn_acc(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void nn_acc_packed(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void nn_acc_unfused(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void tn_acc_unfused(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }

#endif

}  // namespace elm::sim::cpu::avx512
