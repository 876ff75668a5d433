// The work limits of a streaming Session (sim/session.hpp), which keep a server's clients from asking
// for unbounded work: the exact update count of a call before it runs (updates_until) against the
// updates the call then really runs, over random streams, grids and both time bases; calls over
// max_updates_per_call and pushes over max_pending_events refused with nothing changed; grids too fine
// for the session's horizon refused (the cell index would overflow); and deferred sessions run in
// slices giving, update by update, the floats of a session that runs at once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "elmsim/models/error.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/session.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/session_models.hpp"

using namespace elm;

namespace {

struct Seen {
    double time, dt;
    std::vector<float> y, logits;
    bool operator==(const Seen&) const = default;
};

sim::UpdateObserver recorder(std::vector<Seen>& to, int N, int n_out) {
    return [&to, N, n_out](const sim::UpdateView& v) {
        to.push_back({v.time_ms, v.dt_ms, std::vector<float>(v.y, v.y + N), std::vector<float>(v.logits, v.logits + n_out)});
    };
}

}  // namespace

TEST_CASE("session: updates_until counts exactly the updates advance_to and finish then run", "[serve][session]") {
    const auto cfg = test::session_config(models::OutputMode::spike);
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    struct Grid {
        bool event;
        double resolution, max_dt;
    };
    // Clock mode; event grids with G = 1, G = 4 and a max_dt that is not a multiple of the resolution.
    for (const Grid g : {Grid{false, 0, 0}, Grid{true, 0.5, 0.5}, Grid{true, 0.5, 2.0}, Grid{true, 0.3, 1.0}}) {
        for (std::uint64_t seed = 1; seed <= 6; ++seed) {
            INFO("event " << g.event << " resolution " << g.resolution << " max_dt " << g.max_dt << " seed " << seed);
            sim::SessionOptions o;
            o.event_mode = g.event;
            if (g.event) {
                o.resolution_ms = g.resolution;
                o.max_dt_ms = g.max_dt;
            }
            sim::Session s(*backend, o);
            Rng rng(seed, 3);
            double t = 0.0, last_event = 0.0;
            for (int step = 0; step < 12; ++step) {
                // Some events ahead (sometimes on cell boundaries, sometimes far ahead), then a move.
                std::vector<double> times;
                std::vector<std::int32_t> ch;
                double at = std::max(t, last_event);
                const int n = static_cast<int>(rng.below(6));
                for (int k = 0; k < n; ++k) {
                    at += rng.uniform(0.0, 9.0);
                    if (k % 2 == 0) at = std::ceil(at * 2.0) / 2.0;
                    times.push_back(at);
                    ch.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.C))));
                }
                s.push_events(times, ch);
                if (!times.empty()) last_event = times.back();
                const double to = s.time_ms() + rng.uniform(0.0, 25.0) * (step % 3 == 0 ? 0.1 : 1.0);
                const bool finish = step % 4 == 3;
                const std::int64_t predicted = s.updates_until(to, finish);
                const std::int64_t before = s.updates();
                if (finish)
                    s.finish(to);
                else
                    s.advance_to(to);
                CHECK(s.updates() - before == predicted);
                t = s.time_ms();
                if (finish) {
                    s.reset();
                    t = last_event = 0.0;
                }
            }
        }
    }
}

TEST_CASE("session: a call over max_updates_per_call is refused before anything changes", "[serve][session]") {
    const auto cfg = test::session_config(models::OutputMode::spike);
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    for (const bool event : {false, true}) {
        INFO("event " << event);
        sim::SessionOptions o;
        o.event_mode = event;
        o.resolution_ms = 1.0 / 1024;  // event mode: exact binary cells, G = 1: one update per cell
        o.max_dt_ms = 1.0 / 1024;
        o.max_updates_per_call = 100;
        sim::Session s(*backend, o);
        const std::vector<double> t = {0.01};
        const std::vector<std::int32_t> c = {1};
        s.push_events(t, c);
        const double far = event ? 1.0 : 1e12;  // 1024 updates (event) or 5e11 (clock)
        CHECK_THROWS_WITH(s.advance_to(far), Catch::Contains("more than the 100 one call may run"));
        CHECK_THROWS_WITH(s.finish(far), Catch::Contains("more than the 100"));
        CHECK(s.time_ms() == 0.0);
        CHECK(s.updates() == 0);
        CHECK(s.pending_events() == 1);
        // Within the limit the session goes on as if nothing had been refused.
        const double near = event ? 50.0 / 1024 : 20.0;
        CHECK(s.updates_until(near, false) <= 100);
        s.advance_to(near);
        CHECK(s.updates() == (event ? 50 : 10));
        CHECK(s.pending_events() == 0);
    }
}

TEST_CASE("session: bytes over max_updates_per_call are refused, in clock and event mode", "[serve][session]") {
    auto cfg = test::session_config(models::OutputMode::analog);
    cfg.C = 256;
    cfg.n_out = 256;
    cfg.C_e = 5;
    cfg.dt_ms = 1.0;
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    for (const bool event : {false, true}) {
        INFO("event " << event);
        sim::SessionOptions o;
        o.event_mode = event;
        o.resolution_ms = 1.0 / 128;  // event mode: G = 1, 128 updates a byte
        o.max_dt_ms = 1.0 / 128;
        o.score = models::LossMode::next_byte;
        o.max_updates_per_call = 150;
        sim::Session s(*backend, o);
        const std::vector<std::uint8_t> one = {'a'}, many(200, 'b');
        s.push_bytes(one);
        const std::int64_t after_one = s.updates();
        CHECK(after_one == (event ? 128 : 1));
        CHECK_THROWS_WITH(s.push_bytes(event ? std::vector<std::uint8_t>{'c', 'd'} : many), Catch::Contains("more than the 150"));
        CHECK(s.updates() == after_one);
        CHECK(s.bytes_pushed() == 1);
        CHECK(s.pending_events() == 0);
    }
}

