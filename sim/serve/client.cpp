#include "elmsim/sim/serve/client.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/models/train_config.hpp"

namespace elm::serve {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxReplyBytes = std::size_t{64} << 20;  // one reply line

double ms_since(Clock::time_point t0, Clock::time_point t1) {
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// One TCP connection of line-framed JSON: writes queued and sent in the background while a reply is
// awaited, each wait bounded by the timeout.
class LineConnection {
public:
    LineConnection(const ClientOptions& o) : socket_(io_), timeout_(std::chrono::duration<double>(o.timeout_s)) {
        boost::system::error_code ec;
        tcp::resolver resolver(io_);
        const auto endpoints = resolver.resolve(o.host, std::to_string(o.port), ec);
        if (ec) throw ClientError(fmt::format("{}: cannot resolve: {}", o.host, ec.message()));
        bool done = false;
        asio::async_connect(socket_, endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
            ec = e;
            done = true;
        });
        wait(done, fmt::format("connecting to {}:{}", o.host, o.port));
        if (ec) throw ClientError(fmt::format("cannot connect to {}:{}: {}", o.host, o.port, ec.message()));
        socket_.set_option(tcp::no_delay(true), ec);
    }

    void send(std::string text) {
        pending_ += text;
        if (!writing_) write_next();
    }

    std::string read_line() {
        std::size_t nl = in_.find('\n');
        if (nl == std::string::npos) {
            bool done = false;
            boost::system::error_code ec;
            asio::async_read_until(socket_, asio::dynamic_buffer(in_, kMaxReplyBytes), '\n',
                                   [&](const boost::system::error_code& e, std::size_t) {
                                       ec = e;
                                       done = true;
                                   });
            wait(done, "waiting for a reply");
            if (ec == asio::error::eof) throw ClientError("the server closed the connection");
            if (ec) throw ClientError(fmt::format("reading from the server: {}", ec.message()));
            if (write_error_) throw ClientError(fmt::format("writing to the server: {}", write_error_.message()));
            nl = in_.find('\n');
        }
        std::string line = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        return line;
    }

private:
    void write_next() {
        if (pending_.empty()) return;
        writing_ = true;
        sending_.swap(pending_);
        pending_.clear();
        asio::async_write(socket_, asio::buffer(sending_), [this](const boost::system::error_code& e, std::size_t) {
            writing_ = false;
            if (e) {
                write_error_ = e;
                return;
            }
            write_next();
        });
    }

    // Runs handlers (reads and writes) until `done`, at most the timeout.
    void wait(bool& done, const std::string& what) {
        const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout_);
        while (!done) {
            if (io_.stopped()) io_.restart();
            const auto left = deadline - Clock::now();
            if (left <= Clock::duration::zero() || io_.run_one_for(left) == 0) {
                if (done) break;
                if (Clock::now() >= deadline) {
                    boost::system::error_code ignored;
                    socket_.close(ignored);
                    throw ClientError(fmt::format("{}: no answer within {} s", what, timeout_.count()));
                }
            }
        }
    }

    asio::io_context io_;
    tcp::socket socket_;
    std::chrono::duration<double> timeout_;
    std::string in_, pending_, sending_;
    bool writing_ = false;
    boost::system::error_code write_error_;
};

json parse_reply(const std::string& line) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("op") || !j["op"].is_string())
        throw ClientError(fmt::format("the server sent a line that is not a reply: {}", line.substr(0, 200)));
    const std::string op = j["op"];
    if (op == "error")
        throw ClientError(fmt::format("the server refused a request: {}{}", j.value("field", "").empty() ? "" : j.value("field", "") + ": ",
                                      j.value("error", std::string("(no message)"))));
    if (op == "shutdown") throw ClientError("the server is stopping");
    return j;
}

