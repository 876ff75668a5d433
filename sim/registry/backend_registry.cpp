#include "elmsim/sim/registry/backend_registry.hpp"

#include <array>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/cpu/cpu_backend.hpp"
#if defined(ELM_WITH_CUDA)
#include "elmsim/gpu/cuda_backend.hpp"
#endif

namespace elm::sim {

namespace {

bool always(std::string*) { return true; }

// The table: one line per backend. A backend that is built only on some machines (gpu/, when CMake
// finds nvcc: elm_backends then has ELM_WITH_CUDA defined) sits behind its macro.
const BackendEntry kBackends[] = {
    {"cpu", "oneTBB thread pool (sim/cpu/)", &always, &cpu::supports, &cpu::make_backend},
#if defined(ELM_WITH_CUDA)
    {"cuda", "NVIDIA GPU (gpu/)", &gpu::available, &gpu::supports, &gpu::make_backend},
#endif
};

// Names users may try that this build does not have, with what to say about them.
constexpr std::array<std::pair<const char*, const char*>, 1> kKnownElsewhere{
    {{"cuda", "this build of elmsim has no CUDA backend"}}};

const BackendEntry* find(const std::string& name) {
    for (const auto& e : kBackends)
        if (name == e.name) return &e;
    return nullptr;
}

std::string not_here(const std::string& name) {
    for (const auto& [known, why] : kKnownElsewhere)
        if (name == known) return fmt::format("\"{}\": {}; this build has: {}", name, why, backend_names());
    return fmt::format("\"{}\" is unknown; this build has: {}", name, backend_names());
}

}  // namespace

std::span<const BackendEntry> registered_backends() { return kBackends; }

std::string backend_names() {
    std::string s;
    for (const auto& e : kBackends) s += fmt::format("{}{}", s.empty() ? "" : ", ", e.name);
    return s;
}

bool backend_available(const std::string& name, std::string* why) {
    const BackendEntry* e = find(name);
    if (!e) {
        if (why) *why = not_here(name);
        return false;
    }
    std::string reason;
    if (!e->available(&reason)) {
        if (why) *why = fmt::format("\"{}\" cannot run here: {}; this build has: {}", name, reason, backend_names());
        return false;
    }
    return true;
}

std::unique_ptr<Backend> make_backend(const std::string& name, const models::Network<float>& net,
                                      const BackendOptions& options) {
    std::string why;
    if (!backend_available(name, &why)) throw ParameterError("backend", why);
    const BackendEntry* e = find(name);
    if (!e->supports(net.cfg, &why)) throw ParameterError("backend", fmt::format("\"{}\" cannot run this model: {}", name, why));
    return e->make(net, options);
}

}  // namespace elm::sim
