#include "elmsim/sim/science/sweep_directory.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/input_file.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/lock_file.hpp"

namespace elm::science {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string now_iso() {
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string new_token() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}", rd(), rd());
}

std::optional<json> read_json(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;  // missing, or something no run wrote (a FIFO would block)
    std::ifstream in(p);
    if (!in) return std::nullopt;
    try {
        return json::parse(in);
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

// DIR/lock, a lock file (sim/science/lock_file.hpp): exclusive between processes on any machines
// sharing the directory, and between threads of one process (each takes it anew). Held for a few file
// operations, so an owner silent for a minute is gone.
class DirLock {
public:
    explicit DirLock(const fs::path& root) : lock_(root / "lock", 60.0) {}

private:
    LockFile lock_;
};

}  // namespace

void write_file_atomically(const fs::path& path, const std::string& text) {
    // The output checks of every writer (io/atomic_output.hpp): no special file is replaced, a link is
    // written through; a temporary name per process, since several may write here at once.
    io::AtomicOutput out(path.string(), fmt::format(".tmp{}", ::getpid()));
    {
        std::ofstream f(out.tmp_path(), std::ios::binary | std::ios::trunc);
        f << text;
        f.flush();
        if (!f) throw InputError(fmt::format("{}: cannot write (disk full?)", path.string()));
    }
    out.commit();
}

std::string read_file(const fs::path& path) {
    io::require_regular_input(path.string(), "file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open ({})", path.string(), std::strerror(errno)));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void RunClaim::touch() const {
    // utimensat(NULL) sets both times to now; a claim taken over meanwhile is someone else's to touch.
    if (still_ours()) ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);
}

bool RunClaim::still_ours() const {
    const auto j = read_json(path_);
    return j && j->value("token", "") == token_;
}

void RunClaim::release() const {
    // Under the lock: a takeover cannot slip in between the check and the removal.
    DirLock lock(path_.parent_path().parent_path().parent_path());
    std::error_code ec;
    if (still_ours()) fs::remove(path_, ec);
}

SweepDirectory::SweepDirectory(const std::string& root, double stale_minutes)
    : root_(root), stale_seconds_(stale_minutes * 60.0) {
    std::error_code ec;
    if (fs::exists(root_) && !fs::is_directory(root_))
        throw InputError(fmt::format("{}: --out: exists and is not a directory", root));
    fs::create_directories(root_ / "runs", ec);
    if (ec) throw InputError(fmt::format("{}: cannot create the sweep directory ({})", root, ec.message()));
    if (::access(root_.c_str(), W_OK) != 0)
        throw InputError(fmt::format("{}: the sweep directory is not writable", root));
}