ServerModel model_of(const json& hello) {
    if (hello.value("op", "") != "hello" || !hello.contains("model"))
        throw ClientError("the server did not greet with a hello line: is it `elmsim serve`?");
    const json& m = hello["model"];
    ServerModel s;
    s.N = m.value("N", 0);
    s.C = m.value("C", 0);
    s.n_out = m.value("n_out", 0);
    s.task = m.value("task", "");
    s.bytes = m.value("bytes", false);
    s.event_trained = m.value("time", "clock") == "event";
    s.dt_ms = m.value("dt_ms", 0.0);
    s.window_ms = m.value("window_ms", 0.0);
    s.sample_ms = m.value("sample_ms", 0.0);
    s.adding_pairs = m.value("adding_pairs", std::int64_t{0});
    s.pair_seed = m.value("pair_seed", std::uint64_t{0});
    return s;
}

// What a lane expects back, in the order it sent them.
enum class Expect { opened, events_ok, advance_ok, bytes_ok, state, reset_ok, closed };

struct Totals {
    std::int64_t events = 0, updates = 0, messages = 0, bytes_sent = 0;
    std::vector<double> latency_ms;
    sim::LossStats byte_stats;
    std::string mode;
    double resolution_ms = 0.0, max_dt_ms = 0.0;
    std::vector<std::string> traces;
};

// One session on one connection, playing its samples (or the byte stream) message by message.
struct Lane {
    int id = 0;
    SessionId session = 0;
    std::vector<std::size_t> samples;  // positions in the job's sample list
    std::size_t next_sample = 0;
    std::size_t event = 0;             // next event of the current sample
    std::int64_t chunk = 0;            // next chunk of the current sample
    std::size_t next_byte = 0;         // byte streams
    std::int64_t delivered = 0;        // bytes the updates so far delivered
    Clock::time_point sample_start, sent;
    bool opened = false, sample_done = false, need_reset = false, finished = false, closing = false, done = false;
    std::deque<Expect> expect;
};

struct Job {
    const ClientOptions* options = nullptr;
    const ServerModel* model = nullptr;
    const std::vector<ReplaySample>* samples = nullptr;  // spike samples, or null
    std::span<const std::uint8_t> bytes;                 // a byte stream
    std::vector<SampleOutcome>* outcomes = nullptr;      // by position in *samples
};

class ConnectionWorker {
public:
    ConnectionWorker(LineConnection& c, const Job& job, std::vector<Lane> lanes)
        : conn_(c), job_(job), lanes_(std::move(lanes)) {}

    Totals run() {
        for (;;) {
            const auto now = Clock::now();
            std::string out;
            std::size_t outstanding = 0;
            Clock::time_point earliest = Clock::time_point::max();
            bool live = false;
            for (Lane& l : lanes_) {
                if (l.done) continue;
                live = true;
                const Clock::time_point due = due_time(l);
                if (due > now) {
                    earliest = std::min(earliest, due);
                    continue;
                }
                next_messages(l, out);
                outstanding += l.expect.size();
            }
            if (!live) break;
            if (outstanding == 0) {
                std::this_thread::sleep_until(earliest);
                continue;
            }
            conn_.send(std::move(out));
            while (outstanding > 0) {
                const json r = parse_reply(conn_.read_line());
                if (r["op"] == "update") {
                    on_update(r);
                    continue;
                }
                on_terminal(r);
                --outstanding;
            }
        }
        return std::move(t_);
    }

private:
    const ClientOptions& o() const { return *job_.options; }

