// `elmsim serve`'s transport (sim/serve/server.hpp) on 127.0.0.1, bounded in time: the hello line;
// 200 sessions over 50 simultaneous connections, each getting exactly its own outputs (those of a
// sim::Session fed the same events in-process); garbage and an over-long line close only their own
// connection; an idle connection is closed after the timeout; stop() tells every client and ends run();
// a client that never reads is backpressure (bounded buffers and memory); clients that vanish
// mid-session leave no connection behind (and, in the asan preset, no leak).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/serve/server.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/session_models.hpp"

#include <unistd.h>

using namespace elm;
using nlohmann::json;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

models::ModelConfig served_config() {
    auto cfg = test::session_config(models::OutputMode::spike);
    cfg.N = 12;
    cfg.C = 20;
    return cfg;
}

// A running server on a free port, stopped and joined at the end of the scope.
struct Running {
    std::unique_ptr<sim::Backend> backend;
    std::unique_ptr<serve::Server> server;
    std::thread thread;
    Running(const models::ModelConfig& cfg, serve::ServerOptions o) {
        backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
        serve::ProtocolLimits l;
        l.channels = cfg.C;
        l.neurons = cfg.N;
        o.port = 0;
        server = std::make_unique<serve::Server>(*backend, serve::ServedModel{}, l, o);
        thread = std::thread([this] { server->run(); });
    }
    ~Running() {
        server->stop();
        thread.join();
    }
};

// A blocking line client.
struct Client {
    asio::io_context io;
    tcp::socket socket{io};
    std::string buf;
    explicit Client(std::uint16_t port) { socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)); }
    void send(const std::string& line) { asio::write(socket, asio::buffer(line + "\n")); }
    // The next line, or "" at the end of the stream.
    std::string line() {
        boost::system::error_code ec;
        const std::size_t n = asio::read_until(socket, asio::dynamic_buffer(buf), '\n', ec);
        if (ec) return {};
        std::string l = buf.substr(0, n - 1);
        buf.erase(0, n);
        return l;
    }
    json reply() { return json::parse(line()); }
    // Replies up to and including the first one whose op is not "update".
    json until_reply() {
        for (;;) {
            json j = reply();
            if (j["op"] != "update") return j;
        }
    }
};

}  // namespace

TEST_CASE("server: 200 sessions over 50 connections at once, each gets exactly its own outputs", "[serve][server]") {
    const auto cfg = served_config();
    serve::ServerOptions o;
    o.threads = 4;
    Running srv(cfg, o);
    const auto port = srv.server->port();
    constexpr int kConnections = 50, kSessions = 4;
    // What each session must end with: an in-process Session on the same backend.
    const auto events_of = [&](int conn, int s) {
        Rng rng(static_cast<std::uint64_t>(1000 * conn + s), 3);
        std::vector<double> t;
        std::vector<std::int32_t> c;
        for (int k = 0; k < 20; ++k) t.push_back(rng.uniform(0.0, 30.0));
        std::sort(t.begin(), t.end());
        for (int k = 0; k < 20; ++k) c.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.C))));
        return std::pair{t, c};
    };
    std::vector<std::string> failures(kConnections);
    std::vector<std::thread> clients;
    for (int conn = 0; conn < kConnections; ++conn)
        clients.emplace_back([&, conn] {
            try {
                Client c(port);
                if (json::parse(c.line())["op"] != "hello") throw std::runtime_error("no hello");
                std::vector<int> ids;
                for (int s = 0; s < kSessions; ++s) {
                    c.send(R"({"op":"open","mode":"event","resolution_ms":0.5})");
                    ids.push_back(c.reply()["session"]);
                }
                for (int s = 0; s < kSessions; ++s) {  // interleaved: the sessions' events alternate
                    const auto [t, ch] = events_of(conn, s);
                    c.send(json({{"op", "events"}, {"session", ids[s]}, {"t_ms", t}, {"channels", ch}}).dump());
                    if (c.until_reply()["op"] != "ok") throw std::runtime_error("events refused");
                }
                for (int s = 0; s < kSessions; ++s) {
                    c.send(fmt::format(R"({{"op":"finish","session":{},"t_ms":31}})", ids[s]));
                    c.until_reply();
                    c.send(fmt::format(R"({{"op":"read","session":{}}})", ids[s]));
                    const json st = c.reply();
                    sim::SessionOptions so;
                    so.event_mode = true;
                    so.resolution_ms = 0.5;
                    sim::Session ref(*srv.backend, so);
                    const auto [t, ch] = events_of(conn, s);
                    ref.push_events(t, ch);
                    ref.finish(31.0);
                    const std::vector<float> want(ref.logits(), ref.logits() + cfg.n_out);
                    if (st["logits"].get<std::vector<float>>() != want || st["updates"] != ref.updates())
                        throw std::runtime_error(fmt::format("session {} got another session's outputs", s));
                }
            } catch (const std::exception& e) {
                failures[conn] = e.what();
            }
        });
    for (auto& t : clients) t.join();
    for (int conn = 0; conn < kConnections; ++conn) {
        INFO("connection " << conn);
        CHECK(failures[conn].empty());
    }
}

