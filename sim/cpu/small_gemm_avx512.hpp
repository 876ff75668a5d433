// Entry points of the AVX-512 float GEMM kernels (sim/cpu/small_gemm_avx512.cpp, the only file built with
// -mavx512f -mfma). Like the AVX2 kernels' header, free of includes, so that the kernel file sees
// nothing it could instantiate with AVX-512 instructions for the rest of the program.
#pragma once

namespace elm::sim::cpu::avx512 {

// Whether this build has the kernels (x86-64 only).
bool compiled();
// Whether this CPU (and its operating system) runs them: compiled, and AVX-512F is present.
bool supported();

// C[M][N] += A[M][K] B[K][N]; every element summed as fma(a_k, b_k, c) for k ascending: the same floats
// as the AVX2 kernels (avx2::nn_acc), 16 lanes wide.
void nn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
// nn_acc with B in column panels of `panel_width` columns, each [K][w] contiguous (pack_panels in
// sim/cpu/small_gemm.hpp); the same floats.
void nn_acc_packed(int M, int N, int K, const float* A, int lda, const float* Bp, int panel_width, float* C, int ldc);
// C[M][N] += A[K][M]^T B[K][N]; same summation rule.
void tn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
// The same products with every term rounded as c + a_k b_k (multiply, then add): the portable floats.
void nn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
void tn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);

}  // namespace elm::sim::cpu::avx512
