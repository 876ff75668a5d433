// A sweep directory shared by any number of processes, on one machine or many over a shared file
// system (spec science.md section 1):
//   DIR/sweep.json            the plan (written by the first process, checked by every later one)
//   DIR/runs/<id>/claim       who runs <id>: created exclusively (O_EXCL) with host, pid and a token,
//                             touched by its owner while the run lasts (heartbeat)
//   DIR/runs/<id>/result.json the finished run (written atomically: the run is finished iff it exists)
//   DIR/runs/<id>/error.json  a failed run and its error
//   DIR/results.jsonl         one line per finished run, in plan order: rebuilt from the result.json
//                             files under the lock and renamed into place, never torn
//   DIR/events.jsonl          claim / takeover / resume / finish / fail events, one line each
//   DIR/lock                  a lock file (O_EXCL, sim/science/lock_file.hpp) held around every
//                             decision that reads and writes claims; flock() is local to one machine
//                             on some shared file systems
// A claim is stale — and taken over — when it has not been touched for stale_minutes (its owner died
// on another machine, lost the disk, hangs, or its pid was reused), or at once when its owner is on
// this host and its pid is gone (or a zombie nobody reaps, in a container without an init). The host
// is gethostname(), or $ELMSIM_SWEEP_HOST where machines share a name (containers). An owner whose
// claim was taken over discards its result.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace elm::science {

enum class RunState { open, finished, failed, claimed };

class RunClaim {
public:
    RunClaim(std::filesystem::path path, std::string token) : path_(std::move(path)), token_(std::move(token)) {}
    const std::filesystem::path& path() const { return path_; }
    void touch() const;               // heartbeat: refresh the claim's modification time
    bool still_ours() const;          // false when another process took it over
    void release() const;             // remove the claim (only if still ours)

private:
    std::filesystem::path path_;
    std::string token_;
};

class SweepDirectory {
public:
    // Creates DIR and DIR/runs when missing; InputError when DIR is a file or not writable.
    SweepDirectory(const std::string& root, double stale_minutes);

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path run_dir(const std::string& id) const { return root_ / "runs" / id; }

    // Writes sweep.json, or checks that an existing one holds the same plan (runs, steps, metric,
    // base config): InputError naming the first difference otherwise.
    void adopt_plan(const nlohmann::json& plan);

    RunState state(const std::string& id) const;
    // Claims <id> when nobody holds it (or its claim is stale): nullopt when it is finished, failed
    // (unless retry_failed: the error is then cleared) or claimed by a live owner.
    std::optional<RunClaim> try_claim(const std::string& id, bool retry_failed);

    void write_result(const std::string& id, const nlohmann::json& result);
    void write_error(const std::string& id, const std::string& message);
    // results.jsonl from every result.json of `ids` (plan order), atomically.
    void rebuild_results(const std::vector<std::string>& ids);
    void log_event(const std::string& event, const std::string& id, const nlohmann::json& extra = nlohmann::json::object());

    static std::string host_name();

private:
    bool claim_is_stale(const std::filesystem::path& claim) const;

    std::filesystem::path root_;
    double stale_seconds_;
};

// Writes text to path through path.tmp + rename (never a torn file).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);  // InputError when unreadable

}  // namespace elm::science
