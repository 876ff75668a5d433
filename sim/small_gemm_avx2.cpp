// AVX2 + FMA kernels for the float small GEMMs (sim/small_gemm.hpp). This file alone is compiled with
// -mavx2 -mfma (CMakeLists.txt); everything else stays baseline x86-64 and calls in here only after
// avx2::available() has checked the CPU, so one binary runs everywhere and uses 8-wide FMAs where it
// can. The file uses no inline functions or templates from other headers: an AVX2 copy of a shared
// inline function could be picked by the linker for the whole program.
//
// Every output element is c = fma(a_k, b_k, c) for k ascending from its initial value, in the vector
// tiles and in the scalar edges alike, so the result does not depend on tiling, M, or thread count.
#include "sim/small_gemm_avx2.hpp"

#include <cstdlib>
#include <cstring>

#if defined(ELM_AVX2_KERNELS)
#include <immintrin.h>
#endif

namespace elm::sim::avx2 {

#if defined(ELM_AVX2_KERNELS)

namespace {

// A element (row i, depth k): nn reads A[i][k] (row stride lda), tn reads A[k][i] (A stored [K][M]).
template <bool kTransA>
inline const float* a_at(const float* A, int lda, int i, int k) {
    return kTransA ? A + static_cast<long>(k) * lda + i : A + static_cast<long>(i) * lda + k;
}

// MR rows x NV 8-wide column vectors of C, accumulators in registers.
template <bool kTransA, int MR, int NV>
void tile(int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    __m256 c[MR][NV];
    for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) c[i][v] = _mm256_loadu_ps(C + static_cast<long>(i) * ldc + 8 * v);
    for (int k = 0; k < K; ++k) {
        __m256 b[NV];
        for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(B + static_cast<long>(k) * ldb + 8 * v);
        for (int i = 0; i < MR; ++i) {
            const __m256 a = _mm256_broadcast_ss(a_at<kTransA>(A, lda, i, k));
            for (int v = 0; v < NV; ++v) c[i][v] = _mm256_fmadd_ps(a, b[v], c[i][v]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) _mm256_storeu_ps(C + static_cast<long>(i) * ldc + 8 * v, c[i][v]);
}

// Fewer than 8 columns: scalar FMAs in the same order as the vector lanes.
template <bool kTransA>
void edge(int mr, int nr, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    for (int i = 0; i < mr; ++i) {
        float* c = C + static_cast<long>(i) * ldc;
        for (int j = 0; j < nr; ++j) {
            __m128 acc = _mm_set_ss(c[j]);
            for (int k = 0; k < K; ++k)
                acc = _mm_fmadd_ss(_mm_set_ss(*a_at<kTransA>(A, lda, i, k)),
                                   _mm_set_ss(B[static_cast<long>(k) * ldb + j]), acc);
            c[j] = _mm_cvtss_f32(acc);
        }
    }
}

// Rows of a column panel of width 8 * NV, four at a time, then the 1-3 left over.
template <bool kTransA, int NV>
void panel(int M, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    const int step = kTransA ? 1 : lda;  // distance between consecutive rows of A
    int m0 = 0;
    for (; m0 + 4 <= M; m0 += 4)
        tile<kTransA, 4, NV>(K, A + static_cast<long>(m0) * step, lda, B, ldb, C + static_cast<long>(m0) * ldc, ldc);
    const float* a = A + static_cast<long>(m0) * step;
    float* c = C + static_cast<long>(m0) * ldc;
    switch (M - m0) {
        case 3: tile<kTransA, 3, NV>(K, a, lda, B, ldb, c, ldc); break;
        case 2: tile<kTransA, 2, NV>(K, a, lda, B, ldb, c, ldc); break;
        case 1: tile<kTransA, 1, NV>(K, a, lda, B, ldb, c, ldc); break;
        default: break;
    }
}

template <bool kTransA>
void gemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    int n0 = 0;
    for (; n0 + 16 <= N; n0 += 16) panel<kTransA, 2>(M, K, A, lda, B + n0, ldb, C + n0, ldc);
    if (n0 + 8 <= N) {
        panel<kTransA, 1>(M, K, A, lda, B + n0, ldb, C + n0, ldc);
        n0 += 8;
    }
    if (n0 < N) edge<kTransA>(M, N - n0, K, A, lda, B + n0, ldb, C + n0, ldc);
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
    gemm<false>(M, N, K, A, lda, B, ldb, C, ldc);
}

void tn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    gemm<true>(M, N, K, A, lda, B, ldb, C, ldc);
}

#else  // not an x86-64 build: the portable kernels are the only ones

bool compiled() { return false; }
bool available() { return false; }
void nn_acc(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }
void tn_acc(int, int, int, const float*, int, const float*, int, float*, int) { std::abort(); }

#endif

}  // namespace elm::sim::avx2
