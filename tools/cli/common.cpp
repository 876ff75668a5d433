// What every command shares: the provenance written into files, and the engine flags.
#include <fmt/format.h>

#include "elmsim/sim/registry/backend_registry.hpp"
#include "tools/cli/commands.hpp"

namespace elm::tools {

std::string created_by() { return std::string("elmsim ") + ELMSIM_VERSION; }

void add_engine_options(CLI::App& cmd, std::string& backend, std::optional<std::int64_t>& threads) {
    cmd.add_option("--backend", backend, fmt::format("Where the network runs: {} (default cpu)", sim::backend_names()));
    cmd.add_option("--threads", threads, "Worker threads of the cpu backend (0 = all cores; default: train.threads)");
}

}  // namespace elm::tools
