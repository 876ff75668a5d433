#include "elmsim/sim/serve/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/serve/batch_queue.hpp"
#include "elmsim/sim/serve/trace_directory.hpp"

namespace elm::serve {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Connection;

// What every connection shares: the backend (without batching its steppers are per session; the
// backend itself is only read, and the cpu backend with one thread runs inline), the batcher and its
// thread, the model, the limits, the live set.
struct Shared {
    Shared(asio::io_context& i, sim::Backend& b, ServedModel m, ProtocolLimits l, ServerOptions o)
        : io(i), backend(b), model(std::move(m)), limits(l), options(std::move(o)) {}
    asio::io_context& io;
    sim::Backend& backend;
    ServedModel model;
    ProtocolLimits limits;
    ServerOptions options;
    std::unique_ptr<sim::StreamBatcher> batcher;  // null without micro-batching
    std::unique_ptr<BatchQueue> queue;
    std::unique_ptr<TraceDirectory> traces;       // null without --trace-dir
    std::mutex mu;
    std::set<std::shared_ptr<Connection>> live;
    std::atomic<bool> stopping{false};
    // stop()'s grace for the clients, then every connection still open is closed; on a strand of its
    // own, since it is armed by stop() and cancelled by the last connection to close.
    std::unique_ptr<asio::steady_timer> grace;
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(tcp::socket socket, Shared& shared)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(shared),
          table_(shared.backend, shared.model, shared.limits, shared.options.max_sessions_per_connection,
                 shared.options.token, shared.batcher.get(), shared.traces.get()) {}

    // start() on the connection's own strand, where every other handler of it runs.
    void start_on_strand() {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->start(); });
    }

    void start() {
        // Replies are small and come in bursts (an "ok", then the next request's updates): without
        // TCP_NODELAY, Nagle's algorithm holds each burst back until the client's delayed ACK.
        boost::system::error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);
        out_.push_back(table_.hello() + "\n");
        write_then_read();
    }

    // Bytes of its buffers at the last write (from any thread).
    std::size_t buffered() const { return buffered_.load(std::memory_order_relaxed); }

    // Tells the client and closes once that is written; from any thread.
    void shutdown() {
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            if (self->closed_) return;
            self->closing_ = true;
            self->out_.push_back("{\"op\":\"shutdown\",\"reason\":\"the server is stopping\"}\n");
            if (!self->writing_ && !self->running_) self->write_then_read();  // else once that is done
        });
    }

    // Closes now, whatever is being written or run (the end of stop()'s grace); from any thread.
    void force_close() {
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
    }

