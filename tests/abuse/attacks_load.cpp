// The abuse suite's load attacks (tests/abuse/abuse_case.hpp): a client that never reads, clients
// that keep the server busy with the biggest requests allowed, file-descriptor exhaustion, slow
// loris connections, and SIGTERM in the middle of all that.
#include <algorithm>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <poll.h>

#include "tests/abuse/attack_helpers.hpp"

namespace elm::abuse {

namespace {

std::string advance_line(int session, double t_ms) {
    return fmt::format(R"({{"op":"advance","session":{},"t_ms":{}}})", session, t_ms);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

void flood(CaseContext& ctx, const std::atomic<bool>& stop, LoadStats& st) {
    try {
        LineClient c = ctx.connect_client();
        // decimate: the work is the updates, not the bytes of their lines.
        const int s = open_session(ctx, c, R"({"op":"open","decimate":1000000})");
        long step = kMaxUpdatesPerRequest;
        double t = 0.0;
        while (!stop && Clock::now() < ctx.deadline) {
            const double next = t + static_cast<double>(step) * ctx.setup.ref.dt_ms;
            const Reply r = request(c, advance_line(s, next), ctx.within_s(15.0));
            if (r.is("ok")) {
                t = next;
                ++st.requests;
            } else if (r.is("error")) {
                ++st.refused;
                step = std::max(1L, step / 2);
            } else {
                return;  // the server is gone or stuck: the case's other checks say so
            }
        }
    } catch (const std::exception&) {
        // A flooder that cannot connect does no harm; the healthy client's checks judge the server.
    }
}

void stream_without_reading(CaseContext& ctx, const std::atomic<bool>& stop, double seconds, LoadStats& st) {
    try {
        LineClient c = ctx.connect_client();
        const int s = open_session(ctx, c, R"({"op":"open","stream":["y","logits"]})");
        const auto t0 = Clock::now();
        double t = 0.0;
        std::string pending;
        while (!stop && seconds_since(t0) < seconds && Clock::now() < ctx.deadline) {
            if (pending.empty()) {
                t += static_cast<double>(kMaxUpdatesPerRequest) * ctx.setup.ref.dt_ms;
                pending = advance_line(s, t) + "\n";
                ++st.requests;
            }
            const long n = c.send_some(pending);
            if (n < 0) return;
            if (n == 0) {
                sleep_ms(20);
                continue;
            }
            pending.erase(0, static_cast<std::size_t>(n));
            st.bytes += n;
        }
    } catch (const std::exception&) {
    }
}

void attack_non_reading_big_stream(CaseContext& ctx) {
    std::atomic<bool> stop{false};
    LoadStats st;
    stream_without_reading(ctx, stop, 5.0, st);
    ctx.note(fmt::format("{} advance requests sent ({} bytes) without reading a reply", st.requests.load(),
                         st.bytes.load()));
}

void attack_two_flooders(CaseContext& ctx) {
    std::atomic<bool> stop{false};
    LoadStats a, b;
    std::thread ta([&] { flood(ctx, stop, a); }), tb([&] { flood(ctx, stop, b); });
    const auto t0 = Clock::now();
    while (seconds_since(t0) < 5.0 && Clock::now() < ctx.deadline) sleep_ms(20);
    stop = true;
    ta.join();
    tb.join();
    ctx.note(fmt::format("flooders: {} + {} requests of {} updates answered ({} + {} refused)", a.requests.load(),
                         b.requests.load(), kMaxUpdatesPerRequest, a.refused.load(), b.refused.load()));
    if (a.requests + b.requests == 0) ctx.fail("the flooders got no request answered");
}

void attack_fd_exhaustion(CaseContext& ctx) {
    // The server runs under RLIMIT_NOFILE 64 (soft and hard): about 50 sockets fit.
    constexpr int kConnections = 100;
    std::vector<LineClient> conns(kConnections);
    int started = 0;
    for (auto& c : conns) started += c.connect_nowait(ctx.port) ? 1 : 0;
    const auto t0 = Clock::now();
    while (seconds_since(t0) < 1.0 && Clock::now() < ctx.deadline) sleep_ms(20);
    int hellos = 0;
    for (auto& c : conns) {
        std::string line;
        if (c.is_open() && c.read_line(line, Clock::now()) == LineClient::Read::line) ++hellos;
        c.close();
    }
    ctx.note(fmt::format("{} connections made, {} got a hello within 1 s; all closed", started, hellos));
    sleep_ms(300);  // the healthy client's pass after the attack is the check: the acceptor still accepts
}

void attack_slow_loris(CaseContext& ctx) {
    // The server has --idle-timeout 2: a connection that sends no whole line must be closed soon
    // after that, however often it trickles a byte.
    constexpr int kConnections = 50;
    constexpr double kIdleTimeoutS = 2.0;
    constexpr double kClosedWithinS = kIdleTimeoutS + 4.0;
    std::vector<LineClient> conns(kConnections);
    for (auto& c : conns) c.connect_nowait(ctx.port);
    std::vector<double> closed_at(kConnections, -1.0);
    const auto t0 = Clock::now();
    auto next_byte = t0;
    const auto open_left = [&] { return std::count(closed_at.begin(), closed_at.end(), -1.0); };
    while (open_left() > 0 && seconds_since(t0) < kClosedWithinS + 2.0 && Clock::now() < ctx.deadline) {
        const bool send_now = Clock::now() >= next_byte;
        if (send_now) next_byte += std::chrono::milliseconds(200);
        std::vector<pollfd> fds;
        std::vector<int> which;
        for (int k = 0; k < kConnections; ++k) {
            if (closed_at[k] >= 0) continue;
            if (send_now && conns[k].send_some("{") < 0) {
                closed_at[k] = seconds_since(t0);
                continue;
            }
            fds.push_back({conns[k].fd(), POLLIN, 0});
            which.push_back(k);
        }
        ::poll(fds.data(), fds.size(), 50);
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents != 0 && conns[which[i]].wait_closed(Clock::now())) closed_at[which[i]] = seconds_since(t0);
    }
    const long late = std::count_if(closed_at.begin(), closed_at.end(), [](double t) { return t < 0 || t > kClosedWithinS; });
    const double last = *std::max_element(closed_at.begin(), closed_at.end());
    if (late > 0)
        ctx.fail(fmt::format("{} of {} slow connections not closed by the server within {} s", late, kConnections,
                             kClosedWithinS));
    else
        ctx.note(fmt::format("all {} slow connections closed by the server, the last after {:.1f} s", kConnections, last));
}

void attack_signal_under_load(CaseContext& ctx) {
    std::atomic<bool> stop{false};
    LoadStats a, b, quiet;
    std::thread ta([&] { flood(ctx, stop, a); }), tb([&] { flood(ctx, stop, b); });
    std::thread tq([&] { stream_without_reading(ctx, stop, 1e9, quiet); });
    // Load for a healthy pass (at least 2 s), then SIGTERM with the flooders and the non-reader busy.
    const auto t0 = Clock::now();
    while ((seconds_since(t0) < 2.0 || (ctx.healthy && ctx.healthy->passes() < 1 && !ctx.healthy->done())) &&
           seconds_since(t0) < 8.0 && Clock::now() < ctx.deadline)
        sleep_ms(20);
    ctx.finish_healthy();
    const long before = a.requests + b.requests;
    const auto t_stop = Clock::now();
    ctx.stop_server();
    ctx.note(fmt::format("SIGTERM after {} flood requests and {} unread ones; stopped in {:.2f} s", before,
                         quiet.requests.load(), seconds_since(t_stop)));
    stop = true;
    ta.join();
    tb.join();
    tq.join();
}

}  // namespace elm::abuse
