#include "elmsim/sim/serve/session_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/models/error.hpp"

namespace elm::serve {

namespace {

using nlohmann::json;

std::string line_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json with_id(json j, const std::string& id_json) {
    if (!id_json.empty()) j["id"] = json::parse(id_json);
    return j;
}

std::string output_mode_name(models::OutputMode m) { return models::to_string(m); }

// The top k classes of softmax(logits) with their probabilities, most likely first.
json top_k(const float* logits, int n, int k) {
    std::vector<int> idx(static_cast<std::size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    k = std::min(k, n);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    const double mx = logits[idx[0]];
    double z = 0;
    for (int j = 0; j < n; ++j) z += std::exp(static_cast<double>(logits[j]) - mx);
    json out = json::array();
    for (int r = 0; r < k; ++r) out.push_back({idx[static_cast<std::size_t>(r)], std::exp(logits[idx[r]] - mx) / z});
    return out;
}

// Equal secrets, in a time that depends on the lengths only, never on where the bytes differ.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned diff = a.size() == b.size() ? 0u : 1u;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
        const unsigned y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
        diff |= x ^ y;
    }
    return diff == 0;
}

constexpr int kMaxFailedAuths = 3;

}  // namespace

SessionTable::SessionTable(sim::Backend& backend, ServedModel model, ProtocolLimits limits, int max_sessions,
                           std::string token, sim::StreamBatcher* batcher, TraceDirectory* traces)
    : backend_(backend), model_(std::move(model)), limits_(limits), max_sessions_(max_sessions), token_(std::move(token)),
      authenticated_(token_.empty()), batcher_(batcher), traces_(traces) {}

SessionTable::~SessionTable() {
    for (auto& [id, e] : sessions_) commit_trace(e);
}

void SessionTable::drop_trace(Entry& e, SessionId id, const std::exception& why) {
    std::fprintf(stderr, "elmsim serve: trace %s of session %u dropped: %s\n", e.trace_name.c_str(), id, why.what());
    e.trace_error = "the trace could not be written and was dropped (the server's log says why)";
    std::lock_guard lock(traces_->mutex());
    e.trace.reset();  // removes its temporary file
    traces_->closed();
}

void SessionTable::trace_update(Entry& e, const sim::UpdateView& v) {
    if (!e.trace) return;
    try {
        std::lock_guard lock(traces_->mutex());
        if (e.trace_sample < 0) e.trace_sample = e.trace->begin_sample(e.samples++, -1);
        e.trace->write(e.trace_sample, v.time_ms, v.y, nullptr, nullptr, v.logits);
    } catch (const std::exception& x) {
        drop_trace(e, e.id, x);
    }
}

void SessionTable::end_trace_sample(Entry& e) {
    if (!e.trace || e.trace_sample < 0) return;
    try {
        std::lock_guard lock(traces_->mutex());
        e.trace->end_sample(e.trace_sample, e.session->logits(), e.session->prediction());
        e.trace_sample = -1;
    } catch (const std::exception& x) {
        drop_trace(e, e.id, x);
    }
}

void SessionTable::commit_trace(Entry& e) {
    if (!e.trace) return;
    end_trace_sample(e);
    if (!e.trace) return;
    try {
        {
            std::lock_guard lock(traces_->mutex());
            e.trace->commit();
            e.trace.reset();
        }
        traces_->closed();
    } catch (const std::exception& x) {
        drop_trace(e, e.id, x);
    }
}

std::string SessionTable::hello() const {
    const auto& c = backend_.config();
    json m = {{"N", c.N},
              {"C", c.C},
              {"n_out", c.n_out},
              {"task", model_.task},
              {"bytes", model_.bytes},
              {"output_mode", output_mode_name(c.output_mode)},
              {"time", models::to_string(model_.time)},
              {"dt_ms", c.dt_ms},
              {"window_ms", model_.window_ms},
              {"sample_ms", model_.sample_ms}};
    if (model_.adding_pairs > 0) {
        m["adding_pairs"] = model_.adding_pairs;
        m["pair_seed"] = model_.pair_seed;
    }
    if (model_.time != models::TimeBase::clock) {
        m["resolution_ms"] = model_.event_resolution_ms;
        m["max_dt_ms"] = model_.event_max_dt_ms > 0 ? model_.event_max_dt_ms : c.dt_ms;
    }
    return line_of({{"op", "hello"},
                    {"version", 1},
                    {"model", m},
                    {"auth", !token_.empty()},
                    {"limits",
               {{"sessions", max_sessions_},
                {"events", limits_.max_events},
                {"bytes", limits_.max_bytes},
                {"updates", limits_.max_updates_per_request},
                {"pending_events", limits_.max_pending_events}}}});
}

