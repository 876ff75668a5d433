// The sessions of one `elmsim serve` connection (sim/serve/session_table.hpp), request lines in,
// reply lines out: the streamed outputs of a session equal a sim::Session fed the same events (which
// tests/test_session.cpp holds equal to `simulate`), bit for bit; errors keep the session usable;
// sessions are separate; limits, authentication and byte models.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/serve/session_table.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/session_models.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using nlohmann::json;

namespace {

models::ModelConfig spike_config() { return test::session_config(models::OutputMode::spike); }

serve::ProtocolLimits limits_for(const models::ModelConfig& cfg) {
    serve::ProtocolLimits l;
    l.channels = cfg.C;
    l.neurons = cfg.N;
    return l;
}

// Slices of an odd size, so that requests run in several pieces and their outputs must still be
// those of one run.
constexpr std::int64_t kSlice = 7;

// One request; the updates it planned are run slice by slice (by the batcher, as the server's batch
// thread does, or at once) and its replies collected after each slice.
std::vector<json> send(serve::SessionTable& t, const std::string& line, bool* keep = nullptr,
                       sim::StreamBatcher* batcher = nullptr) {
    std::vector<std::string> out;
    const bool k = t.handle(line, out);
    if (keep) *keep = k;
    if (t.awaiting()) CHECK(out.empty());  // the reply waits for the updates
    while (sim::Session* s = t.awaiting()) {
        const std::int64_t before = s->queued_updates();
        if (batcher) {
            std::vector<sim::Session*> one = {s};
            batcher->run(one, kSlice);
        } else {
            t.run_slice(kSlice);
        }
        CHECK(s->queued_updates() == std::max<std::int64_t>(0, before - kSlice));
        const bool done = t.collect(out);
        CHECK(done == (t.awaiting() == nullptr));
    }
    std::vector<json> j;
    for (const auto& s : out) {
        CHECK(s.find('\n') == std::string::npos);
        j.push_back(json::parse(s));
    }
    return j;
}

struct Events {
    std::vector<double> t;
    std::vector<std::int32_t> c;
};

Events random_events(int n, double t_max, int C, std::uint64_t seed) {
    Rng rng(seed, 9);
    Events e;
    for (int k = 0; k < n; ++k) e.t.push_back(rng.uniform(0.0, t_max));
    std::sort(e.t.begin(), e.t.end());
    for (int k = 0; k < n; ++k) e.c.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(C))));
    return e;
}

}  // namespace

TEST_CASE("serve sessions stream exactly the updates of a sim::Session, in event and clock mode", "[serve]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    const Events ev = random_events(60, 40.0, cfg.C, 3);
    sim::StreamBatcher batcher(*backend, 8);
    for (const auto& [event, batched] : {std::pair{true, false}, std::pair{false, false}, std::pair{true, true},
                                         std::pair{false, true}}) {
        INFO((event ? "event" : "clock") << " mode, " << (batched ? "micro-batched" : "at once"));
        sim::StreamBatcher* batch = batched ? &batcher : nullptr;
        // The reference: a Session fed the same pieces.
        sim::SessionOptions so;
        so.event_mode = event;
        so.resolution_ms = 0.5;
        std::vector<std::vector<float>> want_logits;
        std::vector<double> want_t;
        sim::Session ref(*backend, so, [&](const sim::UpdateView& v) {
            want_logits.emplace_back(v.logits, v.logits + cfg.n_out);
            want_t.push_back(v.time_ms);
        });
        serve::SessionTable table(*backend, serve::ServedModel{}, limits_for(cfg), 8, "", batch);
        const auto opened = send(table, fmt::format(R"({{"op":"open","id":1,"mode":"{}"{},"stream":["logits","spikes"]}})",
                                                    event ? "event" : "clock", event ? R"(,"resolution_ms":0.5)" : ""),
                                 nullptr, batch);
        REQUIRE(opened.size() == 1);
        REQUIRE(opened[0]["op"] == "opened");
        CHECK(opened[0]["id"] == 1);
        const int s = opened[0]["session"];
        std::vector<std::vector<float>> got_logits;
        std::vector<double> got_t;
        const auto collect = [&](const std::vector<json>& replies, const std::string& ok_op) {
            for (std::size_t k = 0; k < replies.size(); ++k) {
                const json& r = replies[k];
                if (r["op"] == "update") {
                    CHECK(r["session"] == s);
                    got_logits.push_back(r["logits"].get<std::vector<float>>());
                    got_t.push_back(r["t_ms"]);
                } else {
                    CHECK(k + 1 == replies.size());  // the ok comes after the updates it caused
                    CHECK(r["op"] == ok_op);
                }
            }
        };
        for (std::size_t a = 0; a < ev.t.size(); a += 7) {  // pieces of 7 events
            const std::size_t b = std::min(ev.t.size(), a + 7);
            const std::vector<double> t(ev.t.begin() + a, ev.t.begin() + b);
            const std::vector<std::int32_t> c(ev.c.begin() + a, ev.c.begin() + b);
            ref.push_events(t, c);
            collect(send(table, json({{"op", "events"}, {"session", s}, {"t_ms", t}, {"channels", c}}).dump(), nullptr, batch),
                    "ok");
        }
        ref.finish(45.0);
        collect(send(table, fmt::format(R"({{"op":"finish","session":{},"t_ms":45}})", s), nullptr, batch), "ok");
        REQUIRE(!want_logits.empty());
        CHECK(got_logits == want_logits);  // floats through JSON and back: the same bits
        CHECK(got_t == want_t);
        const auto state = send(table, fmt::format(R"({{"op":"read","session":{},"id":"r"}})", s), nullptr, batch);
        CHECK(state[0]["op"] == "state");
        CHECK(state[0]["prediction"] == ref.prediction());
        CHECK(state[0]["updates"] == ref.updates());
    }
}