std::string SweepDirectory::host_name() {
    if (const char* h = std::getenv("ELMSIM_SWEEP_HOST"); h && *h) return h;
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

void SweepDirectory::adopt_plan(const json& plan) {
    DirLock lock(root_);
    const fs::path p = root_ / "sweep.json";
    if (!fs::exists(p)) {
        write_file_atomically(p, plan.dump(1) + "\n");
        return;
    }
    const auto old = read_json(p);
    if (!old || old->value("kind", "") != "elmsim-sweep")
        throw InputError(fmt::format("{}: exists but is not an elmsim sweep plan; use another --out", p.string()));
    // The runs are compared by what they are; the cost estimate may change between versions.
    const auto runs_of = [](json runs) {
        for (auto& r : runs) r.erase("est_gflop");
        return runs;
    };
    if (!old->contains("runs") || runs_of((*old)["runs"]) != runs_of(plan["runs"]))
        throw InputError(fmt::format("{}: this directory holds another sweep (runs differs from the plan of this sweep "
                                     "file); use another --out, or the sweep file it was made from",
                                     p.string()));
    for (const char* key : {"steps", "minutes", "metric", "base_text"})
        if (!old->contains(key) || (*old)[key] != plan[key])
            throw InputError(fmt::format("{}: this directory holds another sweep ({} differs from the plan of this sweep "
                                         "file); use another --out, or the sweep file it was made from",
                                         p.string(), key));
}

RunState SweepDirectory::state(const std::string& id) const {
    const fs::path d = run_dir(id);
    if (fs::exists(d / "result.json")) return RunState::finished;
    if (fs::exists(d / "error.json")) return RunState::failed;
    if (fs::exists(d / "claim") && !claim_is_stale(d / "claim")) return RunState::claimed;
    return RunState::open;
}

namespace {

// Whether process `pid` of this host has ended: no such process, or a zombie that nobody reaps (a
// killed worker whose parent died first, in a container without an init that reaps orphans).
bool process_ended(int pid) {
    if (::kill(pid, 0) != 0) return errno == ESRCH;
    std::ifstream stat_file(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(stat_file, line)) return false;
    // "pid (command) state ...": the command may hold spaces and parentheses, so read past the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) return false;
    const char state = line[close + 2];
    return state == 'Z' || state == 'X';
}

}  // namespace

bool SweepDirectory::claim_is_stale(const fs::path& claim) const {
    struct stat st {};
    if (::stat(claim.c_str(), &st) != 0) return false;  // gone meanwhile: not a claim to take over
    const double age = static_cast<double>(std::time(nullptr) - st.st_mtime);
    const auto j = read_json(claim);
    if (!j) return age > 5.0;  // torn or foreign: give its writer a moment
    // Untouched for the timeout: the owner is gone or hung (or its pid was reused), wherever it ran.
    if (age > stale_seconds_) return true;
    // On this host a dead owner is known at once.
    if (j->value("host", "") == host_name()) {
        const int pid = j->value("pid", 0);
        if (pid <= 0) return true;
        return process_ended(pid);
    }
    return false;
}

std::optional<RunClaim> SweepDirectory::try_claim(const std::string& id, bool retry_failed) {
    DirLock lock(root_);
    const fs::path d = run_dir(id);
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) throw InputError(fmt::format("{}: cannot create ({})", d.string(), ec.message()));
    // The claim is looked at before the result: an owner writes result.json and then gives the claim
    // back (outside the lock), so once its claim is gone its result is there to see.
    const fs::path claim = d / "claim";
    const bool claimed = fs::exists(claim);
    if (claimed && !claim_is_stale(claim)) return std::nullopt;
    if (fs::exists(d / "result.json")) {
        if (claimed) fs::remove(claim, ec);  // its owner died between its result and its release
        return std::nullopt;
    }
    if (fs::exists(d / "error.json")) {
        if (!retry_failed) return std::nullopt;
        fs::remove(d / "error.json", ec);
    }
    bool takeover = false;
    if (claimed) {
        const auto old = read_json(claim);
        fs::remove(claim, ec);
        takeover = true;
        log_event("takeover", id, old ? json{{"from", *old}} : json::object());
    }
    const std::string token = new_token();
    const int fd = ::open(claim.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return std::nullopt;  // a process outside the lock (an older elmsim) won
        throw InputError(fmt::format("{}: cannot create the claim ({})", claim.string(), std::strerror(errno)));
    }
    const std::string body =
        json{{"host", host_name()}, {"pid", static_cast<int>(::getpid())}, {"token", token}, {"claimed_at", now_iso()}}.dump() +
        "\n";
    const bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
    ::close(fd);
    if (!ok) {
        fs::remove(claim, ec);
        throw InputError(fmt::format("{}: cannot write the claim", claim.string()));
    }
    log_event("claim", id, json{{"takeover", takeover}});
    return RunClaim(claim, token);
}

void SweepDirectory::write_result(const std::string& id, const json& result) {
    write_file_atomically(run_dir(id) / "result.json", result.dump(1) + "\n");
}

void SweepDirectory::write_error(const std::string& id, const std::string& message) {
    write_file_atomically(run_dir(id) / "error.json",
                          json{{"id", id}, {"error", message}, {"host", host_name()}, {"pid", static_cast<int>(::getpid())},
                               {"at", now_iso()}}
                                  .dump(1) +
                              "\n");
}

void SweepDirectory::rebuild_results(const std::vector<std::string>& ids) {
    DirLock lock(root_);
    std::string text;
    for (const auto& id : ids)
        if (const auto r = read_json(run_dir(id) / "result.json")) text += r->dump() + "\n";
    write_file_atomically(root_ / "results.jsonl", text);
}

void SweepDirectory::log_event(const std::string& event, const std::string& id, const json& extra) {
    json j = {{"event", event}, {"id", id}, {"host", host_name()}, {"pid", static_cast<int>(::getpid())}, {"at", now_iso()}};
    for (const auto& [k, v] : extra.items()) j[k] = v;
    const std::string line = j.dump() + "\n";
    // One write() of one line with O_APPEND: lines of several processes never interleave.
    const std::string p = (root_ / "events.jsonl").string();
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;  // the event log is informative; a run does not fail for it
    [[maybe_unused]] const ssize_t n = ::write(fd, line.data(), line.size());
    ::close(fd);
}

}  // namespace elm::science
