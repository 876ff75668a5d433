// Small dense matrix products for the per-neuron MLPs of one step: every neuron's batch of B
// samples is an [B x in] block, so a step is N independent small GEMMs (spec section 2; the layout
// the engine chose for speed), and for the readout over a window. Register-tiled loops written so that
// the compiler vectorises the column dimension; each output element sums its k terms in ascending order
// starting from its initial value, so results do not depend on tiling or on the thread that runs them.
//
// float products run on the best kernels of the CPU, chosen once per process (gemm_isa(),
// sim/cpu/gemm_isa.hpp): AVX-512 (sim/cpu/small_gemm_avx512.cpp), AVX2 + FMA (sim/cpu/small_gemm_avx2.cpp),
// or the portable tiles below (4-wide vectors, multiply then add), which also serve double. Two rules:
//  - gemm_nn_acc / gemm_tn_acc sum fma(a_k, b_k, c): AVX-512 and AVX2 give the same floats, the
//    portable tiles (no FMA) round differently, so a process uses one rule for all its products;
//  - gemm_nn_acc_unfused / gemm_tn_acc_unfused sum c + a_k b_k rounded twice on every ISA: the same
//    floats on every machine, at up to half the speed where multiply and add share the FMA ports.
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "elmsim/sim/cpu/gemm_isa.hpp"
#include "elmsim/sim/cpu/small_gemm_avx2.hpp"
#include "elmsim/sim/cpu/small_gemm_avx512.hpp"

