// `elmsim bench-gemm`: elmsim's per-neuron GEMM kernels against tuned BLAS libraries on the shapes
// one training step of the benchmark configurations runs: whether a tuned GEMM would be faster.
// BLAS libraries are loaded at run time (dlopen, any library exporting cblas_sgemm: OpenBLAS, BLIS,
// ...), so elmsim has no link-time BLAS dependency. Everything runs on one thread, as each GEMM does
// inside the engine (the engine parallelises over neurons).
//
// Per shape, `neurons` independent products (distinct A, B, C blocks, like one step over all neurons)
// are timed together; the median of the repeats (after one warm-up) gives GFLOP/s = 2 M N K neurons /
// time.
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/file_kind.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::bench {

namespace {

// cblas_sgemm's C ABI (CBLAS standard): enum values RowMajor = 101, NoTrans = 111, Trans = 112.
using CblasSgemm = void (*)(int order, int trans_a, int trans_b, int M, int N, int K, float alpha, const float* A,
                            int lda, const float* B, int ldb, float beta, float* C, int ldc);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

struct Blas {
    std::string path;
    CblasSgemm sgemm = nullptr;
};

Blas load_blas(const std::string& path) {
    // Single-threaded BLAS: set before the library initialises its thread pool.
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("BLIS_NUM_THREADS", "1", 1);
    // A path (not a name the loader searches for) that exists must be a regular file: dlopen of a
    // FIFO would block in its open.
    struct stat st {};
    if (path.find('/') != std::string::npos && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        throw InputError(fmt::format("bench-gemm: cannot load {}: found {}, expected a regular file", path,
                                     io::file_kind_name(st.st_mode)));
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw InputError(fmt::format("bench-gemm: cannot load {}: {}", path, dlerror()));
    Blas b{path, reinterpret_cast<CblasSgemm>(dlsym(h, "cblas_sgemm"))};
    if (!b.sgemm) throw InputError(fmt::format("bench-gemm: {} has no cblas_sgemm", path));
    if (auto set = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"))) set(1);
    if (auto set = reinterpret_cast<void (*)(long)>(dlsym(h, "bli_thread_set_num_threads"))) set(1);
    return b;
}

struct Shape {
    const char* config;
    const char* what;
    bool trans_a;  // false: C[M][N] += A[M][K] B[K][N]; true: C += A[K][M]^T B[K][N]
    int M, N, K;
    int neurons;
};

// The products of one step of `elmsim bench`'s configurations (sim/cpu/forward.cpp, sim/cpu/backward.cpp):
// B samples, in = n_b + d_m MLP inputs, d_h hidden units, d_m memory units.
std::vector<Shape> step_shapes() {
    std::vector<Shape> s;
    struct Cfg {
        const char* name;
        int N, B, in, dh, dm;
    };
    for (const Cfg c : {Cfg{"small", 64, 16, 20, 32, 16}, Cfg{"wide", 256, 16, 20, 32, 16},
                        Cfg{"complex", 128, 8, 72, 128, 64}}) {
        s.push_back({c.name, "fwd  u W1^T", false, c.B, c.dh, c.in, c.N});
        s.push_back({c.name, "fwd  h W2^T", false, c.B, c.dm, c.dh, c.N});
        s.push_back({c.name, "bwd  gA2 W2", false, c.B, c.dh, c.dm, c.N});
        s.push_back({c.name, "bwd  gA W1", false, c.B, c.in, c.dh, c.N});
        s.push_back({c.name, "bwd  gW2 += gA2^T h", true, c.dm, c.dh, c.B, c.N});
        s.push_back({c.name, "bwd  gW1 += gA^T u", true, c.dh, c.in, c.B, c.N});
    }
    return s;
}

struct Operands {
    std::vector<float> A, B, C;
    std::size_t a_size, b_size, c_size;
};

Operands make_operands(const Shape& s) {
    Operands o;
    o.a_size = static_cast<std::size_t>(s.M) * s.K;
    o.b_size = static_cast<std::size_t>(s.K) * s.N;
    o.c_size = static_cast<std::size_t>(s.M) * s.N;
    Rng rng(7, 1);
    auto fill = [&](std::vector<float>& v, std::size_t n) {
        v.resize(n * s.neurons);
        for (auto& x : v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
    };
    fill(o.A, o.a_size);
    fill(o.B, o.b_size);
    fill(o.C, o.c_size);
    return o;
}

struct BenchGemmArgs {
    std::vector<std::string> blas;
    int repeats = 21;
    int inner = 20;  // passes over all neurons per timed repeat
};

void run_bench_gemm(const BenchGemmArgs& a) {
    tools::require_flag_range("--repeats", a.repeats, 1, 1000000);
    tools::require_flag_range("--inner", a.inner, 1, 1000000);
    std::vector<Blas> libs;
    for (const auto& p : a.blas) libs.push_back(load_blas(p));
    fmt::print("elmsim bench-gemm: one thread, GFLOP/s (median of {} repeats of {} passes over all neurons)\n",
               a.repeats, a.inner);
    fmt::print("elmsim kernels: {}\n", sim::cpu::gemm_kernels());
    for (std::size_t l = 0; l < libs.size(); ++l) fmt::print("blas{}: {}\n", l + 1, libs[l].path);
    fmt::print("\n{:<8} {:<22} {:>4} {:>4} {:>4} | {:>7}", "config", "product", "M", "N", "K", "elmsim");
    for (std::size_t l = 0; l < libs.size(); ++l) fmt::print(" {:>7} {:>6}", fmt::format("blas{}", l + 1), "ratio");
    fmt::print("\n");
    for (const Shape& s : step_shapes()) {
        Operands o = make_operands(s);
        const double flops = 2.0 * s.M * s.N * s.K * s.neurons * a.inner;
        auto run_all = [&](auto&& product) {
            for (int pass = 0; pass < a.inner; ++pass)
                for (int i = 0; i < s.neurons; ++i)
                    product(o.A.data() + i * o.a_size, o.B.data() + i * o.b_size, o.C.data() + i * o.c_size);
        };
        const int lda = s.trans_a ? s.M : s.K;
        const double t_elm = 1e-3 * median_ms(
            [&] {
                run_all([&](const float* A, const float* B, float* C) {
                    if (s.trans_a)
                        sim::cpu::gemm_tn_acc(s.M, s.N, s.K, A, lda, B, s.N, C, s.N);
                    else
                        sim::cpu::gemm_nn_acc(s.M, s.N, s.K, A, lda, B, s.N, C, s.N);
                });
            },
            1, a.repeats);
        const double g_elm = flops / t_elm * 1e-9;
        fmt::print("{:<8} {:<22} {:>4} {:>4} {:>4} | {:>7.1f}", s.config, s.what, s.M, s.N, s.K, g_elm);
        for (const Blas& b : libs) {
            const double t = 1e-3 * median_ms(
                [&] {
                    run_all([&](const float* A, const float* B, float* C) {
                        b.sgemm(kRowMajor, s.trans_a ? kTrans : kNoTrans, kNoTrans, s.M, s.N, s.K, 1.0f, A, lda, B,
                                s.N, 1.0f, C, s.N);
                    });
                },
                1, a.repeats);
            const double g = flops / t * 1e-9;
            fmt::print(" {:>7.1f} {:>6.2f}", g, g_elm / g);
        }
        fmt::print("\n");
    }
    fmt::print("(ratio = elmsim GFLOP/s / that library's; > 1: elmsim's kernel is faster on that product)\n");
}

}  // namespace

void register_bench_gemm(CLI::App& app) {
    auto a = std::make_shared<BenchGemmArgs>();
    auto* cmd = app.add_subcommand("bench-gemm",
                                   "elmsim's per-neuron GEMM kernels vs BLAS libraries (cblas_sgemm) on one step's shapes");
    cmd->add_option("--blas", a->blas,
                    "Shared library exporting cblas_sgemm (repeatable), e.g. "
                    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0");
    cmd->add_option("--repeats", a->repeats, "Timed repeats; the median is reported (default 21)");
    cmd->add_option("--inner", a->inner, "Passes over all neurons per repeat (default 20)");
    cmd->callback([a] { run_bench_gemm(*a); });
}

}  // namespace elm::bench