    // When the lane's next message may go: at once, or in real time once its chunk has passed.
    Clock::time_point due_time(const Lane& l) const {
        if (!o().realtime || !l.opened || l.sample_done || !job_.samples) return Clock::time_point::min();
        const ReplaySample& s = (*job_.samples)[l.samples[l.next_sample]];
        const double end_ms = std::min(static_cast<double>(l.chunk + 1) * o().chunk_ms, s.duration_ms);
        return l.sample_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(end_ms));
    }

    static void put(std::string& out, const json& j) {
        out += j.dump();
        out += '\n';
    }

    void next_messages(Lane& l, std::string& out) {
        l.sent = Clock::now();
        if (!l.opened) {
            json open = {{"op", "open"}, {"id", l.id}, {"stream", json::array({job_.samples ? "prediction" : "logits"})}};
            if (o().mode) open["mode"] = *o().mode == Mode::event ? "event" : "clock";
            if (o().resolution_ms) open["resolution_ms"] = *o().resolution_ms;
            if (o().max_dt_ms) open["max_dt_ms"] = *o().max_dt_ms;
            if (o().trace) open["trace"] = true;
            put(out, open);
            l.expect.push_back(Expect::opened);
            return;
        }
        if (l.closing) {
            put(out, {{"op", "close"}, {"id", l.id}, {"session", l.session}});
            l.expect.push_back(Expect::closed);
            return;
        }
        if (job_.samples)
            next_sample_messages(l, out);
        else
            next_byte_messages(l, out);
    }

    void next_sample_messages(Lane& l, std::string& out) {
        const ReplaySample& s = (*job_.samples)[l.samples[l.next_sample]];
        if (l.need_reset) {
            put(out, {{"op", "reset"}, {"id", l.id}, {"session", l.session}});
            l.expect.push_back(Expect::reset_ok);
            l.need_reset = false;
        }
        if (l.sample_done) {  // read the prediction, then the next sample from zero (or close)
            put(out, {{"op", "read"}, {"id", l.id}, {"session", l.session}});
            l.expect.push_back(Expect::state);
            return;
        }
        const double end_ms = std::min(static_cast<double>(l.chunk + 1) * o().chunk_ms, s.duration_ms);
        const bool last = end_ms >= s.duration_ms;
        std::size_t k = l.event;
        while (k < s.t_ms.size() && (last || s.t_ms[k] < end_ms)) ++k;
        if (k > l.event) {
            const auto b = static_cast<std::ptrdiff_t>(l.event), e = static_cast<std::ptrdiff_t>(k);
            put(out, {{"op", "events"},
                      {"id", l.id},
                      {"session", l.session},
                      {"t_ms", std::vector<double>(s.t_ms.begin() + b, s.t_ms.begin() + e)},
                      {"channels", std::vector<std::int32_t>(s.channels.begin() + b, s.channels.begin() + e)}});
            l.expect.push_back(Expect::events_ok);
            t_.events += static_cast<std::int64_t>(k - l.event);
            l.event = k;
        }
        put(out, {{"op", last ? "finish" : "advance"}, {"id", l.id}, {"session", l.session}, {"t_ms", end_ms}});
        l.expect.push_back(Expect::advance_ok);
        ++l.chunk;
        ++t_.messages;
        if (last) l.sample_done = true;
    }

    void next_byte_messages(Lane& l, std::string& out) {
        const auto n = job_.bytes.size();
        if (l.next_byte < n) {
            const std::size_t e = std::min(n, l.next_byte + o().chunk_bytes);
            put(out, {{"op", "bytes"},
                      {"id", l.id},
                      {"session", l.session},
                      {"bytes", std::vector<int>(job_.bytes.begin() + static_cast<std::ptrdiff_t>(l.next_byte),
                                                 job_.bytes.begin() + static_cast<std::ptrdiff_t>(e))}});
            l.expect.push_back(Expect::bytes_ok);
            t_.bytes_sent += static_cast<std::int64_t>(e - l.next_byte);
            t_.events += static_cast<std::int64_t>(e - l.next_byte);
            ++t_.messages;
            l.next_byte = e;
            return;
        }
        // Event mode: the stream ends as a sample of n dt ends (its last cell's bytes are delivered).
        if (t_.mode == "event" && !l.finished) {
            put(out, {{"op", "finish"},
                      {"id", l.id},
                      {"session", l.session},
                      {"t_ms", static_cast<double>(n) * job_.model->dt_ms}});
            l.expect.push_back(Expect::advance_ok);
            l.finished = true;
            return;
        }
        l.closing = true;
        next_messages(l, out);
    }

    Lane& lane_of_session(const json& r) {
        const auto it = by_session_.find(r.value("session", SessionId{0}));
        if (it == by_session_.end()) throw ClientError("the server sent an update of a session this client did not open");
        return lanes_[it->second];
    }

    void on_update(const json& r) {
        ++t_.updates;
        if (job_.samples) return;
        // A byte stream: after an update that delivered bytes, its logits predict the next byte not
        // yet delivered (the scoring of `simulate`).
        Lane& l = lane_of_session(r);
        const std::int64_t got = r.value("inputs", std::int64_t{0});
        l.delivered += got;
        const auto n = static_cast<std::int64_t>(job_.bytes.size());
        if (got > 0 && l.delivered < n) {
            const std::vector<float> logits = r.at("logits").get<std::vector<float>>();
            if (static_cast<int>(logits.size()) != job_.model->n_out)
                throw ClientError("the server sent an update whose logits are not n_out long");
            const std::int32_t target = job_.bytes[static_cast<std::size_t>(l.delivered)];
            t_.byte_stats.add(sim::compute_loss<float>(models::LossMode::next_byte, logits.data(), 1, 1,
                                                       job_.model->n_out, &target, nullptr));
        }
    }

    void on_terminal(const json& r) {
        if (!r.contains("id") || !r["id"].is_number_integer()) throw ClientError("the server sent a reply without our id");
        const int id = r["id"];
        const auto it = std::find_if(lanes_.begin(), lanes_.end(), [&](const Lane& l) { return l.id == id; });
        if (it == lanes_.end() || it->expect.empty()) throw ClientError("the server sent a reply nobody waited for");
        Lane& l = *it;
        const Expect e = l.expect.front();
        l.expect.pop_front();
        const std::string op = r["op"];
        switch (e) {
            case Expect::opened:
                if (op != "opened") throw ClientError("expected \"opened\", the server sent \"" + op + "\"");
                l.session = r.at("session").get<SessionId>();
                by_session_[l.session] = static_cast<std::size_t>(it - lanes_.begin());
                l.opened = true;
                l.sample_start = Clock::now();
                t_.mode = r.value("mode", "");
                t_.resolution_ms = r.value("resolution_ms", 0.0);
                t_.max_dt_ms = r.value("max_dt_ms", 0.0);
                if (r.contains("trace")) t_.traces.push_back(r["trace"]);
                break;
            case Expect::events_ok:
                break;
            case Expect::advance_ok:
            case Expect::bytes_ok:
                t_.latency_ms.push_back(ms_since(l.sent, Clock::now()));
                break;
            case Expect::state: {
                if (op != "state") throw ClientError("expected \"state\", the server sent \"" + op + "\"");
                const std::size_t pos = l.samples[l.next_sample];
                const ReplaySample& s = (*job_.samples)[pos];
                SampleOutcome& out = (*job_.outcomes)[pos];
                out.index = s.index;
                out.label = s.label;
                out.prediction = r.at("prediction").get<int>();
                out.updates = r.at("updates").get<std::int64_t>();
                out.logits = r.at("logits").get<std::vector<float>>();
                ++l.next_sample;
                if (l.next_sample == l.samples.size()) {
                    l.closing = true;
                } else {  // the next sample, from the zero state: a reset goes with its first chunk
                    l.need_reset = true;
                    l.event = 0;
                    l.chunk = 0;
                    l.sample_done = false;
                    l.sample_start = Clock::now();
                }
                break;
            }
            case Expect::reset_ok:
                break;
            case Expect::closed:
                l.done = true;
                break;
        }
    }

    LineConnection& conn_;
    const Job& job_;
    std::vector<Lane> lanes_;
    std::unordered_map<SessionId, std::size_t> by_session_;
    Totals t_;
};

}  // namespace

