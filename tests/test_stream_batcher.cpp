// Micro-batching (sim/stream_batcher.hpp): sessions whose updates a StreamBatcher runs as rows of one
// stepper give, update by update, the floats of the same sessions run at once on steppers of their
// own — every output (y, v, m, b, logits), in event and clock mode, spike, analog and LIF neurons,
// byte models with an embedding, over several runs with state kept in between, resets, queues of
// different lengths and more sessions than rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/stream_batcher.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/session_models.hpp"

using namespace elm;
using models::ModelConfig;
using models::OutputMode;

namespace {

struct Update {
    double time, dt, inputs;
    std::int64_t index;
    std::vector<float> y, v, m, b, logits;
    bool operator==(const Update&) const = default;
};

std::vector<float> copy(const float* p, std::size_t n) { return p ? std::vector<float>(p, p + n) : std::vector<float>{}; }

sim::UpdateObserver collect(std::vector<Update>& out, const ModelConfig& cfg, bool state = true) {
    return [&out, cfg, state](const sim::UpdateView& v) {
        const auto N = static_cast<std::size_t>(cfg.N);
        out.push_back({v.time_ms, v.dt_ms, v.inputs, v.index, copy(v.y, N), state ? copy(v.v, N) : std::vector<float>{},
                       state ? copy(v.m, N * cfg.d_m) : std::vector<float>{},
                       state ? copy(v.b, N * cfg.n_b) : std::vector<float>{},
                       copy(v.logits, static_cast<std::size_t>(cfg.n_out))});
    };
}

struct Stream {
    sim::SessionOptions options;
    std::vector<double> t;
    std::vector<std::int32_t> c;
};

// Streams of different lengths and modes: every third in clock mode, the others on event grids of
// their own.
std::vector<Stream> streams(int n, const ModelConfig& cfg, double t_max) {
    std::vector<Stream> s(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        Rng rng(100 + static_cast<std::uint64_t>(i), 3);
        Stream& x = s[static_cast<std::size_t>(i)];
        x.options.event_mode = i % 3 != 0;
        x.options.resolution_ms = i % 2 ? 0.5 : 0.25;
        x.options.max_dt_ms = i % 2 ? 4.0 : 0.0;
        const int events = 10 + 17 * i;
        for (int k = 0; k < events; ++k) x.t.push_back(rng.uniform(0.0, t_max));
        std::sort(x.t.begin(), x.t.end());
        for (int k = 0; k < events; ++k) x.c.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.C))));
    }
    return s;
}

// Feeds every stream in pieces cut at `cuts` (advance_to after each), resets stream 2 after the
// second piece, finishes at t_end; `between` runs after each piece (the batcher, or nothing).
template <class Between>
void feed(std::vector<std::unique_ptr<sim::Session>>& sessions, const std::vector<Stream>& s,
          const std::vector<double>& cuts, double t_end, Between between) {
    std::vector<std::size_t> k(s.size(), 0);
    for (std::size_t piece = 0; piece <= cuts.size(); ++piece) {
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (piece == 2 && i == 2) {
                sessions[i]->reset();
                k[i] = 0;
            }
            const double cut = piece < cuts.size() ? cuts[piece] : t_end;
            const std::size_t from = k[i];
            while (k[i] < s[i].t.size() && s[i].t[k[i]] < cut) ++k[i];
            sessions[i]->push_events(std::span(s[i].t).subspan(from, k[i] - from),
                                     std::span(s[i].c).subspan(from, k[i] - from));
            if (piece < cuts.size())
                sessions[i]->advance_to(cut);
            else
                sessions[i]->finish(t_end);
        }
        between();
    }
}

}  // namespace