TEST_CASE("serve sessions: errors name the field and keep the session, and sessions are separate", "[serve]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    serve::SessionTable table(*backend, serve::ServedModel{}, limits_for(cfg), 2);
    const json hello = json::parse(table.hello());
    CHECK(hello["op"] == "hello");
    CHECK(hello["model"]["N"] == cfg.N);
    CHECK(hello["model"]["C"] == cfg.C);
    CHECK(hello["auth"] == false);
    CHECK(send(table, R"({"op":"open","trace":true})")[0]["field"] == "trace");  // no --trace-dir
    const int a = send(table, R"({"op":"open","mode":"event","stream":["prediction"]})")[0]["session"];
    const int b = send(table, R"({"op":"open","mode":"event"})")[0]["session"];
    CHECK(a != b);
    auto r = send(table, R"({"op":"open"})");  // the limit of 2
    CHECK(r[0]["op"] == "error");
    CHECK(r[0]["field"] == "op");
    send(table, fmt::format(R"({{"op":"advance","session":{},"t_ms":10}})", a));
    r = send(table, fmt::format(R"({{"op":"events","id":5,"session":{},"t_ms":[3],"channels":[1]}})", a));
    CHECK(r[0]["op"] == "error");
    CHECK(r[0]["field"] == "t_ms");
    CHECK(r[0]["id"] == 5);
    r = send(table, fmt::format(R"({{"op":"events","session":{},"t_ms":[12],"channels":[30]}})", a));
    CHECK(r[0]["field"] == "channels");
    r = send(table, R"({"op":"read","session":99})");
    CHECK(r[0]["field"] == "session");
    r = send(table, fmt::format(R"({{"op":"bytes","session":{},"text":"x"}})", a));
    CHECK(r[0]["field"] == "op");
    r = send(table, fmt::format(R"({{"op":"events","session":{},"t_ms":[12,13],"channels":[1,2]}})", a));
    CHECK(r.back()["op"] == "ok");  // still usable
    CHECK(r.back()["t_ms"] <= 13.0);
    // session b never moved
    CHECK(send(table, fmt::format(R"({{"op":"read","session":{}}})", b))[0]["updates"] == 0);
    CHECK(send(table, fmt::format(R"({{"op":"close","session":{}}})", b))[0]["op"] == "closed");
    CHECK(table.sessions() == 1);
    CHECK(send(table, fmt::format(R"({{"op":"read","session":{}}})", b))[0]["field"] == "session");
    bool keep = true;
    r = send(table, "not json", &keep);
    CHECK(r[0]["op"] == "error");
    CHECK_FALSE(keep);
}

