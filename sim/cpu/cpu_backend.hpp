// The "cpu" backend: the oneTBB engine of this folder behind sim/backend.hpp. Learner<float> runs a
// batch (forward, backward, recomputation), Optimizer updates the flat parameter buffer in place,
// CpuStepper streams updates for simulation; all share one Executor (a task arena of
// BackendOptions::threads threads). Results are bit-identical for any thread count.
#pragma once

#include <memory>
#include <string>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"

namespace elm::sim::cpu {

// The CPU runs every valid configuration.
bool supports(const models::ModelConfig& cfg, std::string* why);
std::unique_ptr<Backend> make_backend(const models::Network<float>& net, const BackendOptions& options);

}  // namespace elm::sim::cpu
