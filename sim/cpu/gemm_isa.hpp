// Which float GEMM kernels a process runs (sim/cpu/small_gemm.hpp): the widest the CPU has, decided once
// per process so that every product of a run follows the same rounding rule.
//   ELMSIM_ISA=portable | avx2 | avx512   caps the choice (a cap above what the CPU has changes nothing);
//   ELMSIM_NO_AVX2=1                      is ELMSIM_ISA=portable (kept for existing scripts).
// AVX-512 and AVX2 sum the same fma chains and give the same floats; portable rounds differently.
#pragma once

#include <string>

namespace elm::sim::cpu {

enum class GemmIsa { portable, avx2, avx512 };

GemmIsa gemm_isa();
// "avx512-fma", "avx2-fma" or "portable".
const char* gemm_isa_name(GemmIsa isa);
// One line naming ELMSIM_ISA's value and the accepted ones when it is set to anything else; "" otherwise.
// The command line refuses to start on it; a library user who ignores it gets the best kernels.
std::string gemm_isa_environment_error();

}  // namespace elm::sim::cpu
