// Peak float throughput of this machine, measured (the training benchmark reports achieved
// GFLOP/s against it). A micro-benchmark runs independent chains of acc = acc * a + b — enough
// chains per thread to cover the FMA latency, so the FMA units, not the dependency, set the pace —
// on `threads` threads at once, and reports total FLOPs / wall time (2 FLOPs per lane and FMA).
//
// Two instruction sets are measured, because the engine's speed is bounded by the one it runs:
//  - best:     the FMA of the ISA the engine's GEMM kernels use in this process (sim/cpu/gemm_isa.hpp):
//              512-bit AVX-512, 256-bit AVX2, or the baseline when the kernels are the portable ones;
//  - baseline: 128-bit SSE multiply then add (no fused FMA) — what the default x86-64 build
//              (ELM_NATIVE=OFF) can emit.
#pragma once

#include <string>

namespace elm::bench {

enum class PeakIsa { best, baseline };

struct PeakFlops {
    double gflops = 0;  // float GFLOP/s of all threads together
    int threads = 0;
    std::string isa;    // what ran: "avx512-fma", "avx2-fma" or "sse-mul-add"
};

// Best of `trials` timed runs of about `seconds` each (a first short run calibrates the length).
PeakFlops measure_peak_flops(int threads, PeakIsa isa, double seconds = 0.1, int trials = 3);

}  // namespace elm::bench
