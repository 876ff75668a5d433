#include "elmsim/sim/cpu/gemm_isa.hpp"

#include <cstdlib>
#include <cstring>

#include "elmsim/sim/cpu/small_gemm_avx2.hpp"
#include "elmsim/sim/cpu/small_gemm_avx512.hpp"

namespace elm::sim::cpu {

namespace {
// The cap ELMSIM_ISA asks for, or avx512 (no cap) when it is unset or not understood.
GemmIsa requested_cap(bool& understood) {
    understood = true;
    const char* v = std::getenv("ELMSIM_ISA");
    if (!v || !*v) return GemmIsa::avx512;
    if (std::strcmp(v, "portable") == 0) return GemmIsa::portable;
    if (std::strcmp(v, "avx2") == 0) return GemmIsa::avx2;
    if (std::strcmp(v, "avx512") == 0) return GemmIsa::avx512;
    understood = false;
    return GemmIsa::avx512;
}

GemmIsa detect() {
    // avx2::available() is false without AVX2 + FMA and under ELMSIM_NO_AVX2; AVX-512 builds on it.
    if (!avx2::available()) return GemmIsa::portable;
    bool understood = true;
    const GemmIsa cap = requested_cap(understood);
    const GemmIsa best = avx512::compiled() && avx512::supported() ? GemmIsa::avx512 : GemmIsa::avx2;
    return static_cast<int>(cap) < static_cast<int>(best) ? cap : best;
}
}  // namespace

GemmIsa gemm_isa() {
    static const GemmIsa isa = detect();
    return isa;
}

const char* gemm_isa_name(GemmIsa isa) {
    switch (isa) {
        case GemmIsa::avx512: return "avx512-fma";
        case GemmIsa::avx2: return "avx2-fma";
        case GemmIsa::portable: break;
    }
    return "portable";
}

std::string gemm_isa_environment_error() {
    bool understood = true;
    requested_cap(understood);
    if (understood) return "";
    return std::string("ELMSIM_ISA=") + std::getenv("ELMSIM_ISA") + ": expected portable, avx2 or avx512";
}

}  // namespace elm::sim::cpu
