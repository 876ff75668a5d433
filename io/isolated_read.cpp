#include "elmsim/io/isolated_read.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/raw_file.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/error.hpp"

extern char** environ;

namespace elm::io {
namespace {

std::mutex helper_mutex;
std::string& helper_path() {
    static std::string path;
    return path;
}

const char* kind_name(IsolatedKind k) {
    switch (k) {
        case IsolatedKind::checkpoint: return "checkpoint";
        case IsolatedKind::spike_dataset: return "spike-dataset";
        case IsolatedKind::trace: return "trace";
    }
    return "?";
}

double time_limit_s(const std::string& path) {
    if (const char* e = std::getenv("ELMSIM_ISOLATION_TIMEOUT_S")) {
        char* end = nullptr;
        const double v = std::strtod(e, &end);
        if (end != e && *end == '\0' && v > 0.0 && v < 1e6) return v;
    }
    struct stat st {};
    const double mib = ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) / (1 << 20) : 0.0;
    return 10.0 + mib / 10.0;
}

// The last line the helper wrote, without elmsim's "elmsim: error: " prefix.
std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const auto nl = text.rfind('\n');
    if (nl != std::string::npos) text = text.substr(nl + 1);
    for (const std::string_view prefix : {"elmsim: error: ", "elmsim: internal error: "})
        if (text.rfind(prefix, 0) == 0) text = text.substr(prefix.size());
    if (text.size() > 2000) text.resize(2000);
    return text;
}

}  // namespace

void set_isolation_helper(const std::string& executable) {
    const std::lock_guard lock(helper_mutex);
    helper_path() = executable;
}

std::string isolation_helper() {
    const std::lock_guard lock(helper_mutex);
    return helper_path();
}

int hdf5_superblock_version(const std::string& path) {
    RawFile f(path);
    static constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (std::uint64_t at = 0; at + 9 <= f.size(); at = at == 0 ? 512 : at * 2) {
        unsigned char head[9];
        if (!f.read(at, sizeof head, head)) return -1;
        if (std::memcmp(head, kSignature, 8) == 0) return head[8];
    }
    return -1;
}

bool needs_isolation(const std::string& path) {
    const int v = hdf5_superblock_version(path);
    return v == 0 || v == 1;
}

void check_in_isolated_process(IsolatedKind kind, const std::string& path, const std::vector<std::string>& options) {
    const std::string helper = isolation_helper();
    if (helper.empty()) return;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // the reader names what is wrong
    if (!needs_isolation(path)) return;
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw InputError(fmt::format("{}: cannot start the isolated read (pipe)", path));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out[1], 2);
    std::vector<std::string> args = {helper, "__check-file", kind_name(kind), path};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
        ::close(out[0]);
        throw InputError(fmt::format("{}: cannot start the isolated read ({}: {})", path, helper, std::strerror(rc)));
    }
    // Collect its output until it exits or the time is up.
    const double limit = time_limit_s(path);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit);
    std::string text;
    bool timed_out = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{out[0], POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the helper closed its end: it is exiting
        if (text.size() < (1 << 16)) text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        throw InputError(fmt::format("{}: the file is damaged: reading it took longer than {:.0f} s (a file without "
                                     "checksums, read in an isolated process)",
                                     path, limit));
    if (WIFSIGNALED(status))
        throw InputError(fmt::format("{}: the file is damaged: reading it crashed HDF5 (signal {}, in an isolated process; "
                                     "the file has no checksums)",
                                     path, WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string why = last_line(text);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && !why.empty()) throw InputError(why);
        throw InputError(fmt::format("{}: the file is damaged: reading it failed in an isolated process ({})", path,
                                     why.empty() ? fmt::format("exit {}", WEXITSTATUS(status)) : why));
    }
}

void read_for_check(const std::string& name, const std::string& path, const std::vector<std::string>& options) {
    const auto integer = [&](std::size_t k) -> std::int64_t {
        try {
            return k < options.size() ? std::stoll(options[k]) : -1;
        } catch (const std::exception&) {
            throw InputError(fmt::format("__check-file: expected an integer option, found '{}'", options[k]));
        }
    };
    if (name == "checkpoint" && options.empty())
        load_checkpoint(path);
    else if (name == "spike-dataset" && options.size() == 2)
        read_spike_dataset(path, integer(0), static_cast<int>(integer(1)));
    else if (name == "trace" && options.empty())
        read_trace(path);
    else
        throw InputError(fmt::format("__check-file: unknown kind '{}' or wrong options", name));
}

}  // namespace elm::io
