// The wire protocol of `elmsim serve` (sim/serve/protocol.hpp, docs/protocol.md): every request type
// parsed from good lines into the values sent, and bad lines — each field missing, of the wrong type,
// out of range, huge, NaN, extra fields, unknown operations, times that go back — rejected with the
// field named, the request's id kept for the reply, and only lines that are not JSON objects fatal.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "elmsim/sim/serve/protocol.hpp"

using namespace elm::serve;

namespace {

ProtocolLimits limits() {
    ProtocolLimits l;
    l.channels = 700;
    l.neurons = 64;
    l.max_events = 8;
    l.max_bytes = 8;
    return l;
}

struct Bad {
    const char* line;
    const char* field;  // the field the error must name
};

}  // namespace

TEST_CASE("protocol: good requests parse into the values sent", "[protocol]") {
    const auto L = limits();
    {
        const Request r = parse_request(R"({"op":"open","id":7,"mode":"event","resolution_ms":0.5,"max_dt_ms":20,)"
                                        R"("stream":["logits","y","spikes"],"neurons":"2:5","decimate":3,"trace":true})",
                                        L);
        CHECK(r.op == "open");
        CHECK(r.id_json == "7");
        const auto& o = std::get<OpenRequest>(r.body);
        REQUIRE(o.mode);
        CHECK(*o.mode == Mode::event);
        CHECK(*o.resolution_ms == 0.5);
        CHECK(*o.max_dt_ms == 20.0);
        CHECK(o.stream == (kStreamLogits | kStreamY | kStreamSpikes));
        CHECK(o.neurons == std::vector<std::int32_t>{2, 3, 4});
        CHECK(o.decimate == 3);
        CHECK(o.trace);
    }
    {
        const auto o = std::get<OpenRequest>(parse_request(R"({"op":"open"})", L).body);
        CHECK_FALSE(o.mode);
        CHECK(o.stream == kStreamPrediction);
        CHECK(o.neurons.empty());
        CHECK(o.decimate == 1);
        CHECK(parse_request(R"({"op":"open"})", L).id_json.empty());
    }
    {
        const Request r = parse_request(R"({"op":"events","id":"a-1","session":3,"t_ms":[0,1.5,1.5,9],"channels":[0,699,5,5]})", L);
        CHECK(r.id_json == "\"a-1\"");
        const auto& e = std::get<EventsRequest>(r.body);
        CHECK(e.session == 3);
        CHECK(e.t_ms == std::vector<double>{0, 1.5, 1.5, 9});
        CHECK(e.channels == std::vector<std::int32_t>{0, 699, 5, 5});
    }
    CHECK(std::get<BytesRequest>(parse_request(R"({"op":"bytes","session":1,"bytes":[0,255,10]})", L).body).bytes ==
          std::vector<std::uint8_t>{0, 255, 10});
    CHECK(std::get<BytesRequest>(parse_request(R"({"op":"bytes","session":1,"text":"hi\n"})", L).body).bytes ==
          std::vector<std::uint8_t>{'h', 'i', '\n'});
    {
        const auto a = std::get<AdvanceRequest>(parse_request(R"({"op":"advance","session":2,"t_ms":100})", L).body);
        CHECK(a.t_ms == 100.0);
        CHECK_FALSE(a.finish);
        CHECK(std::get<AdvanceRequest>(parse_request(R"({"op":"finish","session":2,"t_ms":1e3})", L).body).finish);
    }
    for (const auto& [line, op] : {std::pair{R"({"op":"read","session":4294967295})", SessionOp::read},
                                   std::pair{R"({"op":"reset","session":1})", SessionOp::reset},
                                   std::pair{R"({"op":"close","session":2.0})", SessionOp::close}}) {
        INFO(line);
        const auto s = std::get<SessionRequest>(parse_request(line, L).body);
        CHECK(s.op == op);
    }
    CHECK(std::get<AuthRequest>(parse_request(R"({"op":"auth","token":"s3cret"})", L).body).token == "s3cret");
}

