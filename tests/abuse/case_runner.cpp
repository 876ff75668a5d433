// Runs one case of the abuse suite (tests/abuse/abuse_case.hpp): its server, the healthy client
// alongside its attack and after it, the stop, and the verdict.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/abuse/abuse_case.hpp"

namespace elm::abuse {

using nlohmann::json;

CaseContext::CaseContext(const Setup& s, ServerProcess& p, Watchdog& d, Clock::time_point dl)
    : setup(s), server(p), dog(d), deadline(dl) {}

void CaseContext::fail(const std::string& why) {
    std::lock_guard lock(mu_);
    failures_.push_back(why);
}

void CaseContext::note(const std::string& what) {
    std::lock_guard lock(mu_);
    notes_.push_back(what);
}

std::vector<std::string> CaseContext::failures() const {
    std::lock_guard lock(mu_);
    return failures_;
}

std::vector<std::string> CaseContext::notes() const {
    std::lock_guard lock(mu_);
    return notes_;
}

HealthyOptions CaseContext::healthy_options() const {
    HealthyOptions o;
    o.port = port;
    o.deadline = deadline;
    return o;
}

void CaseContext::finish_healthy() {
    if (!healthy) return;
    healthy_stats.merge(healthy->finish());
    healthy.reset();
}

void CaseContext::stop_server() {
    if (stopped_) return;
    stopped_ = true;
    peak_kb_ = server.peak_rss_kb();
    if (const auto gone = server.poll_exit()) {
        exit_text_ = gone->text();
        if (dog.has_fired())
            fail(dog.fired());
        else if (port != 0)  // (a server that never started has its failure already)
            fail(fmt::format("the server ended by itself during the case (exit {})", exit_text_));
        return;
    }
    server.signal(SIGTERM);
    if (const auto e = server.wait_exit(kStopWithinS)) {
        exit_text_ = e->text();
        if (dog.has_fired())
            fail(dog.fired());
        else if (e->code != 0)
            fail(fmt::format("SIGTERM: exit {}, not 0", exit_text_));
        return;
    }
    server.signal(SIGKILL);
    server.wait_exit(5.0);
    exit_text_ = "KILL";
    fail(fmt::format("still running {} s after SIGTERM: SIGKILL", kStopWithinS));
}

LineClient CaseContext::connect_client(double timeout_s) {
    LineClient c;
    if (!c.connect(port, within_s(timeout_s))) throw std::runtime_error("cannot connect: " + c.error());
    std::string line;
    if (c.read_line(line, within_s(timeout_s)) != LineClient::Read::line)
        throw std::runtime_error(fmt::format("no hello in {} s", timeout_s));
    return c;
}

std::string Reply::text() const {
    switch (kind) {
    case Kind::closed: return fmt::format("the connection closed (after {} updates)", updates);
    case Kind::timeout: return fmt::format("no reply in time (after {} updates)", updates);
    case Kind::flood: return fmt::format("over {} update lines and no reply", updates - 1);
    case Kind::reply: break;
    }
    const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 150 ? s.substr(0, 150) + "..." : s;
}

std::string Reply::str(const char* key) const {
    if (kind != Kind::reply || !j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
    return j[key].get<std::string>();
}

Reply await_reply(LineClient& c, Clock::time_point deadline, long max_updates) {
    Reply r;
    std::string line;
    for (;;) {
        const auto got = c.read_line(line, deadline);
        if (got == LineClient::Read::timeout) {
            r.kind = Reply::Kind::timeout;
            return r;
        }
        if (got == LineClient::Read::closed) {
            r.kind = Reply::Kind::closed;
            return r;
        }
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) j = json{{"op", "<not json>"}, {"line", line.substr(0, 100)}};
        if (j.value("op", "") == "update") {
            if (++r.updates > max_updates) {
                r.kind = Reply::Kind::flood;
                return r;
            }
            continue;
        }
        r.kind = Reply::Kind::reply;
        r.j = std::move(j);
        return r;
    }
}

Reply request(LineClient& c, const std::string& line, Clock::time_point deadline, long max_updates) {
    if (!c.send_line(line, deadline)) return Reply{};
    return await_reply(c, deadline, max_updates);
}

namespace {

std::string short_reason(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

}  // namespace

CaseResult run_case(const CaseSpec& spec, Setup& setup) {
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kCaseDeadlineS));
    std::vector<std::string> args{"serve", "--model", setup.model, "--port", "0"};
    args.insert(args.end(), spec.flags.begin(), spec.flags.end());
    ServerProcess server(setup.binary, args, setup.work / fmt::format("serve-{}.log", spec.name), spec.nofile);
    Watchdog dog(server, deadline, kHardRssKb);
    CaseContext ctx(setup, server, dog, deadline);
    ctx.port = server.wait_port(10.0);
    if (ctx.port == 0) {
        const auto e = server.poll_exit();
        ctx.fail(fmt::format("the server did not start ({}): {}", e ? "exit " + e->text() : "no port in 10 s",
                             server.log_first_line()));
    } else {
        HealthyOptions ho = ctx.healthy_options();
        if (spec.use_token) ho.token = setup.token;
        if (spec.healthy_during) ctx.healthy = std::make_unique<HealthyRunner>(setup.ref, ho);
        try {
            spec.attack(ctx);
        } catch (const std::exception& e) {
            ctx.fail(short_reason(e.what()));
        }
        ctx.finish_healthy();
        if (!ctx.healthy_stats.error.empty()) ctx.fail("healthy client: " + ctx.healthy_stats.error);
        if (spec.healthy_after && !ctx.stopped()) {
            HealthyStats after;
            if (!healthy_pass(setup.ref, ho, after)) ctx.fail("healthy client after the attack: " + after.error);
            ctx.healthy_stats.merge(after);
        }
    }
    ctx.stop_server();
    dog.stop();