TEST_CASE("server: garbage and an over-long line close only their own connection", "[serve][server]") {
    serve::ServerOptions o;
    o.max_line_bytes = 1024;
    Running srv(served_config(), o);
    Client good(srv.server->port()), garbage(srv.server->port()), longline(srv.server->port());
    for (Client* c : {&good, &garbage, &longline}) CHECK(json::parse(c->line())["op"] == "hello");
    good.send(R"({"op":"open"})");
    const int s = good.reply()["session"];
    garbage.send(std::string("\x01\x02 not json \xff"));
    CHECK(garbage.reply()["op"] == "error");
    CHECK(garbage.line().empty());  // closed
    longline.send(std::string(5000, 'x'));
    const json e = longline.reply();
    CHECK(e["op"] == "error");
    CHECK(e["error"].get<std::string>().find("over 1024 bytes") != std::string::npos);
    CHECK(longline.line().empty());
    good.send(fmt::format(R"({{"op":"read","session":{}}})", s));
    CHECK(good.reply()["op"] == "state");
}

TEST_CASE("server: an idle connection is closed after the timeout, stop() tells the clients", "[serve][server]") {
    serve::ServerOptions o;
    o.idle_timeout_s = 0.3;
    auto srv = std::make_unique<Running>(served_config(), o);
    Client idle(srv->server->port());
    CHECK(json::parse(idle.line())["op"] == "hello");
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(idle.line().empty());  // closed by the server, not by us
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(waited >= 0.25);
    CHECK(waited < 5.0);
    serve::ServerOptions o2;
    Running srv2(served_config(), o2);
    Client a(srv2.server->port());
    CHECK(json::parse(a.line())["op"] == "hello");
    srv2.server->stop();
    CHECK(a.reply()["op"] == "shutdown");
    CHECK(a.line().empty());
}

TEST_CASE("server: a connection over the limit gets one error line", "[serve][server]") {
    serve::ServerOptions o;
    o.max_connections = 1;
    Running srv(served_config(), o);
    Client first(srv.server->port());
    CHECK(json::parse(first.line())["op"] == "hello");
    Client second(srv.server->port());
    const json e = second.reply();
    CHECK(e["op"] == "error");
    CHECK(second.line().empty());
}

namespace {

// Resident memory of this process (the server runs in it), bytes.
std::size_t resident_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// Events requests of `n` events each, times rising from request to request (ms).
std::string events_line(int session, int request, int n, int C) {
    std::vector<double> t;
    std::vector<std::int32_t> c;
    for (int k = 0; k < n; ++k) {
        t.push_back(request * 50.0 + k * (50.0 / n));
        c.push_back(k % C);
    }
    return json({{"op", "events"}, {"session", session}, {"t_ms", t}, {"channels", c}}).dump() + "\n" +
           fmt::format(R"({{"op":"advance","session":{},"t_ms":{}}})", session, (request + 1) * 50.0) + "\n";
}

}  // namespace