TEST_CASE("batched sessions compute, update by update, the floats of sessions run at once", "[serve][batch]") {
    for (const auto mode : {OutputMode::spike, OutputMode::analog, OutputMode::lif}) {
        INFO("output mode " << models::to_string(mode));
        const ModelConfig cfg = test::session_config(mode);
        const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
        const auto s = streams(7, cfg, 40.0);
        const std::vector<double> cuts = {3.3, 9.0, 9.0, 21.7};
        std::vector<std::vector<Update>> want(s.size()), got(s.size());
        std::vector<std::unique_ptr<sim::Session>> at_once;
        for (std::size_t i = 0; i < s.size(); ++i)
            at_once.push_back(std::make_unique<sim::Session>(*backend, s[i].options, collect(want[i], cfg)));
        feed(at_once, s, cuts, 40.0, [] {});
        for (const int rows : {64, 4, 1}) {  // one batch; batches of 4, 2 and 1 rows; one row at a time
            INFO("max rows " << rows);
            sim::StreamBatcher batcher(*backend, rows);
            std::vector<std::unique_ptr<sim::Session>> batched;
            for (std::size_t i = 0; i < s.size(); ++i) {
                got[i].clear();
                batched.push_back(std::make_unique<sim::Session>(batcher, s[i].options, collect(got[i], cfg)));
            }
            std::vector<sim::Session*> all;
            for (auto& b : batched) all.push_back(b.get());
            std::vector<std::int64_t> queued;
            feed(batched, s, cuts, 40.0, [&] {
                for (auto* b : all) queued.push_back(b->queued_updates());
                batcher.run(all);
                for (auto* b : all) CHECK(b->queued_updates() == 0);
            });
            for (std::size_t i = 0; i < s.size(); ++i) {
                INFO("session " << i);
                REQUIRE(!want[i].empty());
                CHECK(got[i] == want[i]);
                CHECK(batched[i]->updates() == at_once[i]->updates());
                CHECK(batched[i]->prediction() == at_once[i]->prediction());
                CHECK(batched[i]->time_ms() == at_once[i]->time_ms());
                CHECK(std::equal(batched[i]->logits(), batched[i]->logits() + cfg.n_out, at_once[i]->logits()));
            }
            // The batcher ran the queues together: one stepper update per update index of a run, as
            // many rows in all as the sessions queued.
            std::int64_t total = 0;
            for (const auto q : queued) total += q;
            CHECK(batcher.stats().rows == total);
            if (rows == 64) CHECK(batcher.stats().advances < total / 3);
            if (rows == 1) CHECK(batcher.stats().advances == total);
        }
    }
}

TEST_CASE("batched byte sessions: clock and event mode through the embedding, as at once", "[serve][batch]") {
    ModelConfig cfg = test::session_config(OutputMode::analog);
    cfg.C = 256;
    cfg.n_out = 256;
    cfg.C_e = 5;
    cfg.dt_ms = 1.0;
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    const std::string text = "the quick brown fox jumps over the lazy dog, then the lazy dog sleeps";
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    sim::StreamBatcher batcher(*backend, 8);
    for (const bool event : {false, true}) {
        INFO((event ? "event" : "clock") << " mode");
        sim::SessionOptions o;
        o.event_mode = event;
        o.resolution_ms = 2.0;
        o.max_dt_ms = 5.0;
        o.score = models::LossMode::next_byte;
        std::vector<Update> want_a, want_b, got_a, got_b;
        sim::Session a(*backend, o, collect(want_a, cfg)), b(*backend, o, collect(want_b, cfg));
        sim::Session ba(batcher, o, collect(got_a, cfg)), bb(batcher, o, collect(got_b, cfg));
        std::vector<sim::Session*> both = {&ba, &bb};
        for (std::size_t k = 0; k < bytes.size(); k += 9) {
            const auto piece = std::span(bytes).subspan(k, std::min<std::size_t>(9, bytes.size() - k));
            const auto other = std::span(bytes).subspan(bytes.size() - k - piece.size(), piece.size());
            a.push_bytes(piece);
            ba.push_bytes(piece);
            b.push_bytes(other);  // the text backwards in pieces: different bytes in the same batch
            bb.push_bytes(other);
            batcher.run(both);
            CHECK(ba.prediction() == a.prediction());
        }
        REQUIRE(!want_a.empty());
        CHECK(got_a == want_a);
        CHECK(got_b == want_b);
    }
}

TEST_CASE("batched sessions: what is not run yet, the zero state, and sessions of another batcher", "[serve][batch]") {
    const ModelConfig cfg = test::session_config(OutputMode::spike);
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    sim::StreamBatcher batcher(*backend, 4), other(*backend, 4);
    sim::SessionOptions o;
    o.event_mode = true;
    sim::Session s(batcher, o), at_once(*backend, o);
    // Before any update: the readout of the zero state, as a session run at once shows.
    CHECK(std::equal(s.logits(), s.logits() + cfg.n_out, at_once.logits()));
    const std::vector<double> t = {0.1, 0.7, 3.2};
    const std::vector<std::int32_t> c = {1, 2, 3};
    s.push_events(t, c);
    s.advance_to(5.0);
    CHECK(s.time_ms() == 5.0);  // planned
    CHECK(s.updates() == 0);    // not run
    CHECK(s.queued_updates() > 0);
    std::vector<sim::Session*> wrong = {&s};
    CHECK_THROWS_AS(other.run(wrong), std::invalid_argument);
    std::vector<sim::Session*> not_batched = {&at_once};
    CHECK_THROWS_AS(batcher.run(not_batched), std::invalid_argument);
    batcher.run(wrong);
    at_once.push_events(t, c);
    at_once.advance_to(5.0);
    CHECK(s.updates() == at_once.updates());
    CHECK(std::equal(s.logits(), s.logits() + cfg.n_out, at_once.logits()));
    s.reset();  // back to the zero state's readout, nothing queued
    CHECK(s.queued_updates() == 0);
    CHECK(s.updates() == 0);
    CHECK(std::equal(s.logits(), s.logits() + cfg.n_out, batcher.zero_logits().begin()));
    CHECK_THROWS_AS(sim::StreamBatcher(*backend, 0), std::invalid_argument);
}
