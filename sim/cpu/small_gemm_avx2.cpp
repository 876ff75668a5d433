// AVX2 + FMA kernels for the float small GEMMs (sim/cpu/small_gemm.hpp). This file alone is compiled with
// -mavx2 -mfma (CMakeLists.txt); everything else stays baseline x86-64 and calls in here only after
// avx2::available() has checked the CPU, so one binary runs everywhere and uses 8-wide FMAs where it
// can. The file uses no inline functions or templates from other headers: an AVX2 copy of a shared
// inline function could be picked by the linker for the whole program.
//
// Every output element is c = fma(a_k, b_k, c) for k ascending from its initial value, in the full
// and the masked (fewer than 8 columns) tiles alike, so the result does not depend on tiling, M, or
// thread count. The unfused entry points sum c + a_k b_k with two roundings per term instead: the
// portable tiles' floats, 8 lanes wide.
#include "elmsim/sim/cpu/small_gemm_avx2.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(ELM_AVX2_KERNELS)
#include <immintrin.h>
#endif

namespace elm::sim::cpu::avx2 {

#if defined(ELM_AVX2_KERNELS)

namespace {

// A element (row i, depth k): nn reads A[i][k] (row stride lda), tn reads A[k][i] (A stored [K][M]).
template <bool kTransA>
inline const float* a_at(const float* A, int lda, int i, int k) {
    return kTransA ? A + static_cast<long>(k) * lda + i : A + static_cast<long>(i) * lda + k;
}

// One term of an element's sum: fma(a, b, c), or (unfused) c + a b rounded twice, the portable rule.
template <bool kFused>
inline __m256 madd(__m256 a, __m256 b, __m256 c) {
    if constexpr (kFused) return _mm256_fmadd_ps(a, b, c);
    else return _mm256_add_ps(c, _mm256_mul_ps(a, b));
}

// MR rows (1-4) x NV (1-2) 8-wide column vectors of C. The accumulators are named variables, not an
// array: GCC 12 keeps an array of __m256 in registers but also stores it to the stack on every k,
// one store per FMA, which made the kernel store-bound. Not inlined into the panel loops, where GCC 12
// runs short of general registers for the row offsets (as in the AVX-512 kernels).
template <bool kFused, bool kTransA, int MR, int NV>
__attribute__((noinline)) void tile(int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    static_assert(MR >= 1 && MR <= 4 && NV >= 1 && NV <= 2);
    const long ldc_l = ldc;
    auto load_c = [&](int i, int v) {
        return (i < MR && v < NV) ? _mm256_loadu_ps(C + i * ldc_l + 8 * v) : _mm256_setzero_ps();
    };
    __m256 c00 = load_c(0, 0), c01 = load_c(0, 1), c10 = load_c(1, 0), c11 = load_c(1, 1);
    __m256 c20 = load_c(2, 0), c21 = load_c(2, 1), c30 = load_c(3, 0), c31 = load_c(3, 1);
    for (int k = 0; k < K; ++k) {
        const float* b = B + static_cast<long>(k) * ldb;
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = NV > 1 ? _mm256_loadu_ps(b + 8) : b0;
        const __m256 a0 = _mm256_broadcast_ss(a_at<kTransA>(A, lda, 0, k));
        c00 = madd<kFused>(a0, b0, c00);
        if constexpr (NV > 1) c01 = madd<kFused>(a0, b1, c01);
        if constexpr (MR > 1) {
            const __m256 a1 = _mm256_broadcast_ss(a_at<kTransA>(A, lda, 1, k));
            c10 = madd<kFused>(a1, b0, c10);
            if constexpr (NV > 1) c11 = madd<kFused>(a1, b1, c11);
        }
        if constexpr (MR > 2) {
            const __m256 a2 = _mm256_broadcast_ss(a_at<kTransA>(A, lda, 2, k));
            c20 = madd<kFused>(a2, b0, c20);
            if constexpr (NV > 1) c21 = madd<kFused>(a2, b1, c21);
        }
        if constexpr (MR > 3) {
            const __m256 a3 = _mm256_broadcast_ss(a_at<kTransA>(A, lda, 3, k));
            c30 = madd<kFused>(a3, b0, c30);
            if constexpr (NV > 1) c31 = madd<kFused>(a3, b1, c31);
        }
    }
    auto store_c = [&](int i, int v, __m256 value) {
        if (i < MR && v < NV) _mm256_storeu_ps(C + i * ldc_l + 8 * v, value);
    };
    store_c(0, 0, c00), store_c(0, 1, c01), store_c(1, 0, c10), store_c(1, 1, c11);
    store_c(2, 0, c20), store_c(2, 1, c21), store_c(3, 0, c30), store_c(3, 1, c31);
}

// Fewer than 8 columns: one masked 8-wide vector per row (lanes >= nr neither read nor written), the
// same FMA per lane as the full tiles. Rows four at a time, then the rest one by one.
template <bool kFused, bool kTransA, int MR>
void tile_masked(int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc, __m256i mask) {
    const long ldc_l = ldc;
    __m256 c0 = _mm256_maskload_ps(C, mask);
    __m256 c1 = MR > 1 ? _mm256_maskload_ps(C + ldc_l, mask) : c0;
    __m256 c2 = MR > 2 ? _mm256_maskload_ps(C + 2 * ldc_l, mask) : c0;
    __m256 c3 = MR > 3 ? _mm256_maskload_ps(C + 3 * ldc_l, mask) : c0;
    for (int k = 0; k < K; ++k) {
        const __m256 b = _mm256_maskload_ps(B + static_cast<long>(k) * ldb, mask);
        c0 = madd<kFused>(_mm256_broadcast_ss(a_at<kTransA>(A, lda, 0, k)), b, c0);
        if constexpr (MR > 1) c1 = madd<kFused>(_mm256_broadcast_ss(a_at<kTransA>(A, lda, 1, k)), b, c1);
        if constexpr (MR > 2) c2 = madd<kFused>(_mm256_broadcast_ss(a_at<kTransA>(A, lda, 2, k)), b, c2);
        if constexpr (MR > 3) c3 = madd<kFused>(_mm256_broadcast_ss(a_at<kTransA>(A, lda, 3, k)), b, c3);
    }
    _mm256_maskstore_ps(C, mask, c0);
    if constexpr (MR > 1) _mm256_maskstore_ps(C + ldc_l, mask, c1);
    if constexpr (MR > 2) _mm256_maskstore_ps(C + 2 * ldc_l, mask, c2);
    if constexpr (MR > 3) _mm256_maskstore_ps(C + 3 * ldc_l, mask, c3);
}

template <bool kFused, bool kTransA>
void edge(int M, int nr, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    alignas(32) std::int32_t lanes[8];
    for (int j = 0; j < 8; ++j) lanes[j] = j < nr ? -1 : 0;
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
    const int step = kTransA ? 1 : lda;  // distance between consecutive rows of A
    int m0 = 0;
    for (; m0 + 4 <= M; m0 += 4)
        tile_masked<kFused, kTransA, 4>(K, A + static_cast<long>(m0) * step, lda, B, ldb, C + static_cast<long>(m0) * ldc, ldc,
                                mask);
    for (; m0 < M; ++m0)
        tile_masked<kFused, kTransA, 1>(K, A + static_cast<long>(m0) * step, lda, B, ldb, C + static_cast<long>(m0) * ldc, ldc,
                                mask);
}

// Rows of a column panel of width 8 * NV, four at a time, then the 1-3 left over.
template <bool kFused, bool kTransA, int NV>
void panel(int M, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    const int step = kTransA ? 1 : lda;  // distance between consecutive rows of A
    int m0 = 0;
    for (; m0 + 4 <= M; m0 += 4)
        tile<kFused, kTransA, 4, NV>(K, A + static_cast<long>(m0) * step, lda, B, ldb, C + static_cast<long>(m0) * ldc, ldc);
    const float* a = A + static_cast<long>(m0) * step;
    float* c = C + static_cast<long>(m0) * ldc;
    switch (M - m0) {
        case 3: tile<kFused, kTransA, 3, NV>(K, a, lda, B, ldb, c, ldc); break;
        case 2: tile<kFused, kTransA, 2, NV>(K, a, lda, B, ldb, c, ldc); break;
        case 1: tile<kFused, kTransA, 1, NV>(K, a, lda, B, ldb, c, ldc); break;
        default: break;
    }
}

template <bool kFused, bool kTransA>
void gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    int n0 = 0;
    for (; n0 + 16 <= N; n0 += 16) panel<kFused, kTransA, 2>(M, K, A, lda, B + n0, ldb, C + n0, ldc);
    if (n0 + 8 <= N) {
        panel<kFused, kTransA, 1>(M, K, A, lda, B + n0, ldb, C + n0, ldc);
        n0 += 8;
    }
    if (n0 < N) edge<kFused, kTransA>(M, N - n0, K, A, lda, B + n0, ldb, C + n0, ldc);
}

bool detect() {
    const char* off = std::getenv("ELMSIM_NO_AVX2");
    if (off && *off && std::strcmp(off, "0") != 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

bool compiled() { return true; }

bool available() {
    static const bool ok = detect();
    return ok;
}

void nn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<true, false>(M, N, K, A, lda, B, ldb, C, ldc);
}

void tn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<true, true>(M, N, K, A, lda, B, ldb, C, ldc);
}

void nn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<false, false>(M, N, K, A, lda, B, ldb, C, ldc);
}

void tn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<false, true>(M, N, K, A, lda, B, ldb, C, ldc);
}

#else  // not an x86-64 build: the portable kernels are the only ones

bool compiled() { return false; }
bool available() { return false; }
void nn_acc(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void tn_acc(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void nn_acc_unfused(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void tn_acc_unfused(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }

#endif

}  // namespace elm::sim::cpu::avx2
