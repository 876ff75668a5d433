// Small dense matrix products for the per-neuron MLPs of one step: every neuron's batch of B
// samples is an [B x in] block, so a step is N independent small GEMMs (spec section 2; the layout
// issue 4 asked for). Register-tiled loops written so that the compiler vectorises the column
// dimension; each output element sums its k terms in ascending order starting from its initial
// value, so results do not depend on tiling or on the thread that runs them.
#pragma once

#include <algorithm>

namespace elm::sim {

namespace gemm_detail {
inline constexpr int kRows = 4;   // rows of C per register tile
inline constexpr int kCols = 16;  // columns of C per register tile (one or two SIMD registers wide)

template <class Real, int MR, int NR>
inline void tile_nn(int K, const Real* __restrict A, int lda, const Real* __restrict B, int ldb, Real* __restrict C,
                    int ldc) {
    Real acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = C[i * ldc + j];
    for (int k = 0; k < K; ++k) {
        const Real* __restrict b = B + static_cast<long>(k) * ldb;
        for (int i = 0; i < MR; ++i) {
            const Real a = A[i * lda + k];
            for (int j = 0; j < NR; ++j) acc[i][j] += a * b[j];
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) C[i * ldc + j] = acc[i][j];
}

template <class Real>
inline void tile_nn_any(int mr, int nr, int K, const Real* A, int lda, const Real* B, int ldb, Real* C, int ldc) {
    for (int i = 0; i < mr; ++i)
        for (int k = 0; k < K; ++k) {
            const Real a = A[i * lda + k];
            const Real* b = B + static_cast<long>(k) * ldb;
            Real* c = C + static_cast<long>(i) * ldc;
            for (int j = 0; j < nr; ++j) c[j] += a * b[j];
        }
}

template <class Real, int MR, int NR>
inline void tile_tn(int K, const Real* __restrict A, int lda, const Real* __restrict B, int ldb, Real* __restrict C,
                    int ldc) {
    Real acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = C[i * ldc + j];
    for (int k = 0; k < K; ++k) {
        const Real* __restrict a = A + static_cast<long>(k) * lda;
        const Real* __restrict b = B + static_cast<long>(k) * ldb;
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) C[i * ldc + j] = acc[i][j];
}

template <class Real>
inline void tile_tn_any(int mr, int nr, int K, const Real* A, int lda, const Real* B, int ldb, Real* C, int ldc) {
    for (int k = 0; k < K; ++k)
        for (int i = 0; i < mr; ++i) {
            const Real a = A[static_cast<long>(k) * lda + i];
            const Real* b = B + static_cast<long>(k) * ldb;
            Real* c = C + static_cast<long>(i) * ldc;
            for (int j = 0; j < nr; ++j) c[j] += a * b[j];
        }
}
}  // namespace gemm_detail

// C[M][N] += A[M][K] B[K][N]  (row-major with leading dimensions).
template <class Real>
inline void gemm_nn_acc(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C, int ldc) {
    using namespace gemm_detail;
    for (int n0 = 0; n0 < N; n0 += kCols) {
        const int nr = std::min(kCols, N - n0);
        for (int m0 = 0; m0 < M; m0 += kRows) {
            const int mr = std::min(kRows, M - m0);
            const Real* a = A + static_cast<long>(m0) * lda;
            Real* c = C + static_cast<long>(m0) * ldc + n0;
            if (mr == kRows && nr == kCols)
                tile_nn<Real, kRows, kCols>(K, a, lda, B + n0, ldb, c, ldc);
            else
                tile_nn_any(mr, nr, K, a, lda, B + n0, ldb, c, ldc);
        }
    }
}

// C[M][N] += A[K][M]^T B[K][N]: sums of outer products over k (weight gradients over the batch).
template <class Real>
inline void gemm_tn_acc(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C, int ldc) {
    using namespace gemm_detail;
    for (int n0 = 0; n0 < N; n0 += kCols) {
        const int nr = std::min(kCols, N - n0);
        for (int m0 = 0; m0 < M; m0 += kRows) {
            const int mr = std::min(kRows, M - m0);
            Real* c = C + static_cast<long>(m0) * ldc + n0;
            if (mr == kRows && nr == kCols)
                tile_tn<Real, kRows, kCols>(K, A + m0, lda, B + n0, ldb, c, ldc);
            else
                tile_tn_any(mr, nr, K, A + m0, lda, B + n0, ldb, c, ldc);
        }
    }
}

}  // namespace elm::sim