TEST_CASE("server: a reader that never reads is backpressure, not memory", "[serve][server]") {
    const auto cfg = served_config();
    for (const int rows : {64, 0}) {  // micro-batched or not
        INFO("batch rows " << rows);
        serve::ServerOptions o;
        o.max_line_bytes = 1 << 16;
        o.batch_rows = rows;
        o.idle_timeout_s = 30;  // a hang fails in seconds, not minutes
        Running srv(cfg, o);
        Client slow(srv.server->port());
        CHECK(json::parse(slow.line())["op"] == "hello");
        // Every update streams y of every neuron and the logits: ~100 KiB of replies per request.
        slow.send(R"({"op":"open","mode":"event","resolution_ms":0.05,"stream":["y","logits","prediction"]})");
        const int s = slow.reply()["session"];
        const std::size_t rss0 = resident_bytes();
        // Write requests without reading a byte back, until the server stops taking them (the
        // socket's buffers full) for a whole second, or 64 MiB have gone.
        slow.socket.non_blocking(true);
        std::size_t sent = 0;
        int request = 0;
        std::string pending;
        auto blocked_since = std::chrono::steady_clock::now();
        bool blocked = false;
        while (sent < (std::size_t{64} << 20)) {
            if (pending.empty()) pending = events_line(s, request++, 200, cfg.C);
            boost::system::error_code ec;
            const std::size_t n = slow.socket.write_some(asio::buffer(pending), ec);
            if (ec == asio::error::would_block) {
                if (!blocked) blocked_since = std::chrono::steady_clock::now();
                blocked = true;
                if (std::chrono::steady_clock::now() - blocked_since > std::chrono::seconds(1)) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                continue;
            }
            REQUIRE(!ec);
            blocked = false;
            pending.erase(0, n);
            sent += n;
        }
        INFO("sent " << sent << " bytes in " << request << " requests");
        CHECK(sent < (std::size_t{64} << 20));  // the server stopped reading: backpressure
        // What the server holds for this connection: its line buffer and one request's replies.
        CHECK(srv.server->buffered_bytes() < (std::size_t{4} << 20));
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer holds freed memory in quarantine: RSS says nothing there
        CHECK(resident_bytes() < rss0 + (std::size_t{64} << 20));
#else
        (void)rss0;
#endif
        // Reading again, the connection carries on: every request is answered, in order (the rest
        // of the last request goes out meanwhile).
        slow.socket.non_blocking(false);
        boost::system::error_code ec;
        std::thread rest([&] { asio::write(slow.socket, asio::buffer(pending), ec); });
        int oks = 0;
        bool errors = false;
        while (oks < 2 * request) {
            const json j = slow.reply();
            errors = errors || j["op"] == "error";
            if (j["op"] == "ok") ++oks;
        }
        rest.join();
        CHECK_FALSE(errors);
        CHECK(!ec);
        slow.send(fmt::format(R"({{"op":"read","session":{}}})", s));
        CHECK(slow.reply()["t_ms"] == request * 50.0);
    }
}

TEST_CASE("server: clients that vanish mid-session leave nothing behind", "[serve][server]") {
    const auto cfg = served_config();
    serve::ServerOptions o;
    o.threads = 2;
    Running srv(cfg, o);
    for (int round = 0; round < 20; ++round) {
        // Sessions opened, events pushed, work in flight (a batch may be running), then the socket
        // closed without a word: with the replies unread, mid-request, or mid-line.
        Client c(srv.server->port());
        CHECK(json::parse(c.line())["op"] == "hello");
        c.send(R"({"op":"open","mode":"event","stream":["y"]})");
        const int s = c.reply()["session"];
        c.send(R"({"op":"open"})");
        c.reply();
        std::string burst;
        for (int r = 0; r < 5; ++r) burst += events_line(s, r, 300, cfg.C);
        if (round % 3 == 1) burst += R"({"op":"events","session":)";  // a line cut short
        asio::write(c.socket, asio::buffer(burst));
        if (round % 3 == 2) c.line();  // one reply read
        boost::system::error_code ignored;
        c.socket.close(ignored);
    }
    // The server closes them all and still serves.
    for (int k = 0; k < 200 && srv.server->connections() > 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    CHECK(srv.server->connections() == 0);
    CHECK(srv.server->buffered_bytes() == 0);
    Client after(srv.server->port());
    CHECK(json::parse(after.line())["op"] == "hello");
    after.send(R"({"op":"open"})");
    CHECK(after.reply()["op"] == "opened");
}

TEST_CASE("server: stop() ends run() within its grace while a client reads nothing of a long request",
          "[serve][server]") {
    const auto cfg = served_config();
    for (const int rows : {64, 0}) {  // micro-batched or not
        INFO("batch rows " << rows);
        auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
        serve::ProtocolLimits l;
        l.channels = cfg.C;
        l.neurons = cfg.N;
        l.max_updates_per_request = 1000000;
        serve::ServerOptions o;
        o.port = 0;
        o.batch_rows = rows;
        o.idle_timeout_s = 300;  // the old stop waited this long for a client that does not read
        o.stop_grace_s = 0.5;
        serve::Server server(*backend, serve::ServedModel{}, l, o);
        std::atomic<bool> ended{false};
        std::thread run([&] {
            server.run();
            ended = true;
        });
        Client slow(server.port());
        CHECK(json::parse(slow.line())["op"] == "hello");
        slow.send(R"({"op":"open","stream":["y","logits"]})");
        const int s = slow.reply()["session"];
        // 500 000 updates of ~400 bytes each: far more than the socket buffers hold. Not read.
        slow.send(fmt::format(R"({{"op":"advance","session":{},"t_ms":1e6}})", s));
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        // Only a slice's replies sit in the server, however long the request.
        CHECK(server.buffered_bytes() < (std::size_t{2} << 20));
        const auto t0 = std::chrono::steady_clock::now();
        server.stop();
        while (!ended && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        CHECK(ended);
        CHECK(took < 2.0);  // the grace (0.5 s) and a slice, not the idle timeout
        CHECK(server.stop_requested());
        boost::system::error_code ignored;
        slow.socket.close(ignored);  // lets run() end even if the check above failed
        run.join();
    }
}
