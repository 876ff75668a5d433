// The table of the abuse suite's cases: one row per case, its server flags and its attack
// (tests/abuse/attacks_*.cpp). "idle" runs first: its healthy p99 sets the latency bound.
#include "tests/abuse/abuse_case.hpp"

namespace elm::abuse {

std::vector<CaseSpec> all_cases(const Setup& s) {
    std::vector<CaseSpec> c;
    const auto add = [&c](std::string name, std::string what, std::function<void(CaseContext&)> attack) -> CaseSpec& {
        CaseSpec spec;
        spec.name = std::move(name);
        spec.what = std::move(what);
        spec.attack = std::move(attack);
        c.push_back(std::move(spec));
        return c.back();
    };
    add("idle", "no attack: the healthy client's reference p50 / p99", attack_idle);
    add("advance_far", "advance to 1e12 ms: refused, naming --max-updates-per-request (16384)", attack_advance_far);
    add("event_tiny_grid", "event session on a 1e-9 ms grid, advance to 1 ms: refused at open or advance",
        attack_event_tiny_grid);
    add("resolution_1e-300", "open with resolution_ms 1e-300: refused at open", attack_resolution_tiny);
    add("future_events_flood", "lines of 65536 events at 1e12 ms: refused past --max-pending-events",
        attack_future_events_flood);
    add("non_reading_big_stream", "stream y and logits of the biggest advances, never read, 5 s: memory bounded",
        attack_non_reading_big_stream);
    add("two_flooders", "two clients advance by the biggest step for 5 s: healthy p99 within the bound",
        attack_two_flooders);
    add("fd_exhaustion", "RLIMIT_NOFILE 64, 100 connections held 1 s: the server still accepts after",
        attack_fd_exhaustion)
        .nofile = 64;
    auto& fd = c.back();
    fd.healthy_during = false;  // only after: during it, no new connection can be accepted
    add("slow_loris", "50 connections trickling a byte per 200 ms, --idle-timeout 2: closed within 6 s",
        attack_slow_loris)
        .flags = {"--idle-timeout", "2"};
    add("signal_under_load", "flooders and a non-reader, then SIGTERM: exit 0 within 5 s", attack_signal_under_load)
        .healthy_after = false;
    add("auth_tokenless", "auth on a server without a token: refused, the session goes on", attack_auth_tokenless);
    auto& tok = add("auth_token", "--token-file, 5 wrong tokens: closed after at most 3", attack_auth_token);
    tok.flags = {"--token-file", s.token_file};
    tok.use_token = true;
    add("protocol_strictness", "a NUL byte in a line; a duplicate \"op\": errors, no session",
        attack_protocol_strictness);
    add("trace_budget", "--max-traces 4, 6 traced sessions: 5th and 6th refused without the server's path",
        attack_trace_budget)
        .flags = {"--trace-dir", s.trace_dir.string(), "--max-traces", "4"};
    return c;
}

}  // namespace elm::abuse
