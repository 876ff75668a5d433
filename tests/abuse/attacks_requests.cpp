// The abuse suite's attacks by single requests (tests/abuse/abuse_case.hpp): requests that ask for
// unbounded work or memory, auth abuse, malformed lines, and the trace budget. Each one-line failure
// says what the server did instead of what it should.
#include <thread>

#include <fmt/format.h>

#include "tests/abuse/abuse_case.hpp"
#include "tests/abuse/attack_helpers.hpp"

namespace elm::abuse {

using nlohmann::json;

int open_session(CaseContext& ctx, LineClient& c, const std::string& open_line) {
    const Reply r = request(c, open_line, ctx.within_s(5.0));
    if (!r.is("opened")) throw std::runtime_error(fmt::format("{}: {}", open_line, r.text()));
    return r.j.value("session", 0);
}

void require_still_serves(CaseContext& ctx, LineClient& c, int session) {
    const Reply r = request(c, fmt::format(R"({{"op":"read","session":{}}})", session), ctx.within_s(5.0));
    if (!r.is("state")) ctx.fail("afterwards, \"read\" on the session: " + r.text());
}

void attack_idle(CaseContext& ctx) {
    // No attack: at least 2 s and 5 passes (about 600 requests), so that the p99 is not one request.
    const auto t0 = Clock::now();
    const auto until = ctx.within_s(10.0);
    while (ctx.healthy && (ctx.healthy->passes() < 5 || seconds_since(t0) < 2.0) && !ctx.healthy->done() &&
           Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void attack_advance_far(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    const int s = open_session(ctx, c, R"({"op":"open"})");
    const Reply r = request(c, fmt::format(R"({{"op":"advance","session":{},"t_ms":1e12}})", s), ctx.within_s(10.0),
                            kMaxUpdatesPerRequest);
    if (!r.is("error")) throw std::runtime_error("advance to 1e12 ms: " + r.text());
    const std::string e = r.str("error");
    if (e.find(std::to_string(kMaxUpdatesPerRequest)) == std::string::npos)
        ctx.fail("the refusal does not name the limit " + std::to_string(kMaxUpdatesPerRequest) + ": " + r.text());
    ctx.note("refused: " + e);
    require_still_serves(ctx, c, s);
}

void attack_event_tiny_grid(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    const Reply o = request(c, R"({"op":"open","mode":"event","resolution_ms":1e-9,"max_dt_ms":1e-9})", ctx.within_s(5.0));
    if (o.is("error")) {
        ctx.note("refused at open: " + o.str("error"));
        require_still_serves(ctx, c, open_session(ctx, c, R"({"op":"open"})"));
        return;
    }
    if (!o.is("opened")) throw std::runtime_error("open on a 1e-9 ms grid: " + o.text());
    const int s = o.j.value("session", 0);
    const Reply r = request(c, fmt::format(R"({{"op":"advance","session":{},"t_ms":1}})", s), ctx.within_s(10.0),
                            kMaxUpdatesPerRequest);
    if (!r.is("error")) throw std::runtime_error("opened; advance to 1 ms on a 1e-9 ms grid: " + r.text());
    ctx.note("refused at advance: " + r.str("error"));
    require_still_serves(ctx, c, s);
}

void attack_resolution_tiny(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    const Reply o = request(c, R"({"op":"open","mode":"event","resolution_ms":1e-300})", ctx.within_s(5.0));
    if (o.is("error")) {
        ctx.note("refused: " + o.str("error"));
        require_still_serves(ctx, c, open_session(ctx, c, R"({"op":"open"})"));
        return;
    }
    ctx.fail("open with resolution_ms 1e-300: " + o.text());
    if (!o.is("opened")) return;
    const Reply r = request(c, fmt::format(R"({{"op":"advance","session":{},"t_ms":1}})", o.j.value("session", 0)),
                            ctx.within_s(5.0), kMaxUpdatesPerRequest);
    ctx.note("then advance to 1 ms: " + r.text());
}

void attack_future_events_flood(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    const int s = open_session(ctx, c, R"({"op":"open"})");
    // 65536 events (a message's limit) at 1e12 ms: pending until then, ~0.8 MB each on the server.
    std::string line = fmt::format(R"({{"op":"events","session":{},"t_ms":[)", s);
    for (long k = 0; k < 65536; ++k) line += k ? ",1e12" : "1e12";
    line += R"(],"channels":[)";
    for (long k = 0; k < 65536; ++k) line += k ? ",0" : "0";
    line += "]}";
    const auto t0 = Clock::now();
    long oks = 0, errors = 0;
    std::string first_error;
    for (int k = 0; k < 200 && seconds_since(t0) < 10.0; ++k) {
        const Reply r = request(c, line, ctx.within_s(10.0));
        if (r.is("ok")) {
            ++oks;
        } else if (r.is("error")) {
            if (errors++ == 0) first_error = r.str("error");
        } else {
            throw std::runtime_error(fmt::format("events line {} (after {} accepted): {}", k, oks, r.text()));
        }
    }
    ctx.note(fmt::format("{} lines accepted, {} refused in {:.1f} s; first refusal: {}", oks, errors, seconds_since(t0),
                         first_error));
    if (errors == 0)
        ctx.fail(fmt::format("{} lines of 65536 future events all accepted ({} events pending)", oks, oks * 65536));
    else if (oks * 65536 > 2 * kMaxPendingEvents)
        ctx.fail(fmt::format("{} events accepted before the first refusal", oks * 65536));
    require_still_serves(ctx, c, s);
}

void attack_auth_tokenless(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    const int s = open_session(ctx, c, R"({"op":"open"})");
    const Reply a = request(c, R"({"op":"auth","token":"x"})", ctx.within_s(5.0));
    if (!a.is("error")) ctx.fail("auth on a tokenless server: " + a.text());
    const Reply r = request(c, fmt::format(R"({{"op":"advance","session":{},"t_ms":100}})", s), ctx.within_s(5.0));
    if (!r.is("ok")) ctx.fail("the session after a refused auth: " + r.text());
}

void attack_auth_token(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    // Up to the new rule's 3 failures the server answers; after them it closes the connection.
    constexpr int kAllowedFailures = 3;
    int refused = 0;
    bool closed = false;
    for (int k = 0; k < 5 && !closed; ++k) {
        if (!c.send_line(R"({"op":"auth","token":"wrong"})", ctx.within_s(5.0))) {
            closed = true;
            break;
        }
        const Reply r = await_reply(c, ctx.within_s(5.0));
        if (r.is("error"))
            ++refused;
        else if (r.kind == Reply::Kind::closed)
            closed = true;
        else
            throw std::runtime_error(fmt::format("wrong token {}: {}", k + 1, r.text()));
    }
    if (!closed) closed = c.wait_closed(ctx.within_s(2.0));
    if (!closed)
        ctx.fail(fmt::format("{} wrong tokens refused and the connection still open", refused));
    else if (refused > kAllowedFailures)
        ctx.fail(fmt::format("the connection closed only after {} wrong tokens", refused));
    else
        ctx.note(fmt::format("closed after {} wrong tokens", refused));
}

void attack_protocol_strictness(CaseContext& ctx) {
    {  // A NUL byte inside the line: malformed, answered, and the connection closed.
        LineClient c = ctx.connect_client();
        using namespace std::string_literals;
        const Reply r = request(c, "{\"op\":\"open\"}\0{\"op\":\"open\"}"s, ctx.within_s(5.0));
        if (!r.is("error")) ctx.fail("a line with a NUL byte: " + r.text());
        std::string line;
        for (;;) {
            const auto got = c.read_line(line, ctx.within_s(2.0));
            if (got == LineClient::Read::closed) break;
            if (got == LineClient::Read::timeout) {
                ctx.fail("a line with a NUL byte: the connection not closed after it");
                break;
            }
            if (line.find("\"opened\"") != std::string::npos) ctx.fail("a line with a NUL byte opened a session");
        }
    }
    {  // A key given twice: an error naming it, and no session.
        LineClient c = ctx.connect_client();
        const Reply r = request(c, R"({"op":"open","op":"open"})", ctx.within_s(5.0));
        const std::string e = r.str("error");
        if (!r.is("error"))
            ctx.fail("a duplicate \"op\": " + r.text());
        else if (r.str("field") != "op" && e.find("\"op\"") == std::string::npos &&
                 e.find("'op'") == std::string::npos && e.find("`op`") == std::string::npos)
            ctx.fail("a duplicate \"op\": the error does not name the key: " + r.text());
        const Reply q = request(c, R"({"op":"read","session":1})", ctx.within_s(5.0));
        if (q.kind == Reply::Kind::reply && !q.is("error")) ctx.fail("after a duplicate \"op\", session 1 exists: " + q.text());
    }
}

void attack_trace_budget(CaseContext& ctx) {
    LineClient c = ctx.connect_client();
    constexpr int kMaxTraces = 4;  // the case's --max-traces
    const std::string dir = ctx.setup.trace_dir.string();
    std::vector<int> opened;
    for (int k = 0; k < kMaxTraces + 2; ++k) {
        const Reply r = request(c, R"({"op":"open","trace":true})", ctx.within_s(5.0));
        if (k < kMaxTraces) {
            if (!r.is("opened")) throw std::runtime_error(fmt::format("trace {} of {}: {}", k + 1, kMaxTraces, r.text()));
            opened.push_back(r.j.value("session", 0));
        } else if (!r.is("error")) {
            ctx.fail(fmt::format("trace {} over the budget of {}: {}", k + 1, kMaxTraces, r.text()));
            if (r.is("opened")) opened.push_back(r.j.value("session", 0));
        } else if (const std::string all = r.j.dump(-1, ' ', false, json::error_handler_t::replace);
                   all.find(dir) != std::string::npos || all.find(ctx.setup.work.string()) != std::string::npos) {
            ctx.fail("the refusal names the server's directory: " + r.text());
        } else if (k == kMaxTraces) {
            ctx.note("refused: " + r.str("error"));
        }
    }
    for (const int s : opened) request(c, fmt::format(R"({{"op":"close","session":{}}})", s), ctx.within_s(5.0));
}

}  // namespace elm::abuse