SessionTable::Entry& SessionTable::find(SessionId id) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) throw ProtocolError("session", fmt::format("no open session {} on this connection", id));
    return it->second;
}

void SessionTable::stream_update(SessionId id, Entry& e, const sim::UpdateView& v) {
    ++updates_;
    trace_update(e, v);
    const OpenRequest& o = e.open;
    if ((v.index + 1) % o.decimate != 0) return;
    const auto& c = backend_.config();
    json u = {{"op", "update"}, {"session", id}, {"index", v.index}, {"t_ms", v.time_ms}, {"dt_ms", v.dt_ms},
              {"inputs", static_cast<std::int64_t>(v.inputs)}};
    if (o.stream & kStreamLogits) u["logits"] = std::vector<float>(v.logits, v.logits + c.n_out);
    if (o.stream & kStreamPrediction) u["prediction"] = e.session->prediction();
    if (o.stream & kStreamTopK) u["top_k"] = top_k(v.logits, c.n_out, o.top_k);
    if (o.stream & kStreamSpikes) {
        json s = json::array();
        for (int j = 0; j < c.N; ++j)
            if (v.y[j] != 0.0f) s.push_back(j);
        u["spikes"] = std::move(s);
    }
    if (o.stream & kStreamY) {
        json y = json::array();
        if (o.neurons.empty())
            for (int j = 0; j < c.N; ++j) y.push_back(v.y[j]);
        else
            for (const std::int32_t j : o.neurons) y.push_back(v.y[j]);
        u["y"] = std::move(y);
    }
    lines_.push_back(line_of(u));
}

std::string SessionTable::ok_reply(const std::string& id_json, SessionId id, Entry& e) const {
    json j = {{"op", "ok"}, {"session", id}, {"t_ms", e.session->time_ms()}, {"updates", e.session->updates()}};
    if (!e.trace_error.empty() && !e.trace_name.empty()) {  // told once
        j["trace_error"] = e.trace_error;
        e.trace_name.clear();
    }
    return line_of(with_id(j, id_json));
}

void SessionTable::reply_ok(const Request& r, SessionId id, Entry& e, std::vector<std::string>& out) {
    const bool finish = r.op == "finish";
    if (e.session->queued_updates() > 0) {  // planned: run in slices, then collect()
        held_ = Held{id, r.id_json, finish};
        return;
    }
    if (finish) end_trace_sample(e);
    flush_lines(out);
    out.push_back(ok_reply(r.id_json, id, e));
}

void SessionTable::flush_lines(std::vector<std::string>& out) {
    for (auto& l : lines_) out.push_back(std::move(l));
    lines_.clear();
}

sim::Session* SessionTable::awaiting() const {
    if (!held_) return nullptr;
    return sessions_.at(held_->session).session.get();
}

void SessionTable::run_slice(std::int64_t max_updates) {
    if (!held_) return;
    if (batcher_) throw std::logic_error("SessionTable::run_slice: a batched table's updates are run by its batcher");
    sessions_.at(held_->session).session->run_queued(max_updates);
}

bool SessionTable::collect(std::vector<std::string>& out, const std::string& error) {
    if (!held_) return true;
    flush_lines(out);
    Entry& e = sessions_.at(held_->session);
    if (error.empty() && e.session->queued_updates() > 0) return false;
    const Held h = std::move(*held_);
    held_.reset();
    if (!error.empty()) {
        e.session->drop_queued();
        out.push_back(error_reply(h.id_json, "", error));
        return true;
    }
    if (h.finish) end_trace_sample(e);
    out.push_back(ok_reply(h.id_json, h.session, e));
    return true;
}

