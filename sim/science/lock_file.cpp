#include "elmsim/sim/science/lock_file.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::science {

namespace fs = std::filesystem;

namespace {

constexpr long kNfsMagic = 0x6969;
constexpr long kLustreMagic = 0x0BD00BD0;

std::string this_host() {
    if (const char* h = std::getenv("ELMSIM_SWEEP_HOST"); h && *h) return h;
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

std::string read_small(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string s;
    std::getline(in, s);
    return s;
}

// "now" on the file system that holds `dir`: the modification time of a file touched there.
bool fs_now(const fs::path& dir, std::time_t& now) {
    const std::string clock = (dir / ".clock").string();
    const int fd = ::open(clock.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    const bool ok = ::futimens(fd, nullptr) == 0;
    struct stat st {};
    const bool got = ok && ::fstat(fd, &st) == 0;
    ::close(fd);
    if (got) now = st.st_mtime;
    return got;
}

}  // namespace

LockFile::LockFile(fs::path path, double stale_seconds, double wait_seconds)
    : path_(std::move(path)), stale_seconds_(stale_seconds) {
    std::random_device rd;
    token_ = fmt::format("{} {} {:08x}{:08x}", this_host(), static_cast<long>(::getpid()), rd(), rd());
    const auto start = std::chrono::steady_clock::now();
    int pause_ms = 2;
    while (!try_create()) {
        if (owner_gone()) {
            // Rename, then remove: of several breakers only one rename finds the file.
            const fs::path broken = path_.string() + fmt::format(".broken{}.{:08x}", static_cast<long>(::getpid()), rd());
            if (::rename(path_.c_str(), broken.c_str()) == 0) ::unlink(broken.c_str());
            continue;
        }
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (waited > wait_seconds)
            throw InputError(fmt::format("{}: held by \"{}\" for over {:.0f} s (remove it if that process is gone)",
                                         path_.string(), read_small(path_), wait_seconds));
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
        pause_ms = std::min(100, pause_ms * 2);
    }
}

bool LockFile::try_create() {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return false;
        throw InputError(fmt::format("{}: cannot create the lock file ({})", path_.string(), std::strerror(errno)));
    }
    const std::string line = token_ + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) {
        ::unlink(path_.c_str());
        throw InputError(fmt::format("{}: cannot write the lock file (disk full?)", path_.string()));
    }
    return true;
}

bool LockFile::owner_gone() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return false;  // released meanwhile: try again
    std::istringstream owner(read_small(path_));
    std::string host;
    long pid = 0;
    owner >> host >> pid;
    if (!owner) {
        // Not written yet (its creator is between open and write) or damaged: stale only by age.
        pid = 0;
        host.clear();
    }
    // On this host a dead owner is known at once; any owner (also one whose pid was reused) is gone once
    // the file is older than the stale time.
    if (!host.empty() && host == this_host() && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
        return true;
    std::time_t now = 0;
    if (!fs_now(path_.parent_path(), now)) return false;
    return static_cast<double>(now - st.st_mtime) > stale_seconds_;
}

LockFile::~LockFile() {
    // Only our own file: after a break by another process (we were presumed dead) it is theirs.
    if (read_small(path_) == token_) ::unlink(path_.c_str());
}

std::string local_locking_note(const fs::path& dir) {
    struct statfs sf {};
    if (::statfs(dir.c_str(), &sf) != 0) return {};
    const long type = static_cast<long>(sf.f_type);
    if (type != kNfsMagic && type != kLustreMagic) return {};
    // The mount's options, from the longest mount point that holds `dir`.
    std::error_code ec;
    const std::string where = fs::canonical(dir, ec).string();
    std::ifstream mounts("/proc/mounts");
    std::string best_point, best_options, fstype;
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream f(line);
        std::string dev, point, type_name, options;
        f >> dev >> point >> type_name >> options;
        if (where.rfind(point, 0) == 0 && point.size() >= best_point.size()) {
            best_point = point;
            best_options = options;
            fstype = type_name;
        }
    }
    const auto has = [&](const std::string& opt) {
        return ("," + best_options + ",").find("," + opt + ",") != std::string::npos;
    };
    if (type == kNfsMagic) {
        for (const char* o : {"local_lock=flock", "local_lock=all"})
            if (has(o)) return fmt::format("NFS ({}) mounted with {}", best_point, o);
        return {};
    }
    if (has("localflock")) return fmt::format("Lustre ({}) mounted with localflock", best_point);
    return {};
}

}  // namespace elm::science
