// Backends for tests: the registry's backends by name, so that tests reach the engine the way every
// other caller does (sim/backend.hpp).
#pragma once

#include <cstddef>
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

// A seeded network with its synaptic weights times `scale`, so that sparse input events visibly drive
// every neuron (and make spikes).
inline models::Network<float> network_with_scaled_synapses(const models::ModelConfig& cfg, float scale) {
    auto net = models::make_network<float>(cfg);
    float* w = net.tensor(models::TensorId::w_syn);
    for (std::size_t k = 0; k < net.layout[models::TensorId::w_syn].size; ++k) w[k] *= scale;
    return net;
}

}  // namespace elm::test
