// The backends this build has, by name: the one table that maps "cpu", "cuda", ... to a factory.
// A new backend adds its files (sim/cpu/, gpu/) and one line in backend_registry.cpp.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"

namespace elm::sim {

struct BackendEntry {
    const char* name;
    const char* summary;  // one line for --help and messages
    // Whether the backend can run on this machine now (e.g. a GPU is present); *why when not.
    bool (*available)(std::string* why);
    bool (*supports)(const models::ModelConfig& cfg, std::string* why);
    std::unique_ptr<Backend> (*make)(const models::Network<float>& net, const BackendOptions& options);
};

// Every backend compiled into this build, in table order.
std::span<const BackendEntry> registered_backends();
// "cpu" or "cpu, cuda": the names of registered_backends().
std::string backend_names();

// Whether `name` can run here; *why (one line, naming the backends this build has) when not.
bool backend_available(const std::string& name, std::string* why);

// The backend `name` for `net`. ParameterError("backend") when the name is unknown or not in this
// build, the backend cannot run on this machine, or it does not support the model — each message says
// which backends this build has.
std::unique_ptr<Backend> make_backend(const std::string& name, const models::Network<float>& net,
                                      const BackendOptions& options = {});

}  // namespace elm::sim