TEST_CASE("serve sessions: a token is asked for before anything else", "[serve]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    serve::SessionTable table(*backend, serve::ServedModel{}, limits_for(cfg), 4, "s3cret");
    CHECK(json::parse(table.hello())["auth"] == true);
    CHECK(send(table, R"({"op":"open"})")[0]["field"] == "op");
    CHECK(send(table, R"({"op":"auth","token":"guess"})")[0]["field"] == "token");
    CHECK(send(table, R"({"op":"auth","token":"s3cret"})")[0]["op"] == "ok");
    CHECK(send(table, R"({"op":"open"})")[0]["op"] == "opened");
    // Requests without the token count as failed auths: the third closes the connection.
    serve::SessionTable other(*backend, serve::ServedModel{}, limits_for(cfg), 4, "s3cret");
    bool keep = true;
    for (int k = 0; k < 2; ++k) {
        CHECK(send(other, R"({"op":"open"})", &keep)[0]["field"] == "op");
        CHECK(keep);
    }
    CHECK(send(other, R"({"op":"read","session":1})", &keep)[0]["op"] == "error");
    CHECK_FALSE(keep);
}

TEST_CASE("serve sessions with a byte model: bytes in, the next-byte distribution out", "[serve]") {
    auto cfg = spike_config();
    cfg.output_mode = models::OutputMode::analog;
    cfg.C = 256;
    cfg.n_out = 256;
    cfg.C_e = 5;
    cfg.dt_ms = 1.0;
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    serve::ServedModel m;
    m.task = "bytes";
    m.bytes = true;
    m.score = models::LossMode::next_byte;
    serve::SessionTable table(*backend, m, limits_for(cfg), 4);
    const int s = send(table, R"({"op":"open","stream":["top_k","prediction"],"top_k":3})")[0]["session"];
    const auto r = send(table, fmt::format(R"({{"op":"bytes","session":{},"text":"hello"}})", s));
    REQUIRE(r.size() == 6);  // one update per byte in clock mode, then ok
    for (int k = 0; k < 5; ++k) {
        const json& u = r[static_cast<std::size_t>(k)];
        CHECK(u["op"] == "update");
        REQUIRE(u["top_k"].size() == 3);
        CHECK(u["top_k"][0][0] == u["prediction"]);
        CHECK(u["top_k"][0][1] >= u["top_k"][1][1]);
    }
    CHECK(r[5]["updates"] == 5);
    CHECK(send(table, fmt::format(R"({{"op":"events","session":{},"t_ms":[9],"channels":[1]}})", s))[0]["field"] == "op");
}

