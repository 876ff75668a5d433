// Entry points of the AVX2 + FMA float GEMM kernels (sim/cpu/small_gemm_avx2.cpp, the only file built with
// -mavx2 -mfma). Deliberately free of includes so that the kernel file sees nothing it could
// instantiate with AVX2 instructions for the rest of the program.
#pragma once

namespace elm::sim::cpu::avx2 {

// Whether this build has the kernels (x86-64 only).
bool compiled();
// Whether they run here: compiled, the CPU has AVX2 and FMA, and ELMSIM_NO_AVX2 is unset or "0".
// Decided once per process, so every product in a run uses the same kernels (and the same floats).
bool available();

// C[M][N] += A[M][K] B[K][N]; every element summed as fma(a_k, b_k, c) for k ascending.
void nn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
// C[M][N] += A[K][M]^T B[K][N]; same summation rule.
void tn_acc(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
// The same products with every term rounded as c + a_k b_k (multiply, then add): the portable floats.
void nn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);
void tn_acc_unfused(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);

}  // namespace elm::sim::cpu::avx2
