// The sweep directory's lock (sim/science/lock_file.hpp): a lock file created with O_EXCL, not flock().
// Mutual exclusion between threads and between processes, a dead owner's lock broken at once (this
// host) or by age (another host, by the file system's clock), a live owner's lock respected, and a
// lock that is no longer ours left alone.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/lock_file.hpp"
#include "tests/cli_runner.hpp"

using namespace elm;
namespace fs = std::filesystem;

namespace {

// Read-modify-write of a counter file, with a pause inside so that an unprotected update would lose
// increments.
void locked_increment(const fs::path& dir) {
    science::LockFile lock(dir / "lock", 60.0, 60.0);
    long n = 0;
    std::ifstream(dir / "count") >> n;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::ofstream(dir / "count") << n + 1;
}

long count_of(const fs::path& dir) {
    long n = 0;
    std::ifstream(dir / "count") >> n;
    return n;
}

std::string host() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

}  // namespace

TEST_CASE("lock file: two threads and two processes never hold it at once", "[sweep][lock]") {
    const auto dir = test::fresh_dir("lock_exclusion");
    std::ofstream(dir / "count") << 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) locked_increment(dir);
        });
    for (auto& t : threads) t.join();
    CHECK(count_of(dir) == 200);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        for (int i = 0; i < 100; ++i) locked_increment(dir);
        ::_exit(0);
    }
    for (int i = 0; i < 100; ++i) locked_increment(dir);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(count_of(dir) == 400);
    CHECK_FALSE(fs::exists(dir / "lock"));
}

TEST_CASE("lock file: a dead owner's lock is broken, a live one's is waited for", "[sweep][lock]") {
    const auto dir = test::fresh_dir("lock_stale");
    const fs::path lock = dir / "lock";
    // A process of this host that no longer exists.
    const pid_t gone = ::fork();
    REQUIRE(gone >= 0);
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    std::ofstream(lock) << host() << " " << gone << " deadbeef\n";
    {
        const auto t0 = std::chrono::steady_clock::now();
        science::LockFile l(lock, 60.0, 5.0);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
        std::string owner;
        std::getline(std::ifstream(lock), owner);
        CHECK(owner.find(std::to_string(::getpid())) != std::string::npos);
    }
    CHECK_FALSE(fs::exists(lock));

    // A live owner on this host (this process, another token): waited for, then one line naming it.
    std::ofstream(lock) << host() << " " << ::getpid() << " cafe\n";
    CHECK_THROWS_WITH(science::LockFile(lock, 60.0, 0.3), Catch::Matchers::Contains("held by") &&
                                                              Catch::Matchers::Contains("cafe"));
    CHECK(fs::exists(lock));  // not ours: left alone
    // ... unless it is older than the stale time (its pid may have been reused by another process).
    const struct timespec aged[2] = {{0, UTIME_OMIT}, {std::time(nullptr) - 120, 0}};
    REQUIRE(::utimensat(AT_FDCWD, lock.c_str(), aged, 0) == 0);
    { science::LockFile l(lock, 60.0, 5.0); }
    CHECK_FALSE(fs::exists(lock));

    // Another machine's lock: fresh, it holds; untouched for longer than the stale time, it is broken.
    std::ofstream(lock) << "some-other-node 12345 f00d\n";
    CHECK_THROWS_AS(science::LockFile(lock, 60.0, 0.3), InputError);
    const struct timespec old[2] = {{0, UTIME_OMIT}, {std::time(nullptr) - 120, 0}};
    REQUIRE(::utimensat(AT_FDCWD, lock.c_str(), old, 0) == 0);
    { science::LockFile l(lock, 60.0, 5.0); }
    CHECK_FALSE(fs::exists(lock));

    // A lock file taken from us (we were presumed dead) is not removed by our release.
    {
        science::LockFile l(lock, 60.0, 5.0);
        std::ofstream(lock) << "some-other-node 1 beef\n";
    }
    CHECK(fs::exists(lock));
}

TEST_CASE("lock file: an unwritable directory is one line, a local disk needs no note", "[sweep][lock]") {
    CHECK(science::local_locking_note(fs::temp_directory_path()).empty());
    CHECK_THROWS_WITH(science::LockFile("/nonexistent-dir/lock", 60.0, 1.0),
                      Catch::Matchers::Contains("/nonexistent-dir/lock: cannot create the lock file"));
}