private:
    void arm_timer() {
        // A closing connection (shutdown, a fatal line) gets a short grace for its last lines: a client
        // that does not read them cannot hold the server's stop for a whole idle timeout.
        const double grace = shared_.stopping ? shared_.options.stop_grace_s : 2.0;
        const double s = closing_ ? std::min(grace, shared_.options.idle_timeout_s) : shared_.options.idle_timeout_s;
        timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s)));
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->close();  // idle: silent for the whole timeout
        });
    }

    void read_line() {
        arm_timer();
        asio::async_read_until(socket_, asio::dynamic_buffer(in_, shared_.options.max_line_bytes + 1), '\n',
                               [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                   self->on_line(ec, n);
                               });
    }

    void on_line(const boost::system::error_code& ec, std::size_t n) {
        // Closing (stop() came while this read was pending): the line is not run; the write of the
        // last lines, under way, closes the connection (and its timer must stay armed).
        if (closed_ || closing_) return;
        timer_.cancel();
        if (ec == asio::error::not_found || (!ec && n > shared_.options.max_line_bytes + 1)) {
            out_.push_back(error_reply("", "", fmt::format("a line over {} bytes: closing the connection",
                                                           shared_.options.max_line_bytes)) + "\n");
            closing_ = true;
            write_then_read();
            return;
        }
        if (ec) {
            close();
            return;
        }
        std::string_view line(in_.data(), n - 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::vector<std::string> replies;
        bool keep = true;
        if (!line.empty()) keep = table_.handle(line, replies);
        in_.erase(0, n);
        for (auto& r : replies) out_.push_back(std::move(r) + "\n");
        if (!keep) closing_ = true;
        write_then_read();  // then the request's updates, slice by slice, if it planned any
    }

    // One slice of the awaiting request's updates: on the batch thread with other connections'
    // sessions, or (no micro-batching) posted to this connection's strand, behind whatever other
    // connections have queued. This connection reads nothing until the whole request is written.
    void run_slice() {
        running_ = true;
        if (shared_.queue) {
            shared_.queue->submit(table_.awaiting(), [self = shared_from_this(), work = asio::make_work_guard(shared_.io)](
                                                         const std::string& error) {
                asio::post(self->socket_.get_executor(), [self, error] { self->on_slice_done(error); });
            });
            return;
        }
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            std::string error;
            try {
                self->table_.run_slice(self->shared_.options.slice_updates);
            } catch (const std::exception& e) {  // the reason stays in the server's log (it may name files)
                std::fprintf(stderr, "elmsim serve: a request's updates failed: %s\n", e.what());
                error = "the request failed inside the server (its log says why)";
            }
            self->on_slice_done(error);
        });
    }

    void on_slice_done(const std::string& error) {
        running_ = false;
        if (closed_) return;
        std::vector<std::string> replies;
        table_.collect(replies, error);
        for (auto& r : replies) out_.push_back(std::move(r) + "\n");
        write_then_read();
    }

    void count_buffers() {
        std::size_t n = in_.capacity() + batch_.capacity();
        for (const auto& o : out_) n += o.capacity();
        buffered_.store(n, std::memory_order_relaxed);
    }

    // Writes everything queued, then runs the request's next slice, reads the next line, or closes:
    // one request at a time, one slice of its replies in memory at a time.
    void write_then_read() {
        if (closed_ || writing_) return;  // a write under way calls this again when done
        count_buffers();
        if (out_.empty()) {
            if (closing_) {
                close();
            } else if (table_.awaiting()) {
                run_slice();
            } else {
                read_line();
            }
            return;
        }
        writing_ = true;
        batch_.clear();
        while (!out_.empty()) {
            batch_ += out_.front();
            out_.pop_front();
        }
        count_buffers();
        arm_timer();  // a client that does not read is idle too
        asio::async_write(socket_, asio::buffer(batch_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                                   std::size_t) {
            self->timer_.cancel();
            self->writing_ = false;
            if (ec) {
                self->close();
                return;
            }
            self->write_then_read();
        });
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        timer_.cancel();
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        std::lock_guard lock(shared_.mu);
        shared_.live.erase(shared_from_this());
        if (shared_.stopping && shared_.live.empty() && shared_.grace)  // the last one: no grace needed
            asio::post(shared_.grace->get_executor(), [&s = shared_] { s.grace->cancel(); });
    }

    tcp::socket socket_;
    asio::steady_timer timer_;
    Shared& shared_;
    SessionTable table_;
    std::string in_, batch_;
    std::deque<std::string> out_;
    bool writing_ = false, closing_ = false, closed_ = false;
    bool running_ = false;  // a slice of the request's updates is running (or with the batch thread)
    std::atomic<std::size_t> buffered_{0};  // count_buffers(), read by other threads
};

}  // namespace

struct Server::Impl {
    Impl(sim::Backend& backend, ServedModel model, ProtocolLimits limits, ServerOptions options)
        : shared(io, backend, std::move(model), limits, std::move(options)), acceptor(io) {}