TEST_CASE("session: events over max_pending_events are refused whole", "[serve][session]") {
    const auto cfg = test::session_config(models::OutputMode::spike);
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    sim::SessionOptions o;
    o.max_pending_events = 5;
    sim::Session s(*backend, o);
    const std::vector<double> t3 = {1e9, 1e9, 1e9};
    const std::vector<std::int32_t> c3 = {0, 1, 2};
    s.push_events(t3, c3);
    CHECK_THROWS_WITH(s.push_events(t3, c3), Catch::Contains("6 events would wait for their time, at most 5"));
    CHECK(s.pending_events() == 3);
    const std::vector<double> late = {1e12 + 1};
    const std::vector<std::int32_t> c1 = {0};
    CHECK_THROWS_WITH(s.push_events(late, c1), Catch::Contains("after the latest time"));
    CHECK_THROWS_AS(s.advance_to(1e12 + 1), InputError);
}

TEST_CASE("session: a grid too fine for the session's horizon is refused (no cell index overflow)", "[serve][session]") {
    const auto cfg = test::session_config(models::OutputMode::spike);
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    sim::SessionOptions o;
    o.event_mode = true;
    o.resolution_ms = 1e-300;
    o.max_dt_ms = 1.0;
    CHECK_THROWS_AS(sim::Session(*backend, o), ParameterError);
    CHECK_THROWS_WITH(sim::Session(*backend, o), Catch::Contains("resolution_ms") && Catch::Contains("9e+15 cells"));
    o.resolution_ms = 1e-9;  // 1e21 cells up to 1e12 ms; fine for a horizon of 1e6 ms
    CHECK_THROWS_AS(sim::Session(*backend, o), ParameterError);
    o.max_time_ms = 1e6;
    CHECK_NOTHROW(sim::Session(*backend, o));
    // The same rule as a sample's: EventScheduleBuilder refuses what check_grid_horizon refuses.
    const models::EventGrid g = models::make_event_grid(1e-300, 1.0);
    CHECK_THROWS_AS(models::check_grid_horizon(g, 1000.0), ParameterError);
    CHECK_THROWS_AS(models::EventScheduleBuilder(g, 1000.0), ParameterError);
}

TEST_CASE("session: a deferred session run in slices gives the floats of one run at once", "[serve][session]") {
    const auto cfg = test::session_config(models::OutputMode::spike);
    const auto backend = test::backend_for(test::network_with_scaled_synapses(cfg, 4.0f));
    for (const bool event : {false, true}) {
        INFO("event " << event);
        std::vector<Seen> at_once, sliced;
        sim::SessionOptions o;
        o.event_mode = event;
        sim::Session a(*backend, o, recorder(at_once, cfg.N, cfg.n_out));
        o.deferred = true;
        sim::Session b(*backend, o, recorder(sliced, cfg.N, cfg.n_out));
        Rng rng(5, 1);
        std::vector<double> t;
        std::vector<std::int32_t> c;
        for (int k = 0; k < 300; ++k) {
            t.push_back(rng.uniform(0.0, 200.0));
            c.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.C))));
        }
        std::sort(t.begin(), t.end());
        for (sim::Session* s : {&a, &b}) s->push_events(t, c);
        a.advance_to(120.0);
        b.advance_to(120.0);
        CHECK(b.updates() == 0);  // planned only
        CHECK(b.queued_updates() == a.updates());
        while (b.queued_updates() > 0) CHECK(b.run_queued(13) <= 13);
        a.finish(200.0);
        b.finish(200.0);
        while (b.queued_updates() > 0) b.run_queued(5);
        REQUIRE(sliced.size() == at_once.size());
        CHECK(sliced == at_once);
        CHECK(std::equal(a.logits(), a.logits() + cfg.n_out, b.logits()));
    }
}

TEST_CASE("session: after finish, an event at the session's time is never in a cell already delivered",
          "[serve][session]") {
    // k x 0.1 / 0.1 floors to k - 1 for some k (43, 81, 86, ...): time must stand where the grid puts
    // it in the last update's cell, or the next event would reach back into a delivered cell.
    const auto cfg = test::session_config(models::OutputMode::spike);
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    sim::SessionOptions o;
    o.event_mode = true;
    o.resolution_ms = 0.1;
    sim::Session s(*backend, o);
    const std::vector<std::int32_t> c = {1};
    for (int k = 1; k <= 300; ++k) {
        for (const double end : {k * 0.1, k / 10.0}) {  // 4.3 and 43 x 0.1 are different doubles
            INFO("finish at " << end);
            s.finish(end);
            CHECK(s.time_ms() >= end);
            CHECK(s.time_ms() < end + 1e-12);
            const std::vector<double> t = {s.time_ms()};
            CHECK_NOTHROW(s.push_events(t, c));
            CHECK_NOTHROW(s.advance_to(s.time_ms() + 1.0));
            s.reset();
        }
    }
}
