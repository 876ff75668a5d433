// The wire protocol of `elmsim serve` (docs/protocol.md): JSON lines over TCP, one object per line,
// through nlohmann-json. This file turns one line into a typed request, checked against the model it
// will be run on (channels, neurons) and the server's limits, or a ProtocolError naming the field.
// A line is one JSON object and nothing else: a NUL byte, anything after the object, or a key given
// twice (last-one-wins would let two readers of the same line disagree) is refused.
// It does no I/O and knows no sockets, so every rule is testable as a function (tests/test_protocol.cpp)
// and the server (and its fuzz target) calls exactly this.
//
// Requests (every one may carry "id", a string of <= 64 characters or an integer, echoed in its reply):
//   {"op":"auth","token":"..."}                      when the server has a --token-file
//   {"op":"open", "mode":"clock"|"event", "resolution_ms":R, "max_dt_ms":D,
//        "stream":["logits","prediction","spikes","y","top_k"], "neurons":[...]|"a:b",
//        "decimate":K, "top_k":K, "trace":true}         all optional
//   {"op":"events","session":S,"t_ms":[...],"channels":[...]}   times ascending, channels < C
//   {"op":"bytes","session":S,"bytes":[0..255,...]} | {"op":"bytes","session":S,"text":"..."}
//   {"op":"advance","session":S,"t_ms":T}      {"op":"finish","session":S,"t_ms":T}
//   {"op":"read","session":S}  {"op":"reset","session":S}  {"op":"close","session":S}
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace elm::serve {

// What the parser checks requests against.
struct ProtocolLimits {
    int channels = 0;                     // the model's raw input channels (events: channel < channels)
    int neurons = 0;                      // the model's N (open: neurons < N)
    std::size_t max_events = 1 << 16;     // events per "events" message
    std::size_t max_bytes = 1 << 16;      // bytes per "bytes" message
    double max_time_ms = 1e12;            // the largest time a request may name
    // Work one request may cause and what a session may hold (sim::SessionOptions' limits): the
    // updates of one advance / finish / bytes request, counted before anything runs, and the events
    // waiting for their time, per session and for all sessions of a connection together. Sized for
    // real-time use: 16384 updates are 16 s of a 1 ms clock.
    std::int64_t max_updates_per_request = 16384;
    std::int64_t max_pending_events = 65536;
};

// A request that cannot be run: `field` is the request's key at fault ("" for the line itself);
// `fatal` when the line is not a JSON object at all (the connection is then closed, since nothing
// after it can be trusted to be framed as the client meant).
class ProtocolError : public std::runtime_error {
public:
    ProtocolError(std::string field, const std::string& message, bool fatal = false)
        : std::runtime_error(message), field_(std::move(field)), fatal_(fatal) {}
    const std::string& field() const { return field_; }
    bool fatal() const { return fatal_; }
    // The request's "id" as JSON text when it could be read ("" otherwise), for the error reply.
    const std::string& id_json() const { return id_json_; }
    void set_id_json(std::string id) { id_json_ = std::move(id); }

private:
    std::string field_;
    bool fatal_;
    std::string id_json_;
};

enum class Mode { clock, event };

// What an open session streams back after each update (bit set).
enum StreamBits : unsigned {
    kStreamLogits = 1u << 0,
    kStreamPrediction = 1u << 1,
    kStreamSpikes = 1u << 2,  // the neurons whose output is non-zero (spiking models: that spiked)
    kStreamY = 1u << 3,       // y of the chosen neurons
    kStreamTopK = 1u << 4,    // byte models: the top_k most likely next bytes with probabilities
};

using SessionId = std::uint32_t;

struct AuthRequest {
    std::string token;
};
struct OpenRequest {
    std::optional<Mode> mode;                 // default: the model's time base
    std::optional<double> resolution_ms;      // event mode
    std::optional<double> max_dt_ms;          // event mode
    unsigned stream = kStreamPrediction;
    std::vector<std::int32_t> neurons;        // for kStreamY (empty: all)
    int decimate = 1;                         // stream every K-th update
    int top_k = 5;
    bool trace = false;                       // a server-side HDF5 trace (server-chosen name)
};
struct EventsRequest {
    SessionId session = 0;
    std::vector<double> t_ms;
    std::vector<std::int32_t> channels;
};
struct BytesRequest {
    SessionId session = 0;
    std::vector<std::uint8_t> bytes;
};
struct AdvanceRequest {
    SessionId session = 0;
    double t_ms = 0;
    bool finish = false;  // "finish": end the sample at t_ms (sim::Session::finish)
};
enum class SessionOp { read, reset, close };
struct SessionRequest {
    SessionId session = 0;
    SessionOp op = SessionOp::read;
};

struct Request {
    std::string op;       // as sent
    std::string id_json;  // the "id" as JSON text ("" when absent), for the reply
    std::variant<AuthRequest, OpenRequest, EventsRequest, BytesRequest, AdvanceRequest, SessionRequest> body;
};

// One line (without its newline). ProtocolError for anything the protocol does not allow.
Request parse_request(std::string_view line, const ProtocolLimits& limits);

// {"op":"error","id":...,"field":"...","error":"..."} as one line (no newline).
std::string error_reply(const std::string& id_json, const std::string& field, const std::string& message);

}  // namespace elm::serve