    CaseResult res;
    res.name = spec.name;
    res.exit = ctx.exit_text();
    res.peak_rss_kb = std::max(ctx.peak_rss_kb(), dog.peak_rss_kb());
    const HealthyStats& h = ctx.healthy_stats;
    res.p50_ms = h.quantile(0.5);
    res.p99_ms = h.quantile(0.99);
    if (h.samples > 0) res.exact = h.exact == h.samples ? "yes" : fmt::format("NO {}/{}", h.exact, h.samples);
    if (ctx.port != 0 && h.samples == 0) ctx.fail("the healthy client checked no sample");
    if (ctx.port != 0 && h.exact != h.samples) ctx.fail("the healthy client's results were not exact");
    if (res.peak_rss_kb > kRssBoundKb)
        ctx.fail(fmt::format("peak RSS {:.0f} MB over the bound {:.0f} MB", res.peak_rss_kb / 1024.0, kRssBoundKb / 1024.0));
    if (spec.name == "idle") {
        if (std::isfinite(res.p99_ms)) setup.latency_bound_ms = std::max(kLatencyFloorMs, kLatencyFactor * res.p99_ms);
    } else if (res.p99_ms > setup.latency_bound_ms) {
        ctx.fail(fmt::format("healthy p99 {:.1f} ms over the bound {:.1f} ms", res.p99_ms, setup.latency_bound_ms));
    }
    res.failures = ctx.failures();
    // The watchdog's SIGKILL explains the failures it caused (closed connections): it goes first.
    const auto killed = std::find(res.failures.begin(), res.failures.end(), dog.fired());
    if (dog.has_fired() && killed != res.failures.end()) std::rotate(res.failures.begin(), killed, killed + 1);
    res.notes = ctx.notes();
    res.pass = res.failures.empty();
    res.seconds = seconds_since(t0);
    return res;
}

CaseResult run_bad_flags(const Setup& setup) {
    const auto t0 = Clock::now();
    CaseResult res;
    res.name = "bad_flags";
    const std::vector<std::vector<std::string>> bad = {{"--max-line", "18446744073709551615"},
                                                       {"--token-file", "/dev/zero"}};
    std::vector<std::string> exits;
    for (std::size_t k = 0; k < bad.size(); ++k) {
        std::vector<std::string> args{"serve", "--model", setup.model, "--port", "0"};
        args.insert(args.end(), bad[k].begin(), bad[k].end());
        const std::string flags = bad[k][0] + " " + bad[k][1];
        const auto deadline = Clock::now() + std::chrono::seconds(10);  // `timeout 10`
        ServerProcess p(setup.binary, args, setup.work / fmt::format("serve-bad-flags-{}.log", k));
        Watchdog dog(p, deadline, kHardRssKb);
        std::optional<ExitInfo> e;
        bool listened = false;
        while (!(e = p.poll_exit())) {
            if (p.log_text().find("on 127.0.0.1:") != std::string::npos) {
                listened = true;
                p.signal(SIGKILL);
                e = p.wait_exit(5.0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        dog.stop();
        res.peak_rss_kb = std::max(res.peak_rss_kb, dog.peak_rss_kb());
        exits.push_back(e ? e->text() : "?");
        const std::string log = p.log_text();
        if (listened)
            res.failures.push_back(fmt::format("{}: the server started", flags));
        else if (dog.has_fired())
            res.failures.push_back(fmt::format("{}: {}", flags, dog.fired()));
        else if (!e || e->code != 2)
            res.failures.push_back(fmt::format("{}: exit {}, not 2", flags, exits.back()));
        else if (std::count(log.begin(), log.end(), '\n') != 1)
            res.failures.push_back(fmt::format("{}: {} lines of output, not one", flags, std::count(log.begin(), log.end(), '\n')));
        res.notes.push_back(fmt::format("{}: {}", flags, p.log_first_line()));
    }
    res.exit = exits.empty() ? "-" : fmt::format("{}", fmt::join(exits, "/"));
    if (res.peak_rss_kb > kRssBoundKb)
        res.failures.push_back(fmt::format("peak RSS {:.0f} MB over the bound {:.0f} MB", res.peak_rss_kb / 1024.0,
                                           kRssBoundKb / 1024.0));
    res.pass = res.failures.empty();
    res.seconds = seconds_since(t0);
    return res;
}

}  // namespace elm::abuse
