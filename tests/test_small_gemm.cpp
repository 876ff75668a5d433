// The per-neuron GEMMs: every kernel (AVX-512 and AVX2 + FMA where the CPU has them, fused and unfused,
// the portable tiles, double) against a double-precision reference, and each against its own summation
// rule element by element, which is what makes results independent of tiling, batch size, thread count
// and (within a rule) the instruction set.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "elmsim/models/rng.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"

using namespace elm;

namespace {
struct Shape {
    int M, N, K;
};
// Tile-sized, edge-sized and the engine's own shapes (B x d_h x (n_b + d_m), the text readout's
// 32 x 256 x 256, etc.); widths not divisible by 8 or 16, single rows and odd depths for both vector widths.
const Shape kShapes[] = {{1, 1, 1},     {3, 7, 5},     {4, 8, 1},    {4, 16, 20},  {5, 17, 9},   {8, 128, 72},
                         {16, 32, 20},  {16, 16, 32},  {8, 64, 128}, {7, 33, 3},   {2, 24, 40},  {16, 9, 16},
                         {1, 47, 7},    {9, 31, 11},   {6, 48, 1},   {3, 15, 13},  {1, 256, 33}, {32, 256, 256},
                         {13, 65, 5},   {4, 40, 2}};

std::vector<float> random_matrix(std::size_t n, std::uint64_t seed) {
    Rng rng(seed, 3);
    std::vector<float> v(n);
    for (auto& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
    return v;
}

// Padded leading dimensions, as in the engine (A blocks inside wider rows).
struct Operands {
    int lda, ldb, ldc;
    std::vector<float> A, B, C;
};

Operands operands(const Shape& s, bool trans_a, std::uint64_t seed) {
    Operands o;
    o.lda = (trans_a ? s.M : s.K) + 3;
    o.ldb = s.N + 2;
    o.ldc = s.N + 5;
    o.A = random_matrix(static_cast<std::size_t>(trans_a ? s.K : s.M) * o.lda, seed);
    o.B = random_matrix(static_cast<std::size_t>(s.K) * o.ldb, seed + 1);
    o.C = random_matrix(static_cast<std::size_t>(s.M) * o.ldc, seed + 2);
    return o;
}

float a_elem(const Operands& o, bool trans_a, int i, int k) {
    return trans_a ? o.A[static_cast<std::size_t>(k) * o.lda + i] : o.A[static_cast<std::size_t>(i) * o.lda + k];
}

// Element (i, j) by a given per-term rule, k ascending from C's initial value.
template <class Step>
float chain(const Operands& o, bool trans_a, int i, int j, int K, Step step) {
    float c = o.C[static_cast<std::size_t>(i) * o.ldc + j];
    for (int k = 0; k < K; ++k) c = step(a_elem(o, trans_a, i, k), o.B[static_cast<std::size_t>(k) * o.ldb + j], c);
    return c;
}

using Kernel = void (*)(int, int, int, const float*, int, const float*, int, float*, int);

// Runs `kernel` and checks every element against `step` exactly and against double within rounding;
// entries of C outside the M x N block must be untouched.
template <class Step>
void check_kernel(Kernel kernel, bool trans_a, Step step) {
    std::uint64_t seed = 10;
    for (const Shape& s : kShapes) {
        CAPTURE(s.M, s.N, s.K, trans_a);
        const Operands o = operands(s, trans_a, seed += 3);
        std::vector<float> C = o.C;
        kernel(s.M, s.N, s.K, o.A.data(), o.lda, o.B.data(), o.ldb, C.data(), o.ldc);
        int exact_mismatches = 0;
        double worst = 0;
        for (int i = 0; i < s.M; ++i) {
            for (int j = 0; j < o.ldc; ++j) {
                const std::size_t ij = static_cast<std::size_t>(i) * o.ldc + j;
                if (j >= s.N) {
                    REQUIRE(C[ij] == o.C[ij]);
                    continue;
                }
                if (C[ij] != chain(o, trans_a, i, j, s.K, step)) ++exact_mismatches;
                double ref = o.C[ij], mag = std::fabs(ref);
                for (int k = 0; k < s.K; ++k) {
                    const double t = double(a_elem(o, trans_a, i, k)) * o.B[static_cast<std::size_t>(k) * o.ldb + j];
                    ref += t;
                    mag += std::fabs(t);
                }
                worst = std::max(worst, std::fabs(C[ij] - ref) / (mag * (s.K + 1) * 6e-8));
            }
        }
        CHECK(exact_mismatches == 0);
        CHECK(worst <= 1.0);
    }
}

const auto mul_add = [](float a, float b, float c) { return c + a * b; };
const auto fused = [](float a, float b, float c) { return std::fma(a, b, c); };
}  // namespace

TEST_CASE("portable float GEMM tiles: c + a b for k ascending, element by element", "[gemm]") {
    check_kernel(&sim::cpu::gemm_nn_acc_portable<float>, false, mul_add);
    check_kernel(&sim::cpu::gemm_tn_acc_portable<float>, true, mul_add);
}

TEST_CASE("AVX2 float GEMM kernels: fma(a, b, c) for k ascending, element by element", "[gemm]") {
    if (!sim::cpu::avx2::available()) {
        WARN("this CPU or build has no AVX2 + FMA kernels (" << (sim::cpu::avx2::compiled() ? "CPU" : "build")
                                                             << "): skipped");
        return;
    }
    check_kernel(&sim::cpu::avx2::nn_acc, false, fused);
    check_kernel(&sim::cpu::avx2::tn_acc, true, fused);
}

TEST_CASE("AVX2 float GEMM kernels, unfused: c + a b for k ascending, the portable floats", "[gemm]") {
    if (!sim::cpu::avx2::available()) {
        WARN("this CPU or build has no AVX2 + FMA kernels: skipped");
        return;
    }
    check_kernel(&sim::cpu::avx2::nn_acc_unfused, false, mul_add);
    check_kernel(&sim::cpu::avx2::tn_acc_unfused, true, mul_add);
}

TEST_CASE("AVX-512 float GEMM kernels: the AVX2 kernels' floats, fused and unfused", "[gemm]") {
    if (!sim::cpu::avx512::compiled() || !sim::cpu::avx512::supported()) {
        WARN("this CPU or build has no AVX-512 kernels ("
             << (sim::cpu::avx512::compiled() ? "CPU" : "build") << "): skipped; the kernels in use are "
             << sim::cpu::gemm_kernels());
        return;
    }
    check_kernel(&sim::cpu::avx512::nn_acc, false, fused);
    check_kernel(&sim::cpu::avx512::tn_acc, true, fused);
    check_kernel(&sim::cpu::avx512::nn_acc_unfused, false, mul_add);
    check_kernel(&sim::cpu::avx512::tn_acc_unfused, true, mul_add);
}

TEST_CASE("the engine's entry points follow the process's kernels: fused on a SIMD ISA, unfused everywhere",
          "[gemm]") {
    const bool simd = sim::cpu::gemm_isa() != sim::cpu::GemmIsa::portable;
    INFO("kernels " << sim::cpu::gemm_kernels());
    if (simd) {
        check_kernel(&sim::cpu::gemm_nn_acc<float>, false, fused);
        check_kernel(&sim::cpu::gemm_tn_acc<float>, true, fused);
    } else {
        check_kernel(&sim::cpu::gemm_nn_acc<float>, false, mul_add);
        check_kernel(&sim::cpu::gemm_tn_acc<float>, true, mul_add);
    }
    check_kernel(&sim::cpu::gemm_nn_acc_unfused<float>, false, mul_add);
    check_kernel(&sim::cpu::gemm_tn_acc_unfused<float>, true, mul_add);
    // The process runs the widest kernels it has unless told otherwise.
    if (std::getenv("ELMSIM_ISA") == nullptr && std::getenv("ELMSIM_NO_AVX2") == nullptr) {
        if (sim::cpu::avx512::compiled() && sim::cpu::avx512::supported() && sim::cpu::avx2::available())
            CHECK(sim::cpu::gemm_isa() == sim::cpu::GemmIsa::avx512);
        else if (sim::cpu::avx2::available())
            CHECK(sim::cpu::gemm_isa() == sim::cpu::GemmIsa::avx2);
    }
}

TEST_CASE("double GEMM against a hand loop", "[gemm]") {
    const int M = 5, N = 19, K = 7;
    std::vector<double> A(M * K), B(K * N), C(M * N), ref;
    Rng rng(4, 4);
    for (auto* v : {&A, &B, &C})
        for (auto& x : *v) x = rng.uniform(-1.0, 1.0);
    ref = C;
    for (int i = 0; i < M; ++i)
        for (int k = 0; k < K; ++k)
            for (int j = 0; j < N; ++j) ref[i * N + j] += A[i * K + k] * B[k * N + j];
    sim::cpu::gemm_nn_acc(M, N, K, A.data(), K, B.data(), N, C.data(), N);
    CHECK(C == ref);  // same order, no fusion: exact
}

TEST_CASE("packed right-hand operands give the unpacked product's floats", "[gemm]") {
    for (const Shape& s : kShapes) {
        CAPTURE(s.M, s.N, s.K);
        // W is [N][K] (out x in, the parameter layout); the product uses W^T as B.
        const auto W = random_matrix(static_cast<std::size_t>(s.N) * s.K, 70);
        const auto A = random_matrix(static_cast<std::size_t>(s.M) * s.K, 71);
        const auto C0 = random_matrix(static_cast<std::size_t>(s.M) * s.N, 72);
        std::vector<float> Wt(W.size()), packed(W.size());
        for (int n = 0; n < s.N; ++n)
            for (int k = 0; k < s.K; ++k) Wt[static_cast<std::size_t>(k) * s.N + n] = W[static_cast<std::size_t>(n) * s.K + k];
        sim::cpu::pack_panels(s.N, s.K, W.data(), packed.data());
        auto plain = C0, from_packed = C0;
        sim::cpu::gemm_nn_acc(s.M, s.N, s.K, A.data(), s.K, Wt.data(), s.N, plain.data(), s.N);
        sim::cpu::gemm_nn_acc_packed(s.M, s.N, s.K, A.data(), s.K, packed.data(), from_packed.data(), s.N);
        CHECK(from_packed == plain);
    }
}

TEST_CASE("packed transposed products (the readout) give the unpacked product's floats", "[gemm]") {
    for (const Shape& s : kShapes) {
        CAPTURE(s.M, s.N, s.K);
        const auto W = random_matrix(static_cast<std::size_t>(s.N) * s.K, 80);  // [N][K]
        const auto A = random_matrix(static_cast<std::size_t>(s.K) * s.M, 81);  // [K][M]
        const auto C0 = random_matrix(static_cast<std::size_t>(s.M) * s.N, 82);
        std::vector<float> Wt(W.size()), packed(W.size());
        for (int n = 0; n < s.N; ++n)
            for (int k = 0; k < s.K; ++k) Wt[static_cast<std::size_t>(k) * s.N + n] = W[static_cast<std::size_t>(n) * s.K + k];
        sim::cpu::pack_panels(s.N, s.K, W.data(), packed.data());
        auto plain = C0, from_packed = C0;
        sim::cpu::gemm_tn_acc_unfused(s.M, s.N, s.K, A.data(), s.M, Wt.data(), s.N, plain.data(), s.N);
        sim::cpu::gemm_tn_acc_unfused_packed(s.M, s.N, s.K, A.data(), s.M, packed.data(), from_packed.data(), s.N);
        CHECK(from_packed == plain);
    }
}