    void accept() {
        acceptor.async_accept(asio::make_strand(io), asio::bind_executor(accept_strand, [this](const boost::system::error_code& ec,
                                                                                             tcp::socket socket) {
            if (shared.stopping || ec == asio::error::operation_aborted) return;
            if (ec) {  // out of descriptors (EMFILE, ENFILE), memory, ...: the listener stays, retried soon
                const auto failures = ++accept_failures;
                const auto now = std::chrono::steady_clock::now();
                if (failures == 1 || now - last_accept_log > std::chrono::seconds(1)) {
                    std::fprintf(stderr, "elmsim serve: accepting a connection failed (%s; %lld so far); retrying\n",
                                 ec.message().c_str(), static_cast<long long>(failures));
                    last_accept_log = now;
                }
                retry.expires_after(kAcceptRetry);
                retry.async_wait([this](const boost::system::error_code& e) {
                    if (!e && !shared.stopping) accept();
                });
                return;
            }
            std::shared_ptr<Connection> c;
            {
                std::lock_guard lock(shared.mu);
                if (shared.stopping) return;  // stop() took its list of connections: too late to join it
                if (static_cast<int>(shared.live.size()) < shared.options.max_connections) {
                    c = std::make_shared<Connection>(std::move(socket), shared);
                    shared.live.insert(c);
                }
            }
            if (c) {
                c->start_on_strand();
            } else {  // over the limit: one error line, then closed
                const std::string msg =
                    error_reply("", "", fmt::format("the server has {} connections, its limit", shared.options.max_connections)) +
                    "\n";
                boost::system::error_code ignored;
                asio::write(socket, asio::buffer(msg), ignored);
                socket.close(ignored);
            }
            accept();
        }));
    }

    // In this order: connections that outlive run() go with the io_context's handlers, before what
    // their sessions use (the batcher, the trace directory) goes with `shared`.
    Shared shared;
    asio::io_context io;
    tcp::acceptor acceptor;
    // The acceptor's handlers, its retry timer and stop()'s closing of both run on one strand.
    asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(io)};
    asio::steady_timer retry{accept_strand};  // accept() again after a failure
    std::atomic<std::int64_t> accept_failures{0};
    std::chrono::steady_clock::time_point last_accept_log;
    static constexpr std::chrono::milliseconds kAcceptRetry{100};
};

