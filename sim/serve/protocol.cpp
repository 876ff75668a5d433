#include "elmsim/sim/serve/protocol.hpp"

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace elm::serve {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdChars = 64;
constexpr std::size_t kMaxTokenChars = 4096;
constexpr int kMaxDecimate = 1000000;
constexpr double kMaxResolutionMs = 1e6;

const char* type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "an array";
        case json::value_t::object: return "an object";
        case json::value_t::number_float: return "a number with a fraction";
        default: return "a number";
    }
}

[[noreturn]] void bad(const std::string& field, const std::string& what) { throw ProtocolError(field, what); }

// A JSON number as an exact integer in [lo, hi] (integers written as 5.0 are accepted; 5.5 is not).
std::int64_t integer(const json& v, const std::string& field, std::int64_t lo, std::int64_t hi) {
    if (!v.is_number()) bad(field, fmt::format("expected an integer, found {}", type_name(v)));
    double d;
    std::int64_t i;
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(hi)) bad(field, fmt::format("expected an integer in [{}, {}], found {}", lo, hi, u));
        i = static_cast<std::int64_t>(u);
    } else if (v.is_number_integer()) {
        i = v.get<std::int64_t>();
    } else {
        d = v.get<double>();
        if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || std::floor(d) != d)
            bad(field, fmt::format("expected an integer in [{}, {}], found {}", lo, hi, v.dump()));
        i = static_cast<std::int64_t>(d);
    }
    if (i < lo || i > hi) bad(field, fmt::format("expected an integer in [{}, {}], found {}", lo, hi, i));
    return i;
}

// A finite number in [lo, hi].
double number(const json& v, const std::string& field, double lo, double hi) {
    if (!v.is_number()) bad(field, fmt::format("expected a number, found {}", type_name(v)));
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) bad(field, fmt::format("expected a number in [{}, {}], found {}", lo, hi, v.dump()));
    return d;
}

const json& array(const json& v, const std::string& field, std::size_t max_size) {
    if (!v.is_array()) bad(field, fmt::format("expected an array, found {}", type_name(v)));
    if (v.size() > max_size) bad(field, fmt::format("{} entries, at most {} per message", v.size(), max_size));
    return v;
}

// The object's keys must all be in `allowed` ("op" and "id" always are); `required` must be there.
void check_keys(const json& obj, std::initializer_list<const char*> allowed, std::initializer_list<const char*> required,
                const std::string& op) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const std::string& k = it.key();
        if (k == "op" || k == "id") continue;
        bool ok = false;
        for (const char* a : allowed) ok = ok || k == a;
        if (!ok) bad(k, fmt::format("unknown field for \"{}\"", op));
    }
    for (const char* r : required)
        if (!obj.contains(r)) bad(r, fmt::format("missing (\"{}\" needs it)", op));
}

SessionId session_of(const json& obj) {
    return static_cast<SessionId>(integer(obj.at("session"), "session", 1, std::numeric_limits<SessionId>::max()));
}

