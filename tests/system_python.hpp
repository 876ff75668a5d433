// Tests that run Debian's /usr/bin/python3 with its packages (h5py, numpy, matplotlib, torch) as an
// independent reader or reference. `tools/setup.sh test` installs them, so a missing one fails the
// test with the package to install: a test that skips for want of a package tests nothing.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "tests/cli_runner.hpp"

namespace elm::test {

inline constexpr const char* kSystemPython = "/usr/bin/python3";

// FAILs the test unless /usr/bin/python3 imports every module of `modules` ("h5py, matplotlib").
inline void require_system_python(const std::string& modules, const std::string& packages) {
    const CliResult r = run_command(std::string(kSystemPython) + " -c 'import " + modules + "'");
    if (r.code != 0)
        FAIL(kSystemPython << " cannot import " << modules << ": install " << packages
                           << " (tools/setup.sh test installs every package the tests use)\n" << r.output);
}

}  // namespace elm::test
