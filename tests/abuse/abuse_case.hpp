// The cases of the abuse suite (tests/abuse/elm_abuse.cpp) and what runs them: each case starts its
// own `elmsim serve` child, runs the healthy client alongside its attack, stops the server with
// SIGTERM and judges the server's peak memory, its exit, the healthy client's latency and exactness.
// Every case has a hard deadline after which its server is SIGKILLed and the case fails.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/abuse/healthy_client.hpp"
#include "tests/abuse/server_process.hpp"

namespace elm::abuse {

// --- Bounds (docs/reliability.md "The abuse suite") ---
// A case's hard deadline: past it the server is SIGKILLed and the case fails.
constexpr double kCaseDeadlineS = 30.0;
// SIGTERM to exit: the server's own grace (--stop-grace, default 2 s) plus room for a slow machine.
constexpr double kStopWithinS = 5.0;
// The server's peak resident memory (VmHWM). Measured (2-core VM, Release, N = 64, C = 700): idle
// 20 MB, and at most 32 MB under any case (future_events_flood, whose 0.5 MB lines of 65536 events
// are parsed into a JSON tree each); replies streamed in slices and the pending-event cap keep the
// rest near idle. Twice the highest measured peak: room for allocator arenas and a slower machine.
// The old server went over it where it buffered: 86 MB holding one request's whole replies for a
// client that did not read, 216 MB of uncapped pending events, 1 GB planning 5e11 updates.
constexpr long kRssBoundKb = 64 * 1024;
// Past this the watchdog SIGKILLs the server at once, so that no case can exhaust the machine.
constexpr long kHardRssKb = 1024 * 1024;
// The healthy client's p99 under attack may be at most max(kLatencyFloorMs, kLatencyFactor x its
// p99 idle): an order of magnitude for sharing two cores with the attackers (this machine's cores
// run the suite too), and a floor so that a sub-millisecond idle p99 does not make the bound noise.
constexpr double kLatencyFloorMs = 20.0;
constexpr double kLatencyFactor = 10.0;
// The server's default --max-updates-per-request and --max-pending-events.
constexpr long kMaxUpdatesPerRequest = 16384;
constexpr long kMaxPendingEvents = 65536;

// What every case shares, made once per run.
struct Setup {
    std::string binary;
    std::filesystem::path work;
    std::string model;                 // the served model (clock, N = 64)
    std::string token_file, token;     // for auth_token
    std::filesystem::path trace_dir;   // for trace_budget
    Reference ref;
    double latency_bound_ms = kLatencyFloorMs;  // set from the idle case
};

// A case while it runs: its server, its deadline, its verdict so far.
class CaseContext {
public:
    CaseContext(const Setup& setup, ServerProcess& server, Watchdog& dog, Clock::time_point deadline);
    const Setup& setup;
    ServerProcess& server;
    Watchdog& dog;
    const Clock::time_point deadline;
    int port = 0;

    // A reason the case fails (thread-safe); the first is the table's reason.
    void fail(const std::string& why);
    void note(const std::string& what);  // informational, printed under the table
    std::vector<std::string> failures() const;
    std::vector<std::string> notes() const;

    // The healthy client running alongside the attack (started by the runner), its stats once done.
    std::unique_ptr<HealthyRunner> healthy;
    HealthyStats healthy_stats;
    void finish_healthy();
    HealthyOptions healthy_options() const;

    // SIGTERM and the wait for exit 0 (a case may do this itself, under load); VmHWM read first.
    void stop_server();
    bool stopped() const { return stopped_; }
    long peak_rss_kb() const { return peak_kb_; }
    std::string exit_text() const { return exit_text_; }

    // A connection that has read the server's hello; throws a one-line std::runtime_error otherwise.
    LineClient connect_client(double timeout_s = 5.0);
    Clock::time_point within_s(double s) const { return within(s, deadline); }

private:
    mutable std::mutex mu_;
    std::vector<std::string> failures_, notes_;
    bool stopped_ = false;
    long peak_kb_ = -1;
    std::string exit_text_ = "-";
};

// The first line of a request's replies that is not an "update" (its reply), or why there is none.
struct Reply {
    enum class Kind { reply, closed, timeout, flood } kind = Kind::closed;
    nlohmann::json j;  // the reply (an object with "op": "<not json>" for an unparsable line)
    long updates = 0;  // update lines before it
    bool is(const char* op) const { return str("op") == op; }
    // A string field of the reply ("" when there is none).
    std::string str(const char* key) const;
    std::string text() const;  // for failure reasons: the reply, shortened, or what happened
};
Reply await_reply(LineClient& c, Clock::time_point deadline, long max_updates = std::numeric_limits<long>::max());
// Sends `line` and awaits its reply (a closed connection gives Kind::closed).
Reply request(LineClient& c, const std::string& line, Clock::time_point deadline,
              long max_updates = std::numeric_limits<long>::max());

struct CaseSpec {
    std::string name;
    std::string what;                  // one line for the docs and --list
    std::vector<std::string> flags;    // serve's flags beyond --model M --port 0
    std::optional<long> nofile;        // RLIMIT_NOFILE for the server
    bool healthy_during = true;        // the healthy client runs alongside the attack
    bool healthy_after = true;         // and one more pass on a fresh connection after it
    bool use_token = false;            // the healthy client authenticates
    std::function<void(CaseContext&)> attack;
};

struct CaseResult {
    std::string name;
    long peak_rss_kb = -1;
    std::string exit = "-";
    double p50_ms = std::numeric_limits<double>::quiet_NaN(), p99_ms = p50_ms;
    std::string exact = "-";
    bool pass = false;
    std::vector<std::string> failures, notes;
    double seconds = 0.0;
};

// The cases, in the order they run ("idle" first: it sets the latency bound).
std::vector<CaseSpec> all_cases(const Setup& setup);
CaseResult run_case(const CaseSpec& spec, Setup& setup);

// The attacks (tests/abuse/attacks_*.cpp).
void attack_idle(CaseContext& ctx);
void attack_advance_far(CaseContext& ctx);
void attack_event_tiny_grid(CaseContext& ctx);
void attack_resolution_tiny(CaseContext& ctx);
void attack_future_events_flood(CaseContext& ctx);
void attack_auth_tokenless(CaseContext& ctx);
void attack_auth_token(CaseContext& ctx);
void attack_protocol_strictness(CaseContext& ctx);
void attack_trace_budget(CaseContext& ctx);
void attack_non_reading_big_stream(CaseContext& ctx);
void attack_two_flooders(CaseContext& ctx);
void attack_fd_exhaustion(CaseContext& ctx);
void attack_slow_loris(CaseContext& ctx);
void attack_signal_under_load(CaseContext& ctx);
// bad_flags starts no server the usual way: the flags must end `serve` before it listens.
CaseResult run_bad_flags(const Setup& setup);

}  // namespace elm::abuse