Server::Server(sim::Backend& backend, ServedModel model, ProtocolLimits limits, ServerOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(model), limits, std::move(options))) {
    const ServerOptions& o = impl_->shared.options;
    if (o.threads < 1 || o.threads > 256) throw ParameterError("threads", fmt::format("expected 1 to 256, found {}", o.threads));
    if (o.max_connections < 1 || o.max_connections > 1000000)
        throw ParameterError("max_connections", fmt::format("expected 1 to 1000000, found {}", o.max_connections));
    if (o.max_sessions_per_connection < 1 || o.max_sessions_per_connection > 1000000)
        throw ParameterError("max_sessions", fmt::format("expected 1 to 1000000, found {}", o.max_sessions_per_connection));
    if (o.max_line_bytes < 64 || o.max_line_bytes > (std::size_t{1} << 30))
        throw ParameterError("max_line", fmt::format("expected 64 bytes to 1 GiB, found {}", o.max_line_bytes));
    if (o.slice_updates < 1 || o.slice_updates > 1000000)
        throw ParameterError("slice_updates", fmt::format("expected 1 to 1000000, found {}", o.slice_updates));
    if (!(o.stop_grace_s >= 0.0 && o.stop_grace_s <= 600.0))
        throw ParameterError("stop_grace", fmt::format("expected 0 to 600 seconds, found {}", o.stop_grace_s));
    const ProtocolLimits& l = impl_->shared.limits;
    if (l.max_updates_per_request < 1 || l.max_updates_per_request > 1000000000)
        throw ParameterError("max_updates_per_request",
                             fmt::format("expected 1 to 1e9 updates, found {}", l.max_updates_per_request));
    if (l.max_pending_events < 1 || l.max_pending_events > 1000000000)
        throw ParameterError("max_pending_events", fmt::format("expected 1 to 1e9 events, found {}", l.max_pending_events));
    // Infinity would overflow the timer's duration (and NaN compares false to everything).
    if (!(o.idle_timeout_s > 0) || !(o.idle_timeout_s <= 1e6))
        throw ParameterError("idle_timeout", fmt::format("expected seconds in (0, 1e6], found {}", o.idle_timeout_s));
    if (o.batch_rows < 0 || o.batch_rows > 65536)
        throw ParameterError("batch_rows", fmt::format("expected 0 (off) to 65536, found {}", o.batch_rows));
    if (!(o.batch_window_ms >= 0.0 && o.batch_window_ms <= 1000.0))
        throw ParameterError("batch_window", fmt::format("expected 0 to 1000 ms, found {}", o.batch_window_ms));
    if (!o.trace_dir.empty())
        impl_->shared.traces = std::make_unique<TraceDirectory>(o.trace_dir, o.model_path, o.created_by, o.max_traces);
    if (o.batch_rows > 0) {
        impl_->shared.batcher = std::make_unique<sim::StreamBatcher>(backend, o.batch_rows);
        impl_->shared.queue = std::make_unique<BatchQueue>(
            *impl_->shared.batcher, std::chrono::microseconds(static_cast<std::int64_t>(o.batch_window_ms * 1000.0)),
            o.slice_updates);
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(o.bind, ec);
    if (ec) throw ParameterError("bind", fmt::format("\"{}\" is not an IP address", o.bind));
    tcp::endpoint ep(address, o.port);
    auto& a = impl_->acceptor;
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw ParameterError("port", fmt::format("cannot listen on {}:{}: {}", o.bind, o.port, ec.message()));
    impl_->shared.grace = std::make_unique<asio::steady_timer>(asio::make_strand(impl_->io));
    impl_->accept();
}

Server::~Server() {
    stop();
    impl_->io.stop();
    impl_->shared.queue.reset();  // runs what was submitted (its replies go nowhere now), then joins
    impl_->shared.grace.reset();  // its strand and timer service belong to the io_context, which goes first
    std::set<std::shared_ptr<Connection>> live;  // connections still open go while the io_context exists
    {
        std::lock_guard lock(impl_->shared.mu);
        live.swap(impl_->shared.live);
    }
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
    const int extra = impl_->shared.options.threads - 1;
    std::vector<std::thread> pool;
    for (int k = 0; k < extra; ++k) pool.emplace_back([this] { impl_->io.run(); });
    impl_->io.run();
    for (auto& t : pool) t.join();
}

void Server::stop() {
    if (impl_->shared.stopping.exchange(true)) return;
    asio::post(impl_->accept_strand, [this] {
        boost::system::error_code ignored;
        impl_->acceptor.close(ignored);
        impl_->retry.cancel();
    });
    asio::post(impl_->io, [this] {
        std::vector<std::shared_ptr<Connection>> live;
        {
            std::lock_guard lock(impl_->shared.mu);
            live.assign(impl_->shared.live.begin(), impl_->shared.live.end());
        }
        for (auto& c : live) c->shutdown();
        // The grace: clients that have not read their last lines by then are closed all the same.
        asio::post(impl_->shared.grace->get_executor(), [this] {
            Shared& s = impl_->shared;
            {
                std::lock_guard lock(s.mu);
                if (s.live.empty()) return;  // the last connection closed already
            }
            s.grace->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(s.options.stop_grace_s)));
            s.grace->async_wait([this](const boost::system::error_code& ec) {
                if (ec) return;
                std::vector<std::shared_ptr<Connection>> rest;
                {
                    std::lock_guard lock(impl_->shared.mu);
                    rest.assign(impl_->shared.live.begin(), impl_->shared.live.end());
                }
                for (auto& c : rest) c->force_close();
            });
        });
    });
}

bool Server::stop_requested() const { return impl_->shared.stopping.load(); }

std::int64_t Server::accept_failures() const { return impl_->accept_failures.load(); }

sim::BatcherStats Server::batch_stats() const {
    return impl_->shared.queue ? impl_->shared.queue->stats() : sim::BatcherStats{};
}

std::size_t Server::buffered_bytes() const {
    std::lock_guard lock(impl_->shared.mu);
    std::size_t n = 0;
    for (const auto& c : impl_->shared.live) n += c->buffered();
    return n;
}

int Server::connections() const {
    std::lock_guard lock(impl_->shared.mu);
    return static_cast<int>(impl_->shared.live.size());
}

}  // namespace elm::serve
