// SessionTable: the sessions of one client connection of `elmsim serve` and the requests that drive
// them (docs/protocol.md) — a request line in, its reply lines out, no sockets — so the server's
// transport only moves lines, and every rule of the protocol's semantics is testable in-process
// (tests/test_session_table.cpp). Each session is a sim::Session on the served backend with its own
// state; its updates stream back as "update" lines before the request's "ok", so a session fed a
// sample's events gives, update by update, the floats `simulate` gives.
//
// A request's updates are only planned by handle() (at most ProtocolLimits::max_updates_per_request
// of them, counted before anything changes): awaiting() then names the session whose updates must
// run, and the caller runs them in slices — with a StreamBatcher (micro-batching,
// sim/stream_batcher.hpp) the batcher runs a slice of it together with other connections' sessions;
// without, run_slice() runs one at once — and after each slice collect() appends the update lines so
// far, and the "ok" once the last slice ran. So a request's replies are written as they are made,
// one slice at a time, and a long request never keeps other sessions waiting for more than a slice.
//
// Authentication: with a token, "auth" must come first; the comparison takes the same time whatever
// the bytes; a failed "auth" changes nothing (on a server without a token too), and the third failure
// on a connection closes it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "elmsim/models/model_config.hpp"
#include "elmsim/models/train_config.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/serve/protocol.hpp"
#include "elmsim/sim/serve/trace_directory.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/stream_batcher.hpp"

namespace elm::serve {

// The served model as the protocol describes it (the hello line) and the defaults of its sessions.
struct ServedModel {
    std::string task;                  // "shd", "shd-adding", "bytes", ...
    bool bytes = false;                // a byte model (push "bytes", stream "top_k")
    models::TimeBase time = models::TimeBase::clock;
    double event_resolution_ms = 0.1;  // event sessions' defaults: the model's own grid when event-trained
    double event_max_dt_ms = 0.0;      // (0 = the model's dt)
    models::LossMode score = models::LossMode::last;
    int score_last_k = 1;
    // The task's samples, for clients that replay a dataset (`elmsim client`): the window of one SHD
    // sample, a whole sample's duration (SHD-Adding: two windows), and SHD-Adding's evaluation pairs
    // (their count and the run's seed, io::evaluation_pairs).
    double window_ms = 1000.0;
    double sample_ms = 1000.0;
    std::int64_t adding_pairs = 0;
    std::uint64_t pair_seed = 0;
};

class SessionTable {
public:
    // `backend` serves every session and must outlive the table. `token` (empty: none) must be sent
    // by an "auth" request before anything else.
    // `batcher` (may be null: every session runs its updates at once) must serve `backend`'s model
    // and outlive the table; so must `traces` (null: sessions asking for a trace are refused).
    SessionTable(sim::Backend& backend, ServedModel model, ProtocolLimits limits, int max_sessions,
                 std::string token = {}, sim::StreamBatcher* batcher = nullptr, TraceDirectory* traces = nullptr);
    // Commits the traces of the sessions still open.
    ~SessionTable();
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;

    // The server's first line to a client.
    std::string hello() const;
    // One request line; its reply lines are appended to `out`. Returns false when the connection must
    // be closed after the replies are sent (a line that is not a JSON object, too many failed auths).
    bool handle(std::string_view line, std::vector<std::string>& out);
    // The session whose planned updates the last handle() left to run (its reply is held back until
    // collect() says the request is done), or null.
    sim::Session* awaiting() const;
    // Without a batcher: runs the next at most `max_updates` of awaiting()'s updates at once.
    void run_slice(std::int64_t max_updates);
    // After a slice of awaiting() ran: appends the update lines made so far and, once no update is
    // left (or with a non-empty `error`: the batch failed, the rest is dropped), the held reply.
    // Returns true when the request is done (awaiting() is then null).
    bool collect(std::vector<std::string>& out, const std::string& error = {});
    int sessions() const { return static_cast<int>(sessions_.size()); }
    // Updates run so far, over all sessions.
    std::int64_t updates() const { return updates_; }

private:
    struct Entry {
        OpenRequest open;
        std::unique_ptr<sim::Session> session;
        std::unique_ptr<io::Recorder> trace;  // with "trace": true (the HDF5 trace writer)
        std::string trace_name, trace_error;  // the file; that it was dropped (told once)
        SessionId id = 0;
        int trace_sample = -1;                // the recorder's open sample (-1: none)
        std::int64_t samples = 0;
    };
    Entry& find(SessionId id);
    void stream_update(SessionId id, Entry& e, const sim::UpdateView& v);
    std::string ok_reply(const std::string& id_json, SessionId id, Entry& e) const;
    // The "ok" of a request that may have planned updates: now, or held for collect().
    void reply_ok(const Request& r, SessionId id, Entry& e, std::vector<std::string>& out);
    void flush_lines(std::vector<std::string>& out);  // lines_ to out
    // Traces: one update into the open sample (begun when needed), the sample's end, the commit.
    // A failing trace is dropped (trace_error says why), never the session.
    void trace_update(Entry& e, const sim::UpdateView& v);
    void end_trace_sample(Entry& e);
    void commit_trace(Entry& e);
    // Drops a failing trace (its temporary file goes) and logs why on the server's standard error;
    // the client is told only that it failed (server paths stay on the server).
    void drop_trace(Entry& e, SessionId id, const std::exception& why);

    sim::Backend& backend_;
    ServedModel model_;
    ProtocolLimits limits_;
    int max_sessions_;
    std::string token_;
    bool authenticated_;
    int failed_auths_ = 0;
    std::map<SessionId, Entry> sessions_;
    SessionId next_id_ = 1;
    sim::StreamBatcher* batcher_;
    TraceDirectory* traces_;
    std::vector<std::string> lines_;  // update lines of the running request
    struct Held {
        SessionId session = 0;
        std::string id_json;
        bool finish = false;  // the request ended a sample
    };
    std::optional<Held> held_;  // batched: the request awaiting its updates
    std::int64_t updates_ = 0;
};

}  // namespace elm::serve