OpenRequest parse_open(const json& obj, const ProtocolLimits& lim) {
    check_keys(obj, {"mode", "resolution_ms", "max_dt_ms", "stream", "neurons", "decimate", "top_k", "trace"}, {}, "open");
    OpenRequest r;
    if (obj.contains("mode")) {
        const json& m = obj["mode"];
        if (m == "clock") r.mode = Mode::clock;
        else if (m == "event") r.mode = Mode::event;
        else bad("mode", fmt::format("expected \"clock\" or \"event\", found {}", m.dump()));
    }
    if (obj.contains("resolution_ms")) {
        r.resolution_ms = number(obj["resolution_ms"], "resolution_ms", 0.0, kMaxResolutionMs);
        if (*r.resolution_ms <= 0.0) bad("resolution_ms", "expected a number > 0");
    }
    if (obj.contains("max_dt_ms")) r.max_dt_ms = number(obj["max_dt_ms"], "max_dt_ms", 0.0, lim.max_time_ms);
    if (obj.contains("stream")) {
        r.stream = 0;
        for (const json& s : array(obj["stream"], "stream", 8)) {
            if (s == "logits") r.stream |= kStreamLogits;
            else if (s == "prediction") r.stream |= kStreamPrediction;
            else if (s == "spikes") r.stream |= kStreamSpikes;
            else if (s == "y") r.stream |= kStreamY;
            else if (s == "top_k") r.stream |= kStreamTopK;
            else bad("stream", fmt::format("expected names from logits, prediction, spikes, y, top_k, found {}", s.dump()));
        }
    }
    if (obj.contains("neurons")) {
        const json& n = obj["neurons"];
        if (n.is_string()) {  // "a:b", half open
            const std::string s = n.get<std::string>();
            const auto colon = s.find(':');
            std::int64_t a = -1, b = -1;
            try {
                std::size_t used = 0;
                if (colon != std::string::npos && colon > 0 && colon + 1 < s.size()) {
                    a = std::stoll(s.substr(0, colon), &used);
                    if (used != colon) a = -1;
                    b = std::stoll(s.substr(colon + 1), &used);
                    if (used != s.size() - colon - 1) b = -1;
                }
            } catch (const std::exception&) {
                a = b = -1;
            }
            if (a < 0 || b <= a || b > lim.neurons)
                bad("neurons", fmt::format("expected a range \"a:b\" with 0 <= a < b <= N = {}, found {}", lim.neurons, n.dump()));
            for (std::int64_t k = a; k < b; ++k) r.neurons.push_back(static_cast<std::int32_t>(k));
        } else {
            for (const json& k : array(n, "neurons", static_cast<std::size_t>(lim.neurons)))
                r.neurons.push_back(static_cast<std::int32_t>(integer(k, "neurons", 0, lim.neurons - 1)));
        }
    }
    if (obj.contains("decimate")) r.decimate = static_cast<int>(integer(obj["decimate"], "decimate", 1, kMaxDecimate));
    if (obj.contains("top_k")) r.top_k = static_cast<int>(integer(obj["top_k"], "top_k", 1, 256));
    if (obj.contains("trace")) {
        if (!obj["trace"].is_boolean()) bad("trace", fmt::format("expected true or false, found {}", type_name(obj["trace"])));
        r.trace = obj["trace"].get<bool>();
    }
    return r;
}

EventsRequest parse_events(const json& obj, const ProtocolLimits& lim) {
    check_keys(obj, {"session", "t_ms", "channels"}, {"session", "t_ms", "channels"}, "events");
    EventsRequest r;
    r.session = session_of(obj);
    const json& t = array(obj["t_ms"], "t_ms", lim.max_events);
    const json& c = array(obj["channels"], "channels", lim.max_events);
    if (t.size() != c.size())
        bad("channels", fmt::format("{} channels for {} times: expected one per event", c.size(), t.size()));
    r.t_ms.reserve(t.size());
    r.channels.reserve(c.size());
    for (std::size_t k = 0; k < t.size(); ++k) {
        const double v = number(t[k], "t_ms", 0.0, lim.max_time_ms);
        if (k > 0 && v < r.t_ms.back())
            bad("t_ms", fmt::format("times must ascend: t_ms[{}] = {} after {}", k, v, r.t_ms.back()));
        r.t_ms.push_back(v);
        r.channels.push_back(static_cast<std::int32_t>(integer(c[k], "channels", 0, lim.channels - 1)));
    }
    return r;
}

BytesRequest parse_bytes(const json& obj, const ProtocolLimits& lim) {
    check_keys(obj, {"session", "bytes", "text"}, {"session"}, "bytes");
    BytesRequest r;
    r.session = session_of(obj);
    const bool has_bytes = obj.contains("bytes"), has_text = obj.contains("text");
    if (has_bytes == has_text) bad(has_bytes ? "text" : "bytes", "expected exactly one of \"bytes\" and \"text\"");
    if (has_bytes) {
        for (const json& b : array(obj["bytes"], "bytes", lim.max_bytes))
            r.bytes.push_back(static_cast<std::uint8_t>(integer(b, "bytes", 0, 255)));
    } else {
        const json& t = obj["text"];
        if (!t.is_string()) bad("text", fmt::format("expected a string, found {}", type_name(t)));
        const std::string& s = t.get_ref<const std::string&>();
        if (s.size() > lim.max_bytes) bad("text", fmt::format("{} bytes, at most {} per message", s.size(), lim.max_bytes));
        r.bytes.assign(s.begin(), s.end());
    }
    return r;
}

