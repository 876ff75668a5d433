// The benchmark programs, reachable as `elmsim bench`, `bench-gemm`, `bench-sim`, `bench-event`,
// `bench-gpu`, `bench-serve` and `bench-text` but kept apart from the user-facing commands and libraries (library elm_bench): each measures
// elmsim against a reference in the same run and prints a table (docs/benchmarks.md).
#pragma once

#include <CLI/CLI.hpp>

namespace elm::bench {

void register_bench(CLI::App& app);       // training speed against the PyTorch reference
void register_bench_gemm(CLI::App& app);  // the CPU backend's GEMM kernels against tuned BLAS
void register_bench_sim(CLI::App& app);   // clock vs event simulation cost
void register_bench_event(CLI::App& app); // learning on the event schedule vs the clock
void register_bench_gpu(CLI::App& app);   // the CUDA backend against the CPU backend and PyTorch on the GPU
void register_bench_serve(CLI::App& app); // the server on loopback: micro-batching on vs off
void register_bench_text(CLI::App& app);  // a byte model against a PyTorch byte LSTM of the same size
void register_bench_exchange(CLI::App& app);  // the gradient exchange of training on many processes

}  // namespace elm::bench
