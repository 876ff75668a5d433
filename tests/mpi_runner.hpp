// Launching `elmsim` on several processes of this machine for the MPI tests: Open MPI's mpiexec found
// by CMake (ELM_MPIEXEC), allowed to run as root (as CI does) and to start more processes than there
// are cores. A build without MPI fails these tests loudly: they exist, and must run.
#pragma once

#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/cli_runner.hpp"

namespace elm::test {

// "env VARS mpiexec --bind-to none" — followed by "-n R PROGRAM ARGS" (or several such blocks joined by
// " : "). In the ASan build, leak checks are off under mpiexec: Open MPI's plugins, unloaded at
// MPI_Finalize, leave allocations LeakSanitizer cannot attribute (elmsim's own code paths are
// leak-checked by the tests that run it as one process).
inline std::string mpiexec_prefix() {
#if defined(ELM_MPIEXEC)
    return fmt::format("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 "
                       "OMPI_MCA_rmaps_base_oversubscribe=1 {} --bind-to none",
                       ELM_MPIEXEC);
#else
    FAIL("this build has no MPI: install Open MPI (apt install libopenmpi-dev openmpi-bin; tools/setup.sh does) and "
         "reconfigure");
    return {};
#endif
}

// `elmsim ARGS` on R processes, at most two minutes.
inline CliResult mpi_elmsim(int ranks, const std::string& args) {
    return run_command(fmt::format("timeout 120 {} -n {} {} {}", mpiexec_prefix(), ranks, ELMSIM_BINARY, args));
}

// Lines of elmsim's one-line errors in an output.
inline int error_lines(const std::string& output) {
    int n = 0;
    for (std::size_t at = output.find("elmsim: error:"); at != std::string::npos; at = output.find("elmsim: error:", at + 1))
        ++n;
    return n;
}

}  // namespace elm::test