double ClientReport::accuracy() const {
    if (samples.empty()) return 0.0;
    std::int64_t ok = 0;
    for (const auto& s : samples) ok += s.prediction == s.label;
    return static_cast<double>(ok) / static_cast<double>(samples.size());
}

double ClientReport::latency_quantile(double q) const {
    if (latency_ms.empty()) return 0.0;
    std::vector<double> v = latency_ms;
    const auto k = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

struct Client::Impl {
    ClientOptions options;
    ServerModel model;
    std::vector<std::unique_ptr<LineConnection>> connections;

    ClientReport run(const Job& job, std::size_t items);
};

Client::Client(const ClientOptions& options) : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
    const ClientOptions& o = impl_->options;
    if (o.connections < 1 || o.connections > 4096 || o.sessions < 1 || o.sessions > 4096)
        throw ClientError("expected 1 to 4096 connections and sessions per connection");
    if (!(o.chunk_ms > 0.0) || !std::isfinite(o.chunk_ms) || o.chunk_bytes < 1 || !(o.timeout_s > 0.0))
        throw ClientError("expected a chunk of > 0 ms, >= 1 byte, and a timeout > 0 s");
    for (int c = 0; c < o.connections; ++c) {
        auto conn = std::make_unique<LineConnection>(o);
        const json hello = json::parse(conn->read_line(), nullptr, false);
        if (hello.is_discarded() || !hello.is_object()) throw ClientError("the server's first line is not JSON: is it `elmsim serve`?");
        if (c == 0) impl_->model = model_of(hello);
        if (hello.value("auth", false)) {
            if (o.token.empty()) throw ClientError("the server asks for a token (give --token-file)");
            conn->send(json({{"op", "auth"}, {"token", o.token}}).dump() + "\n");
            parse_reply(conn->read_line());
        }
        impl_->connections.push_back(std::move(conn));
    }
}

