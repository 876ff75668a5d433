// Helpers for tests that drive the `elmsim` binary as a user would: run a command line, capture
// exit code and output; make a fresh temporary directory per test.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace elm::test {

struct CliResult {
    int code = -1;
    std::string output;  // stdout and stderr together
};

// Any shell command line; stdout and stderr captured together.
inline CliResult run_command(const std::string& cmd) {
    CliResult r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

inline CliResult run_elmsim(const std::string& args) { return run_command(std::string(ELMSIM_BINARY) + " " + args); }

inline std::filesystem::path fresh_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / ("elmsim_test_" + name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p) << text;
}

}  // namespace elm::test