TEST_CASE("protocol: bad requests name the field and keep the id, and do not end the connection", "[protocol]") {
    const auto L = limits();
    const Bad cases[] = {
        // the operation
        {R"({"session":1})", "op"},
        {R"({"op":5})", "op"},
        {R"({"op":"launch"})", "op"},
        {R"({"op":null})", "op"},
        // the id
        {R"({"op":"open","id":[1]})", "id"},
        {R"({"op":"open","id":1.5})", "id"},
        {R"({"op":"open","id":"0123456789012345678901234567890123456789012345678901234567890123456789"})", "id"},
        // extra and missing fields
        {R"({"op":"open","colour":"red"})", "colour"},
        {R"({"op":"read","session":1,"t_ms":3})", "t_ms"},
        {R"({"op":"read"})", "session"},
        {R"({"op":"events","session":1,"t_ms":[1]})", "channels"},
        {R"({"op":"events","session":1,"channels":[1]})", "t_ms"},
        {R"({"op":"advance","session":1})", "t_ms"},
        {R"({"op":"auth"})", "token"},
        {R"({"op":"bytes","session":1})", "bytes"},
        {R"({"op":"bytes","session":1,"bytes":[1],"text":"a"})", "text"},
        // wrong types
        {R"({"op":"read","session":"1"})", "session"},
        {R"({"op":"read","session":true})", "session"},
        {R"({"op":"read","session":1.5})", "session"},
        {R"({"op":"events","session":1,"t_ms":3,"channels":[1]})", "t_ms"},
        {R"({"op":"events","session":1,"t_ms":["3"],"channels":[1]})", "t_ms"},
        {R"({"op":"events","session":1,"t_ms":[3],"channels":[1.5]})", "channels"},
        {R"({"op":"events","session":1,"t_ms":[3],"channels":{"a":1}})", "channels"},
        {R"({"op":"bytes","session":1,"bytes":"abc"})", "bytes"},
        {R"({"op":"bytes","session":1,"text":[1]})", "text"},
        {R"({"op":"open","mode":1})", "mode"},
        {R"({"op":"open","mode":"sometimes"})", "mode"},
        {R"({"op":"open","stream":"logits"})", "stream"},
        {R"({"op":"open","stream":["logits","colours"]})", "stream"},
        {R"({"op":"open","trace":"yes"})", "trace"},
        {R"({"op":"open","decimate":"2"})", "decimate"},
        {R"({"op":"auth","token":7})", "token"},
        // out of range and huge
        {R"({"op":"read","session":0})", "session"},
        {R"({"op":"read","session":-1})", "session"},
        {R"({"op":"read","session":4294967296})", "session"},
        {R"({"op":"read","session":18446744073709551616})", "session"},
        {R"({"op":"read","session":1e300})", "session"},
        {R"({"op":"events","session":1,"t_ms":[-1],"channels":[1]})", "t_ms"},
        {R"({"op":"events","session":1,"t_ms":[1e13],"channels":[1]})", "t_ms"},
        {R"({"op":"events","session":1,"t_ms":[1],"channels":[700]})", "channels"},
        {R"({"op":"events","session":1,"t_ms":[1],"channels":[-1]})", "channels"},
        {R"({"op":"events","session":1,"t_ms":[1,2],"channels":[1]})", "channels"},
        {R"({"op":"events","session":1,"t_ms":[1,2,3,4,5,6,7,8,9],"channels":[1,1,1,1,1,1,1,1,1]})", "t_ms"},
        {R"({"op":"bytes","session":1,"bytes":[256]})", "bytes"},
        {R"({"op":"bytes","session":1,"bytes":[1,2,3,4,5,6,7,8,9]})", "bytes"},
        {R"({"op":"bytes","session":1,"text":"123456789"})", "text"},
        {R"({"op":"advance","session":1,"t_ms":-0.5})", "t_ms"},
        {R"({"op":"open","resolution_ms":0})", "resolution_ms"},
        {R"({"op":"open","resolution_ms":-1})", "resolution_ms"},
        {R"({"op":"open","decimate":0})", "decimate"},
        {R"({"op":"open","decimate":1e9})", "decimate"},
        {R"({"op":"open","top_k":257})", "top_k"},
        {R"({"op":"open","neurons":[64]})", "neurons"},
        {R"({"op":"open","neurons":"5:5"})", "neurons"},
        {R"({"op":"open","neurons":"0:65"})", "neurons"},
        {R"({"op":"open","neurons":"a:b"})", "neurons"},
        {R"({"op":"open","neurons":"3"})", "neurons"},
        {R"({"op":"open","neurons":"1:2:3"})", "neurons"},
        // times that go back within a message
        {R"({"op":"events","session":1,"t_ms":[5,4],"channels":[1,1]})", "t_ms"},
        // a key twice: last-one-wins would let two readers of one line disagree
        {R"({"op":"open","op":"open"})", "op"},
        {R"({"op":"advance","session":1,"t_ms":1,"t_ms":1e12})", "t_ms"},
        {R"({"op":"read","session":1,"session":2})", "session"},
    };
    for (const Bad& b : cases) {
        INFO(b.line);
        const std::string with_id = std::string(b.line).find("\"id\"") == std::string::npos
                                        ? "{\"id\":\"q\"," + std::string(b.line).substr(1)
                                        : std::string(b.line);
        try {
            parse_request(with_id, L);
            FAIL("accepted");
        } catch (const ProtocolError& e) {
            INFO(e.what());
            CHECK(e.field() == b.field);
            CHECK_FALSE(e.fatal());
            if (std::string(b.field) != "id") CHECK(e.id_json() == "\"q\"");
        }
    }
}

