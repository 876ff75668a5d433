// Backends for tests: the registry's backends by name, so that tests reach the engine the way every
// other caller does (sim/backend.hpp).
#pragma once

#include <memory>
#include <string>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"

namespace elm::test {

inline std::unique_ptr<sim::Backend> backend_for(const models::Network<float>& net, int threads = 1,
                                                 const std::string& name = "cpu") {
    sim::BackendOptions o;
    o.threads = threads;
    return sim::make_backend(name, net, o);
}

}  // namespace elm::test