Client::~Client() = default;

const ServerModel& Client::model() const { return impl_->model; }

ClientReport Client::Impl::run(const Job& job, std::size_t items) {
    const int lanes_per = options.sessions;
    const std::size_t conns = connections.size(), lanes = conns * static_cast<std::size_t>(lanes_per);
    std::vector<std::vector<Lane>> plan(conns);
    for (std::size_t c = 0; c < conns; ++c)
        for (int s = 0; s < lanes_per; ++s) {
            Lane l;
            l.id = s;
            plan[c].push_back(std::move(l));
        }
    // Item i to lane i mod lanes (lane c * sessions + s); a byte stream on lane 0 only.
    for (std::size_t i = 0; i < items; ++i) {
        const std::size_t lane = i % lanes;
        plan[lane / lanes_per][lane % lanes_per].samples.push_back(i);
    }
    // Lanes without work are never opened (a byte stream plays on lane 0 alone).
    for (auto& c : plan)
        for (Lane& l : c) l.done = l.samples.empty();
    std::vector<Totals> totals(conns);
    std::vector<std::exception_ptr> errors(conns);
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < conns; ++c)
        threads.emplace_back([&, c] {
            try {
                ConnectionWorker w(*connections[c], job, std::move(plan[c]));
                totals[c] = w.run();
            } catch (...) {
                errors[c] = std::current_exception();
            }
        });
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    ClientReport rep;
    rep.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    for (auto& t : totals) {
        rep.events += t.events;
        rep.updates += t.updates;
        rep.messages += t.messages;
        rep.bytes_sent += t.bytes_sent;
        rep.byte_stats.add(t.byte_stats);
        rep.latency_ms.insert(rep.latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
        rep.traces.insert(rep.traces.end(), t.traces.begin(), t.traces.end());
        if (!t.mode.empty()) {
            rep.mode = t.mode;
            rep.resolution_ms = t.resolution_ms;
            rep.max_dt_ms = t.max_dt_ms;
        }
    }
    return rep;
}

ClientReport Client::run_samples(const std::vector<ReplaySample>& samples) {
    if (impl_->model.bytes) throw ClientError("the server's model reads bytes: give a byte file, not spike samples");
    for (const auto& s : samples)
        if (s.t_ms.size() != s.channels.size() || !(s.duration_ms > 0.0))
            throw ClientError(fmt::format("sample {}: event times and channels differ in number, or no duration", s.index));
    std::vector<SampleOutcome> outcomes(samples.size());
    Job job;
    job.options = &impl_->options;
    job.model = &impl_->model;
    job.samples = &samples;
    job.outcomes = &outcomes;
    ClientReport rep = impl_->run(job, samples.size());
    rep.samples = std::move(outcomes);
    return rep;
}

ClientReport Client::run_bytes(std::span<const std::uint8_t> bytes) {
    if (!impl_->model.bytes) throw ClientError("the server's model reads spikes: give a spike file, not bytes");
    if (bytes.empty()) throw ClientError("no bytes to send");
    Job job;
    job.options = &impl_->options;
    job.model = &impl_->model;
    job.bytes = bytes;
    ClientReport rep = impl_->run(job, 1);
    rep.bytes = true;
    return rep;
}

}  // namespace elm::serve