bool SessionTable::handle(std::string_view line, std::vector<std::string>& out) {
    if (held_) throw std::logic_error("SessionTable: a request arrived while the last one awaits its batch");
    lines_.clear();
    Request r;
    try {
        r = parse_request(line, limits_);
    } catch (const ProtocolError& e) {
        out.push_back(error_reply(e.id_json(), e.field(), e.what()));
        return !e.fatal();
    }
    try {
        if (auto* a = std::get_if<AuthRequest>(&r.body)) {
            // A failed auth changes nothing: a connection already in stays in, its sessions open.
            if (token_.empty() || !same_secret(a->token, token_)) {
                if (!token_.empty() && ++failed_auths_ >= kMaxFailedAuths) {
                    out.push_back(error_reply(r.id_json, "token", fmt::format("{} failed auth requests: closing the "
                                                                              "connection", failed_auths_)));
                    return false;
                }
                throw ProtocolError("token", token_.empty() ? "this server takes no token" : "wrong token");
            }
            authenticated_ = true;
            out.push_back(line_of(with_id({{"op", "ok"}}, r.id_json)));
            return true;
        }
        if (!authenticated_) {  // counts as a failed auth: a client without the token cannot stay forever
            if (++failed_auths_ >= kMaxFailedAuths) {
                out.push_back(error_reply(r.id_json, "op", fmt::format("{} requests without authenticating: closing the "
                                                                       "connection", failed_auths_)));
                return false;
            }
            throw ProtocolError("op", "authenticate first (\"auth\" with the server's token)");
        }
        if (auto* o = std::get_if<OpenRequest>(&r.body)) {
            if (sessions() >= max_sessions_)
                throw ProtocolError("op", fmt::format("this connection has {} sessions open, the limit", max_sessions_));
            const auto& c = backend_.config();
            sim::SessionOptions so;
            so.event_mode = o->mode ? *o->mode == Mode::event : model_.time == models::TimeBase::event;
            if (!so.event_mode && (o->resolution_ms || o->max_dt_ms))
                throw ProtocolError(o->resolution_ms ? "resolution_ms" : "max_dt_ms", "only event-mode sessions take it");
            so.resolution_ms = o->resolution_ms.value_or(model_.event_resolution_ms);
            so.max_dt_ms = o->max_dt_ms.value_or(model_.event_max_dt_ms);
            so.score = model_.score;
            so.score_last_k = model_.score_last_k;
            so.max_updates_per_call = limits_.max_updates_per_request;
            so.max_pending_events = limits_.max_pending_events;
            so.max_time_ms = limits_.max_time_ms;
            so.deferred = batcher_ == nullptr;  // run in slices by the connection (run_slice)
            if ((o->stream & kStreamTopK) && !model_.bytes) throw ProtocolError("stream", "top_k is for byte models");
            if (o->trace && !traces_) throw ProtocolError("trace", "this server writes no traces (it has no --trace-dir)");
            const SessionId id = next_id_;
            Entry& e = sessions_[id];
            e.open = *o;
            e.id = id;
            so.view_state = false;  // the stream sends y and the logits only
            auto observer = [this, id, &e](const sim::UpdateView& v) { stream_update(id, e, v); };
            try {
                e.session = batcher_ ? std::make_unique<sim::Session>(*batcher_, so, observer)
                                     : std::make_unique<sim::Session>(backend_, so, observer);
            } catch (...) {
                sessions_.erase(id);
                throw;
            }
            if (o->trace) {
                try {
                    e.trace = traces_->open(so.event_mode ? "event" : "clock", c, &e.trace_name);
                } catch (const std::exception& x) {
                    // The reason may name the server's directory: it stays in the server's log.
                    std::fprintf(stderr, "elmsim serve: a trace for a new session was refused: %s\n", x.what());
                    sessions_.erase(id);
                    throw ProtocolError("trace", traces_->open_traces() >= traces_->max_open()
                                                     ? fmt::format("the server has {} traces open, its limit; close a "
                                                                   "traced session first", traces_->max_open())
                                                     : std::string("the server cannot write a trace now"));
                }
            }
            ++next_id_;
            json reply = {{"op", "opened"}, {"session", id}, {"mode", so.event_mode ? "event" : "clock"}};
            if (so.event_mode) {
                reply["resolution_ms"] = so.resolution_ms;
                reply["max_dt_ms"] = so.max_dt_ms > 0 ? so.max_dt_ms : c.dt_ms;
            }
            if (!e.trace_name.empty()) reply["trace"] = e.trace_name;
            out.push_back(line_of(with_id(reply, r.id_json)));
            return true;
        }
        if (auto* ev = std::get_if<EventsRequest>(&r.body)) {
            Entry& e = find(ev->session);
            if (model_.bytes) throw ProtocolError("op", "a byte model takes \"bytes\", not events");
            if (!ev->t_ms.empty() && ev->t_ms.front() < e.session->time_ms())
                throw ProtocolError("t_ms", fmt::format("t_ms[0] = {} is before the session's time {}", ev->t_ms.front(),
                                                        e.session->time_ms()));
            // The cap holds per session (the Session's own) and for the connection's sessions together.
            auto waiting = static_cast<std::int64_t>(ev->t_ms.size());
            for (const auto& [other, x] : sessions_) waiting += x.session->pending_events();
            if (waiting > limits_.max_pending_events)
                throw ProtocolError("t_ms", fmt::format("this connection's sessions would hold {} events waiting for "
                                                        "their time, at most {} may (advance time to deliver them)",
                                                        waiting, limits_.max_pending_events));
            e.session->push_events(ev->t_ms, ev->channels);
            reply_ok(r, ev->session, e, out);
            return true;
        }
        if (auto* b = std::get_if<BytesRequest>(&r.body)) {
            Entry& e = find(b->session);
            if (!model_.bytes) throw ProtocolError("op", "a spike model takes \"events\", not bytes");
            e.session->push_bytes(b->bytes);
            reply_ok(r, b->session, e, out);
            return true;
        }
        if (auto* a = std::get_if<AdvanceRequest>(&r.body)) {
            Entry& e = find(a->session);
            if (a->t_ms < e.session->time_ms())
                throw ProtocolError("t_ms", fmt::format("{} is before the session's time {}", a->t_ms, e.session->time_ms()));
            if (a->finish)
                e.session->finish(a->t_ms);
            else
                e.session->advance_to(a->t_ms);
            reply_ok(r, a->session, e, out);
            return true;
        }
        const auto& s = std::get<SessionRequest>(r.body);
        Entry& e = find(s.session);
        if (s.op == SessionOp::read) {
            const auto& c = backend_.config();
            json reply = {{"op", "state"},
                          {"session", s.session},
                          {"t_ms", e.session->time_ms()},
                          {"updates", e.session->updates()},
                          {"logits", std::vector<float>(e.session->logits(), e.session->logits() + c.n_out)},
                          {"prediction", e.session->prediction()}};
            out.push_back(line_of(with_id(reply, r.id_json)));
        } else if (s.op == SessionOp::reset) {
            end_trace_sample(e);
            e.session->reset();
            out.push_back(ok_reply(r.id_json, s.session, e));
        } else {
            commit_trace(e);
            json reply = {{"op", "closed"}, {"session", s.session}};
            if (!e.trace_name.empty()) reply[e.trace_error.empty() ? "trace" : "trace_error"] =
                e.trace_error.empty() ? e.trace_name : e.trace_error;
            sessions_.erase(s.session);
            out.push_back(line_of(with_id(reply, r.id_json)));
        }
        return true;
    } catch (const ProtocolError& e) {
        flush_lines(out);
        out.push_back(error_reply(r.id_json, e.field(), e.what()));
    } catch (const ParameterError& e) {  // a session option the engine refuses (a grid too fine, ...)
        flush_lines(out);
        out.push_back(error_reply(r.id_json, e.parameter(), e.what()));
    } catch (const InputError& e) {  // the session refused it (times before its time, ...): it stays usable
        flush_lines(out);
        const char* field = r.op == "events" || r.op == "advance" || r.op == "finish" ? "t_ms" : r.op == "bytes" ? "bytes" : "";
        out.push_back(error_reply(r.id_json, field, e.what()));
    } catch (const std::bad_alloc&) {  // never the server's end: this request fails, the rest go on
        flush_lines(out);
        out.push_back(error_reply(r.id_json, "", "the server is out of memory for this request"));
    } catch (const std::exception& e) {  // an engine fault: logged here, never shown (it may name files)
        std::fprintf(stderr, "elmsim serve: a \"%s\" request failed: %s\n", r.op.c_str(), e.what());
        flush_lines(out);
        out.push_back(error_reply(r.id_json, "", "the request failed inside the server (its log says why)"));
    }
    return true;
}

}  // namespace elm::serve
