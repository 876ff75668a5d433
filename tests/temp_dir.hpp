// TempDir: a fresh directory per test case under the system temp dir, removed (write permission
// restored first) when the test ends. `tag` keeps parallel test cases apart; the pid keeps
// concurrent test runs apart.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

namespace elm::test {

struct TempDir {
    std::filesystem::path dir;
    explicit TempDir(const std::string& tag) {
        dir = std::filesystem::temp_directory_path() / ("elm_test_" + tag + "_" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(dir, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

}  // namespace elm::test