TEST_CASE("serve sessions: traces under the server's directory, a sample per finish, committed on close", "[serve]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    const test::TempDir tmp("serve_traces");
    CHECK_THROWS_AS(serve::TraceDirectory(tmp.file("missing"), "m.h5", "test"), ParameterError);
    serve::TraceDirectory traces(tmp.dir.string(), "m.h5", "test");
    sim::StreamBatcher batcher(*backend, 4);
    const Events ev = random_events(40, 30.0, cfg.C, 11);
    for (const bool batched : {false, true}) {
        INFO((batched ? "micro-batched" : "at once"));
        sim::StreamBatcher* bat = batched ? &batcher : nullptr;
        // The reference: a Session fed the same, reset between the two samples.
        std::vector<std::vector<float>> want_y, want_logits;
        sim::SessionOptions so;
        so.event_mode = true;
        so.resolution_ms = 0.5;
        sim::Session ref(*backend, so, [&](const sim::UpdateView& v) {
            want_y.emplace_back(v.y, v.y + cfg.N);
            want_logits.emplace_back(v.logits, v.logits + cfg.n_out);
        });
        std::string name;
        std::vector<std::int64_t> updates_per_sample;
        {
            serve::SessionTable table(*backend, serve::ServedModel{}, limits_for(cfg), 4, "", bat, &traces);
            const auto opened = send(table, R"({"op":"open","mode":"event","resolution_ms":0.5,"trace":true})", nullptr, bat);
            REQUIRE(opened[0]["op"] == "opened");
            name = opened[0]["trace"];
            CHECK(name.find('/') == std::string::npos);  // a name in the server's directory, chosen by it
            const int s = opened[0]["session"];
            // A trace that is not true is not a path either: only a boolean is read.
            CHECK(send(table, R"({"op":"open","trace":"../../etc/x.h5"})")[0]["field"] == "trace");
            for (int sample = 0; sample < 2; ++sample) {
                const auto before = want_y.size();
                ref.push_events(ev.t, ev.c);
                ref.finish(35.0);
                send(table, json({{"op", "events"}, {"session", s}, {"t_ms", ev.t}, {"channels", ev.c}}).dump(), nullptr, bat);
                const auto r = send(table, fmt::format(R"({{"op":"finish","session":{},"t_ms":35}})", s), nullptr, bat);
                CHECK(r.back()["op"] == "ok");
                updates_per_sample.push_back(static_cast<std::int64_t>(want_y.size() - before));
                ref.reset();
                send(table, fmt::format(R"({{"op":"reset","session":{}}})", s), nullptr, bat);
            }
            if (batched) {
                // The second session's trace is committed when the connection's table goes, not closed.
                const auto o2 = send(table, R"({"op":"open","trace":true})", nullptr, bat);
                send(table, fmt::format(R"({{"op":"advance","session":{},"t_ms":10}})", int(o2[0]["session"])), nullptr, bat);
                name = std::string(o2[0]["trace"]) + "|" + name;
            }
            const auto closed = send(table, fmt::format(R"({{"op":"close","session":{}}})", s), nullptr, bat);
            CHECK(closed[0]["op"] == "closed");
        }
        const std::string first = batched ? name.substr(name.find('|') + 1) : name;
        const auto tr = io::read_trace(tmp.file(first));
        CHECK(tr.mode == "event");
        CHECK(tr.model == "m.h5");
        REQUIRE(tr.samples.size() == 2);
        std::size_t u = 0;
        for (std::size_t k = 0; k < 2; ++k) {
            const auto& ts = tr.samples[k];
            CHECK(ts.source_index == static_cast<std::int64_t>(k));
            REQUIRE(ts.T == updates_per_sample[k]);
            for (std::int64_t t = 0; t < ts.T; ++t, ++u) {
                CHECK(std::vector<float>(ts.y.begin() + t * cfg.N, ts.y.begin() + (t + 1) * cfg.N) == want_y[u]);
                CHECK(std::vector<float>(ts.logits.begin() + t * cfg.n_out, ts.logits.begin() + (t + 1) * cfg.n_out) ==
                      want_logits[u]);
            }
        }
        if (batched) {
            const auto second = io::read_trace(tmp.file(name.substr(0, name.find('|'))));
            REQUIRE(second.samples.size() == 1);
            CHECK(second.samples[0].T == 5);  // clock mode, dt 2 ms, to 10 ms
        }
    }
    // Names are never reused: every file in the directory is a distinct committed trace.
    int files = 0;
    for (const auto& f : std::filesystem::directory_iterator(tmp.dir)) {
        CHECK(f.path().extension() == ".h5");
        ++files;
    }
    CHECK(files == 3);
}

TEST_CASE("serve sessions: a failed auth changes nothing, and the third one closes the connection", "[serve]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    {  // no token: "auth" is an error, and the sessions already open stay usable
        serve::SessionTable table(*backend, serve::ServedModel{}, limits_for(cfg), 4);
        const int s = send(table, R"({"op":"open"})")[0]["session"];
        auto r = send(table, R"({"op":"auth","token":"x"})");
        CHECK(r[0]["field"] == "token");
        CHECK(send(table, fmt::format(R"({{"op":"advance","session":{},"t_ms":10}})", s)).back()["op"] == "ok");
        CHECK(send(table, R"({"op":"open"})")[0]["op"] == "opened");
    }
    {  // a token: a wrong one after the right one leaves the connection in; three wrong ones close it
        serve::SessionTable table(*backend, serve::ServedModel{}, limits_for(cfg), 4, "s3cret");
        CHECK(send(table, R"({"op":"auth","token":"s3cret"})")[0]["op"] == "ok");
        bool keep = true;
        CHECK(send(table, R"({"op":"auth","token":"s3cre"})", &keep)[0]["field"] == "token");
        CHECK(keep);
        CHECK(send(table, R"({"op":"open"})")[0]["op"] == "opened");
        CHECK(send(table, R"({"op":"auth","token":"s3cretx"})", &keep)[0]["field"] == "token");
        CHECK(keep);
        const auto r = send(table, R"({"op":"auth","token":""})", &keep);
        CHECK(r[0]["op"] == "error");
        CHECK_FALSE(keep);
    }
}

