// FMA micro-benchmark (see peak_flops.hpp). The kernels keep kChains independent accumulators live
// in registers; a = 1 - 2^-20 and b = 2^-10 keep every value normal and bounded (acc -> b / (1 - a)),
// so no denormal slow path or overflow disturbs the timing, and the final sum goes to a volatile
// sink so the compiler cannot drop the loop.
#include "tools/bench/peak_flops.hpp"

#include "elmsim/sim/cpu/gemm_isa.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ELM_PEAK_X86 1
#endif

namespace elm::bench {

namespace {

constexpr int kChains = 12;  // >= FMA latency (4-5 cycles) x FMA ports (2) on current x86 cores
volatile float g_sink = 0.0f;

using Vec4 = float __attribute__((vector_size(16)));

// Baseline: 4 lanes, multiply and add as separate operations (no -mfma in the default build).
float run_baseline(std::int64_t iters, float a, float b) {
    Vec4 acc[kChains];
    const Vec4 va = {a, a, a, a}, vb = {b, b, b, b};
    for (int c = 0; c < kChains; ++c) acc[c] = Vec4{} + static_cast<float>(c);
    for (std::int64_t n = 0; n < iters; ++n)
        for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * va + vb;
    float s = 0;
    for (int c = 0; c < kChains; ++c) s += acc[c][0] + acc[c][1] + acc[c][2] + acc[c][3];
    return s;
}
constexpr double kBaselineFlopsPerIter = 2.0 * 4 * kChains;

#ifdef ELM_PEAK_X86
__attribute__((target("avx2,fma"))) float run_avx2_fma(std::int64_t iters, float a, float b) {
    __m256 acc[kChains];
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
    for (std::int64_t n = 0; n < iters; ++n)
        for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], va, vb);
    alignas(32) float lanes[8];
    float s = 0;
    for (int c = 0; c < kChains; ++c) {
        _mm256_store_ps(lanes, acc[c]);
        for (float v : lanes) s += v;
    }
    return s;
}
constexpr double kAvx2FlopsPerIter = 2.0 * 8 * kChains;

__attribute__((target("avx512f,fma"))) float run_avx512_fma(std::int64_t iters, float a, float b) {
    __m512 acc[kChains];
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
    for (std::int64_t n = 0; n < iters; ++n)
        for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], va, vb);
    alignas(64) float lanes[16];
    float s = 0;
    for (int c = 0; c < kChains; ++c) {
        _mm512_store_ps(lanes, acc[c]);
        for (float v : lanes) s += v;
    }
    return s;
}
constexpr double kAvx512FlopsPerIter = 2.0 * 16 * kChains;

bool has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

struct Kernel {
    float (*run)(std::int64_t, float, float);
    double flops_per_iter;
    const char* name;
};

Kernel pick_kernel(PeakIsa isa) {
#ifdef ELM_PEAK_X86
    if (isa == PeakIsa::best) switch (sim::cpu::gemm_isa()) {
            case sim::cpu::GemmIsa::avx512: return {run_avx512_fma, kAvx512FlopsPerIter, "avx512-fma"};
            case sim::cpu::GemmIsa::avx2:
                if (has_avx2_fma()) return {run_avx2_fma, kAvx2FlopsPerIter, "avx2-fma"};
                break;
            case sim::cpu::GemmIsa::portable: break;
        }
#else
    (void)isa;
#endif
    return {run_baseline, kBaselineFlopsPerIter, "sse-mul-add"};
}

// Seconds for `threads` threads to each run `iters` iterations, started together.
double timed_run(const Kernel& k, int threads, std::int64_t iters) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    std::vector<float> out(threads, 0.0f);
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            out[t] = k.run(iters, 1.0f - 0x1.0p-20f, 0x1.0p-10f);
        });
    while (ready.load() < threads) std::this_thread::yield();
    const auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    float sum = 0;
    for (float v : out) sum += v;
    g_sink = sum;
    return s;
}

}  // namespace

PeakFlops measure_peak_flops(int threads, PeakIsa isa, double seconds, int trials) {
    threads = std::max(1, threads);
    const Kernel k = pick_kernel(isa);
    // Calibrate on one thread: grow the iteration count until a run takes a measurable time.
    std::int64_t iters = 1 << 16;
    double s = timed_run(k, 1, iters);
    while (s < 0.01) {
        iters *= 4;
        s = timed_run(k, 1, iters);
    }
    iters = std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(iters) * seconds / s));
    double best = 0;
    for (int r = 0; r < std::max(1, trials); ++r) {
        const double dt = timed_run(k, threads, iters);
        best = std::max(best, k.flops_per_iter * static_cast<double>(iters) * threads / dt);
    }
    return PeakFlops{best * 1e-9, threads, k.name};
}

}  // namespace elm::bench