namespace elm::sim::cpu {

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
// float: 4 x 8 tiles held in explicit 4-wide vectors (GCC/Clang vector extension). GCC 12 spills the
// generic 4 x 16 accumulator array to the stack (5.5 instructions per multiply-add); this form keeps
// the 8 accumulators in registers. Each lane still sums its k terms in ascending order, so the floats
// are those of the generic tile.
typedef float Float4 __attribute__((vector_size(16)));
inline constexpr int kRowsF = 4;
inline constexpr int kColsF = 8;

inline Float4 load4(const float* p) {
    Float4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(float* p, Float4 v) { std::memcpy(p, &v, sizeof v); }

inline void tile_nn_f4x8(int K, const float* __restrict A, int lda, const float* __restrict B, int ldb,
                         float* __restrict C, int ldc) {
    Float4 c[kRowsF][2];
    for (int i = 0; i < kRowsF; ++i) {
        c[i][0] = load4(C + i * ldc);
        c[i][1] = load4(C + i * ldc + 4);
    }
    for (int k = 0; k < K; ++k) {
        const Float4 b0 = load4(B + static_cast<long>(k) * ldb), b1 = load4(B + static_cast<long>(k) * ldb + 4);
        for (int i = 0; i < kRowsF; ++i) {
            const float a = A[i * lda + k];
            const Float4 av = {a, a, a, a};
            c[i][0] += av * b0;
            c[i][1] += av * b1;
        }
    }
    for (int i = 0; i < kRowsF; ++i) {
        store4(C + i * ldc, c[i][0]);
        store4(C + i * ldc + 4, c[i][1]);
    }
}

inline void tile_tn_f4x8(int K, const float* __restrict A, int lda, const float* __restrict B, int ldb,
                         float* __restrict C, int ldc) {
    Float4 c[kRowsF][2];
    for (int i = 0; i < kRowsF; ++i) {
        c[i][0] = load4(C + i * ldc);
        c[i][1] = load4(C + i * ldc + 4);
    }
    for (int k = 0; k < K; ++k) {
        const float* a = A + static_cast<long>(k) * lda;
        const Float4 b0 = load4(B + static_cast<long>(k) * ldb), b1 = load4(B + static_cast<long>(k) * ldb + 4);
        for (int i = 0; i < kRowsF; ++i) {
            const Float4 av = {a[i], a[i], a[i], a[i]};
            c[i][0] += av * b0;
            c[i][1] += av * b1;
        }
    }
    for (int i = 0; i < kRowsF; ++i) {
        store4(C + i * ldc, c[i][0]);
        store4(C + i * ldc + 4, c[i][1]);
    }
}
}  // namespace gemm_detail

// C[M][N] += A[M][K] B[K][N]  (row-major with leading dimensions).
template <class Real>
inline void gemm_nn_acc_portable(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C,
                                int ldc) {
    using namespace gemm_detail;
    if constexpr (std::is_same_v<Real, float>) {
        for (int n0 = 0; n0 < N; n0 += kColsF) {
            const int nr = std::min(kColsF, N - n0);
            for (int m0 = 0; m0 < M; m0 += kRowsF) {
                const int mr = std::min(kRowsF, M - m0);
                const float* a = A + static_cast<long>(m0) * lda;
                float* c = C + static_cast<long>(m0) * ldc + n0;
                if (mr == kRowsF && nr == kColsF)
                    tile_nn_f4x8(K, a, lda, B + n0, ldb, c, ldc);
                else
                    tile_nn_any(mr, nr, K, a, lda, B + n0, ldb, c, ldc);
            }
        }
        return;
    }
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
inline void gemm_tn_acc_portable(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C,
                                int ldc) {
    using namespace gemm_detail;
    if constexpr (std::is_same_v<Real, float>) {
        for (int n0 = 0; n0 < N; n0 += kColsF) {
            const int nr = std::min(kColsF, N - n0);
            for (int m0 = 0; m0 < M; m0 += kRowsF) {
                const int mr = std::min(kRowsF, M - m0);
                float* c = C + static_cast<long>(m0) * ldc + n0;
                if (mr == kRowsF && nr == kColsF)
                    tile_tn_f4x8(K, A + m0, lda, B + n0, ldb, c, ldc);
                else
                    tile_tn_any(mr, nr, K, A + m0, lda, B + n0, ldb, c, ldc);
            }
        }
        return;
    }
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

// Which float kernels this process uses ("avx512-fma", "avx2-fma" or "portable"), for logs and benchmark headers.
inline const char* gemm_kernels() { return gemm_isa_name(gemm_isa()); }

// The products the engine calls: the fused rule on the best kernels of the CPU for float, the portable
// tiles otherwise.
template <class Real>
inline void gemm_nn_acc(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C, int ldc) {
    if constexpr (std::is_same_v<Real, float>) switch (gemm_isa()) {
            case GemmIsa::avx512: return avx512::nn_acc(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::avx2: return avx2::nn_acc(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::portable: break;
        }
    gemm_nn_acc_portable(M, N, K, A, lda, B, ldb, C, ldc);
}

template <class Real>
inline void gemm_tn_acc(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C, int ldc) {
    if constexpr (std::is_same_v<Real, float>) switch (gemm_isa()) {
            case GemmIsa::avx512: return avx512::tn_acc(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::avx2: return avx2::tn_acc(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::portable: break;
        }
    gemm_tn_acc_portable(M, N, K, A, lda, B, ldb, C, ldc);
}

// The unfused rule (the portable tiles' floats) on the best kernels of the CPU.
template <class Real>
inline void gemm_nn_acc_unfused(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C,
                                int ldc) {
    if constexpr (std::is_same_v<Real, float>) switch (gemm_isa()) {
            case GemmIsa::avx512: return avx512::nn_acc_unfused(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::avx2: return avx2::nn_acc_unfused(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::portable: break;
        }
    gemm_nn_acc_portable(M, N, K, A, lda, B, ldb, C, ldc);
}

template <class Real>
inline void gemm_tn_acc_unfused(int M, int N, int K, const Real* A, int lda, const Real* B, int ldb, Real* C,
                                int ldc) {
    if constexpr (std::is_same_v<Real, float>) switch (gemm_isa()) {
            case GemmIsa::avx512: return avx512::tn_acc_unfused(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::avx2: return avx2::tn_acc_unfused(M, N, K, A, lda, B, ldb, C, ldc);
            case GemmIsa::portable: break;
        }
    gemm_tn_acc_portable(M, N, K, A, lda, B, ldb, C, ldc);
}

// Packed right-hand operands. A [K][N] matrix used as B in many products (a neuron's weights, every
// step) is stored as column panels of kGemmPanel columns (the last one narrower), each panel [K][w]
// contiguous, so the kernels read it as one sequential stream. Same floats as the unpacked product.
inline constexpr int kGemmPanel = 16;

// dst := the packed form of src^T, where src is [N][K] row-major (out x in, the parameter layout).
template <class Real>
inline void pack_panels(int N, int K, const Real* src, Real* dst) {
    for (int p0 = 0; p0 < N; p0 += kGemmPanel) {
        const int w = std::min(kGemmPanel, N - p0);
        Real* panel = dst + static_cast<long>(p0) * K;
        for (int k = 0; k < K; ++k)
            for (int c = 0; c < w; ++c) panel[static_cast<long>(k) * w + c] = src[static_cast<long>(p0 + c) * K + k];
    }
}

// C[M][N] += A[M][K] B[K][N] with B packed by pack_panels.
template <class Real>
inline void gemm_nn_acc_packed(int M, int N, int K, const Real* A, int lda, const Real* Bp, Real* C, int ldc) {
    if constexpr (std::is_same_v<Real, float>)
        if (gemm_isa() == GemmIsa::avx512) return avx512::nn_acc_packed(M, N, K, A, lda, Bp, kGemmPanel, C, ldc);
    for (int p0 = 0; p0 < N; p0 += kGemmPanel) {
        const int w = std::min(kGemmPanel, N - p0);
        gemm_nn_acc(M, w, K, A, lda, Bp + static_cast<long>(p0) * K, w, C + p0, ldc);
    }
}

// C[M][N] += A[K][M]^T B[K][N] with B packed by pack_panels, by the unfused rule.
template <class Real>
inline void gemm_tn_acc_unfused_packed(int M, int N, int K, const Real* A, int lda, const Real* Bp, Real* C, int ldc) {
    for (int p0 = 0; p0 < N; p0 += kGemmPanel) {
        const int w = std::min(kGemmPanel, N - p0);
        gemm_tn_acc_unfused(M, w, K, A, lda, Bp + static_cast<long>(p0) * K, w, C + p0, ldc);
    }
}

}  // namespace elm::sim::cpu