TEST_CASE("serve sessions: a request over the update limit is refused whole, the session unchanged", "[serve]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    sim::StreamBatcher batcher(*backend, 4);
    for (const bool batched : {false, true}) {
        INFO((batched ? "micro-batched" : "at once"));
        sim::StreamBatcher* bat = batched ? &batcher : nullptr;
        auto l = limits_for(cfg);
        l.max_updates_per_request = 50;
        l.max_pending_events = 3;
        serve::SessionTable table(*backend, serve::ServedModel{}, l, 4, "", bat);
        CHECK(json::parse(table.hello())["limits"]["updates"] == 50);
        const int s = send(table, R"({"op":"open"})", nullptr, bat)[0]["session"];
        auto r = send(table, fmt::format(R"({{"op":"advance","id":1,"session":{},"t_ms":1e12}})", s), nullptr, bat);
        REQUIRE(r.size() == 1);
        CHECK(r[0]["op"] == "error");
        CHECK(r[0]["field"] == "t_ms");
        CHECK(r[0]["id"] == 1);
        CHECK(r[0]["error"].get<std::string>().find("more than the 50") != std::string::npos);
        r = send(table, fmt::format(R"({{"op":"finish","session":{},"t_ms":101}})", s), nullptr, bat);
        CHECK(r[0]["field"] == "t_ms");
        r = send(table, fmt::format(R"({{"op":"read","session":{}}})", s), nullptr, bat);
        CHECK(r[0]["updates"] == 0);
        CHECK(r[0]["t_ms"] == 0.0);
        // Events waiting for their time are capped per session.
        r = send(table, fmt::format(R"({{"op":"events","session":{},"t_ms":[5e11,5e11,5e11,5e11],"channels":[1,1,1,1]}})", s),
                 nullptr, bat);
        CHECK(r[0]["field"] == "t_ms");
        CHECK(r[0]["error"].get<std::string>().find("at most 3") != std::string::npos);
        // ... and for the connection's sessions together: 2 here, 2 more in another session is 4 > 3.
        r = send(table, fmt::format(R"({{"op":"events","session":{},"t_ms":[5e11,5e11],"channels":[1,1]}})", s), nullptr, bat);
        CHECK(r.back()["op"] == "ok");
        const int s2 = send(table, R"({"op":"open"})", nullptr, bat)[0]["session"];
        r = send(table, fmt::format(R"({{"op":"events","session":{},"t_ms":[1,2],"channels":[1,1]}})", s2), nullptr, bat);
        CHECK(r[0]["field"] == "t_ms");
        CHECK(r[0]["error"].get<std::string>().find("this connection's sessions") != std::string::npos);
        CHECK(send(table, fmt::format(R"({{"op":"close","session":{}}})", s2), nullptr, bat)[0]["op"] == "closed");
        // 50 updates of 2 ms: exactly at the limit, answered in slices (kSlice) as one request.
        r = send(table, fmt::format(R"({{"op":"advance","session":{},"t_ms":100}})", s), nullptr, bat);
        REQUIRE(r.size() == 51);  // an update line each (the default stream: prediction), then the "ok"
        for (int k = 0; k < 50; ++k) CHECK(r[static_cast<std::size_t>(k)]["index"] == k);
        CHECK(r.back()["op"] == "ok");
        CHECK(r.back()["updates"] == 50);
    }
}

TEST_CASE("serve sessions of a robust-trained model: clock by default, event sessions on its finest grid", "[serve][any]") {
    const auto cfg = spike_config();
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    serve::ServedModel m;
    m.time = models::TimeBase::any;
    m.event_resolution_ms = 0.25;  // what `elmsim serve` takes from train.resolutions_ms (the finest)
    m.event_max_dt_ms = 2.0;
    serve::SessionTable table(*backend, m, limits_for(cfg), 4);
    const json hello = json::parse(table.hello());
    CHECK(hello["model"]["time"] == "any");
    CHECK(hello["model"]["resolution_ms"] == 0.25);
    CHECK(hello["model"]["max_dt_ms"] == 2.0);
    const auto clock = send(table, R"({"op":"open"})");
    CHECK(clock[0]["mode"] == "clock");
    const auto event = send(table, R"({"op":"open","mode":"event"})");
    CHECK(event[0]["mode"] == "event");
    CHECK(event[0]["resolution_ms"] == 0.25);
    CHECK(event[0]["max_dt_ms"] == 2.0);
}