AdvanceRequest parse_advance(const json& obj, const ProtocolLimits& lim, bool finish) {
    const char* op = finish ? "finish" : "advance";
    check_keys(obj, {"session", "t_ms"}, {"session", "t_ms"}, op);
    AdvanceRequest r;
    r.session = session_of(obj);
    r.t_ms = number(obj["t_ms"], "t_ms", 0.0, lim.max_time_ms);
    r.finish = finish;
    return r;
}

}  // namespace

Request parse_request(std::string_view line, const ProtocolLimits& limits) {
    // nlohmann's parser stops at a NUL as at the end of the input: what follows would be dropped unseen.
    if (line.find('\0') != std::string_view::npos)
        throw ProtocolError("", fmt::format("not a JSON line: a NUL byte at offset {}", line.find('\0')), true);
    json obj;
    std::string duplicate;
    std::vector<std::set<std::string>> keys;  // the keys of each object being parsed, innermost last
    const json::parser_callback_t no_duplicates = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
            keys.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            if (!keys.empty()) keys.pop_back();
        } else if (event == json::parse_event_t::key && !keys.empty()) {
            const std::string& k = parsed.get_ref<const std::string&>();
            if (!keys.back().insert(k).second && duplicate.empty()) duplicate = k;
        }
        return true;
    };
    try {
        obj = json::parse(line.begin(), line.end(), no_duplicates);
    } catch (const json::exception& e) {
        throw ProtocolError("", fmt::format("not a JSON line: {}", e.what()), true);
    }
    if (!obj.is_object()) throw ProtocolError("", fmt::format("expected a JSON object, found {}", type_name(obj)), true);
    Request r;
    try {
        if (obj.contains("id")) {
            const json& id = obj["id"];
            const bool ok = (id.is_string() && id.get_ref<const std::string&>().size() <= kMaxIdChars) ||
                            id.is_number_integer();
            if (!ok) bad("id", fmt::format("expected a string of at most {} characters or an integer", kMaxIdChars));
            r.id_json = id.dump();
        }
        if (!duplicate.empty()) bad(duplicate, "given twice in one object: expected each key once");
        if (!obj.contains("op")) bad("op", "missing");
        if (!obj["op"].is_string()) bad("op", fmt::format("expected a string, found {}", type_name(obj["op"])));
        r.op = obj["op"].get<std::string>();
        if (r.op == "auth") {
            check_keys(obj, {"token"}, {"token"}, "auth");
            const json& t = obj["token"];
            if (!t.is_string() || t.get_ref<const std::string&>().size() > kMaxTokenChars)
                bad("token", fmt::format("expected a string of at most {} characters", kMaxTokenChars));
            r.body = AuthRequest{t.get<std::string>()};
        } else if (r.op == "open") {
            r.body = parse_open(obj, limits);
        } else if (r.op == "events") {
            r.body = parse_events(obj, limits);
        } else if (r.op == "bytes") {
            r.body = parse_bytes(obj, limits);
        } else if (r.op == "advance" || r.op == "finish") {
            r.body = parse_advance(obj, limits, r.op == "finish");
        } else if (r.op == "read" || r.op == "reset" || r.op == "close") {
            check_keys(obj, {"session"}, {"session"}, r.op);
            const SessionOp op = r.op == "read" ? SessionOp::read : r.op == "reset" ? SessionOp::reset : SessionOp::close;
            r.body = SessionRequest{session_of(obj), op};
        } else {
            bad("op", fmt::format("unknown operation \"{}\" (expected auth, open, events, bytes, advance, finish, read, "
                                  "reset or close)", r.op));
        }
    } catch (ProtocolError& e) {
        e.set_id_json(r.id_json);
        throw;
    }
    return r;
}

std::string error_reply(const std::string& id_json, const std::string& field, const std::string& message) {
    json j = {{"op", "error"}, {"field", field}, {"error", message}};
    if (!id_json.empty()) j["id"] = json::parse(id_json);
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace elm::serve