TEST_CASE("protocol: a line that is not a JSON object is fatal for the connection", "[protocol]") {
    const auto L = limits();
    for (const char* line : {"", "hello", "{\"op\":\"open\"", "[1,2]", "42", "\"open\"", "{\"op\":\"read\",\"session\":NaN}",
                             "{\"op\":\"advance\",\"session\":1,\"t_ms\":1e400}", "{\"op\":\"open\"}{\"op\":\"open\"}",
                             "\xff\xfe{}"}) {
        INFO(line);
        try {
            parse_request(line, L);
            FAIL("accepted");
        } catch (const ProtocolError& e) {
            CHECK(e.fatal());
            CHECK(e.field().empty());
        }
    }
}

TEST_CASE("protocol: error replies are one JSON line echoing the id", "[protocol]") {
    CHECK(error_reply("\"q\"", "t_ms", "times must ascend") ==
          R"({"error":"times must ascend","field":"t_ms","id":"q","op":"error"})");
    CHECK(error_reply("", "", "not a JSON line") == R"({"error":"not a JSON line","field":"","op":"error"})");
    // bytes that are not UTF-8 in a message are replaced, never thrown on
    const std::string r = error_reply("7", "text", std::string("bad \xff byte"));
    CHECK(r.find('\n') == std::string::npos);
    CHECK(r.find("\"id\":7") != std::string::npos);
}

TEST_CASE("protocol: a NUL byte anywhere in a line makes it malformed, the rest is never dropped unseen",
          "[protocol]") {
    const auto L = limits();
    using namespace std::string_literals;
    for (const std::string& line : {"{\"op\":\"open\"}\0{\"op\":\"open\"}"s, "{\"op\":\"open\"}\0"s,
                                    "{\"op\":\"o\0pen\"}"s, "\0"s}) {
        INFO(line.size());
        try {
            parse_request(line, L);
            FAIL("accepted");
        } catch (const ProtocolError& e) {
            CHECK(e.fatal());
            CHECK(std::string(e.what()).find("NUL") != std::string::npos);
        }
    }
}
