// The streaming Session (sim/session.hpp) against the one-shot Simulator runs that `simulate` makes:
// events pushed in arbitrary pieces with time advanced in between give, update by update, the same
// times, dts and floats; byte streams in clock and event mode likewise; bad pushes are rejected
// without disturbing the session.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "elmsim/io/spike_binning.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/scoring.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/session_models.hpp"

using namespace elm;
using models::ModelConfig;
using models::OutputMode;
using test::session_config;

namespace {

models::Network<float> lively(const ModelConfig& cfg) { return test::network_with_scaled_synapses(cfg, 4.0f); }

struct Events {
    std::vector<double> t;
    std::vector<std::int32_t> c;
};

// Sorted random events in [0, t_max); every third on a 0.5 ms grid line (cell boundaries).
Events random_events(int n, double t_max, int C, std::uint64_t seed) {
    Rng rng(seed, 9);
    std::vector<std::pair<double, std::int32_t>> ev;
    for (int k = 0; k < n; ++k) {
        double t = rng.uniform(0.0, t_max);
        if (k % 3 == 0) t = std::floor(t * 2.0) / 2.0;
        ev.emplace_back(t, static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(C))));
    }
    std::sort(ev.begin(), ev.end());
    Events e;
    for (const auto& [t, c] : ev) {
        e.t.push_back(t);
        e.c.push_back(c);
    }
    return e;
}

struct Update {
    double time, dt;
    std::vector<float> y, logits;
    bool operator==(const Update&) const = default;
};

sim::UpdateObserver collect(std::vector<Update>& out, const ModelConfig& cfg) {
    return [&out, &cfg](const sim::UpdateView& v) {
        out.push_back({v.time_ms, v.dt_ms, std::vector<float>(v.y, v.y + cfg.N),
                       std::vector<float>(v.logits, v.logits + cfg.n_out)});
    };
}

// The session fed `e` in pieces cut at the given times (advance_to between pieces), then finished.
// After each advance_to(t), exactly the updates of `want` that end at or before t have run: a live
// stream gets its outputs as soon as they are due, not later.
std::vector<Update> through_session(sim::Backend& backend, const sim::SessionOptions& opt, const Events& e,
                                    const std::vector<double>& cuts, double duration, const std::vector<Update>& want) {
    std::vector<Update> got;
    sim::Session session(backend, opt, collect(got, backend.config()));
    std::size_t k = 0;
    for (const double cut : cuts) {
        const std::size_t from = k;
        while (k < e.t.size() && e.t[k] < cut) ++k;
        session.push_events(std::span(e.t).subspan(from, k - from), std::span(e.c).subspan(from, k - from));
        session.advance_to(cut);
        const auto due = std::count_if(want.begin(), want.end(), [&](const Update& u) { return u.time <= cut; });
        INFO("advanced to " << cut);
        CHECK(session.updates() == due);
    }
    session.push_events(std::span(e.t).subspan(k), std::span(e.c).subspan(k));
    session.finish(duration);
    CHECK(session.pending_events() == 0);
    return got;
}

const OutputMode kModes[] = {OutputMode::analog, OutputMode::spike, OutputMode::lif};

}  // namespace

TEST_CASE("session in event mode makes simulate's updates, whatever the pieces", "[session]") {
    const double duration = 60.0;
    for (const auto mode : kModes) {
        INFO("output mode " << models::to_string(mode));
        const auto cfg = session_config(mode);
        const auto backend = test::backend_for(lively(cfg));
        const auto e = random_events(150, duration, cfg.C, 3);
        for (const auto& [res, max_dt] : {std::pair{0.5, 4.0}, std::pair{0.3, 2.0}, std::pair{1.0, 1.0}}) {
            INFO("resolution " << res << " max_dt " << max_dt);
            // simulate: one schedule for the whole sample.
            std::vector<Update> want;
            sim::Simulator simulator(*backend);
            simulator.run_event(models::make_event_schedule(e.t, e.c, duration, res, max_dt), collect(want, cfg));
            REQUIRE(want.size() > 20);
            sim::SessionOptions opt;
            opt.event_mode = true;
            opt.resolution_ms = res;
            opt.max_dt_ms = max_dt;
            // One piece; pieces cut inside cells, on cell boundaries, at event times, and long gaps.
            CHECK(through_session(*backend, opt, e, {}, duration, want) == want);
            CHECK(through_session(*backend, opt, e, {0.25, 3.1, 3.1, 10.0, 17.75, 31.5, 59.9}, duration, want) == want);
            std::vector<double> cuts;
            for (std::size_t k = 0; k < e.t.size(); k += 7) cuts.push_back(e.t[k]);
            CHECK(through_session(*backend, opt, e, cuts, duration, want) == want);
        }
    }
}

TEST_CASE("session in clock mode is clock binning: the floats of run_clock", "[session]") {
    const double duration = 50.0;
    for (const auto mode : kModes) {
        INFO("output mode " << models::to_string(mode));
        const auto cfg = session_config(mode);
        const auto backend = test::backend_for(lively(cfg));
        const auto e = random_events(120, duration + 5.0, cfg.C, 5);  // some beyond the end: dropped
        io::SpikeSample s;
        s.times_ms = e.t;
        s.units.assign(e.c.begin(), e.c.end());
        const auto T = models::num_steps(duration, cfg.dt_ms);
        std::vector<float> x(static_cast<std::size_t>(T) * cfg.C, 0.0f);
        io::bin_sample(s, cfg.dt_ms, duration, 0, x.data(), T, 1, 0, cfg.C);
        std::vector<Update> want;
        sim::Simulator simulator(*backend);
        simulator.run_clock(x.data(), T, collect(want, cfg));
        REQUIRE(static_cast<std::int64_t>(want.size()) == T);

        Events inside;
        for (std::size_t k = 0; k < e.t.size(); ++k)
            if (e.t[k] < duration) {
                inside.t.push_back(e.t[k]);
                inside.c.push_back(e.c[k]);
            }
        const sim::SessionOptions clock;  // event_mode = false
        CHECK(through_session(*backend, clock, inside, {}, duration, want) == want);
        CHECK(through_session(*backend, clock, inside, {1.0, 2.0, 9.5, 33.3}, duration, want) == want);
    }
}

TEST_CASE("session with bytes: clock and event mode give simulate's byte updates", "[session]") {
    ModelConfig cfg = session_config(OutputMode::analog);
    cfg.C = 256;
    cfg.n_out = 256;
    cfg.C_e = 5;
    cfg.dt_ms = 1.0;
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    const std::string text = "the quick brown fox jumps over the lazy dog, twice: the quick brown fox";
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    const double dt = cfg.dt_ms;

    // Clock mode: one update per byte at (k + 1) dt.
    std::vector<Update> want;
    {
        sim::Simulator simulator(*backend);
        const float one = 1.0f;
        for (std::size_t k = 0; k < bytes.size(); ++k) {
            const std::int32_t ch = bytes[k];
            simulator.step(static_cast<double>(k + 1) * dt, dt, &ch, &one, 1);
            collect(want, cfg)(simulator.view());
        }
    }
    std::vector<Update> got;
    sim::Session clock(*backend, sim::SessionOptions{}, collect(got, cfg));
    clock.push_bytes(std::span(bytes).first(10));
    clock.push_bytes(std::span(bytes).subspan(10));
    CHECK(got == want);
    CHECK(clock.time_ms() == static_cast<double>(bytes.size()) * dt);

    // Event mode at a coarse resolution: bytes share cells; pieces cut mid-cell.
    std::vector<double> times;
    std::vector<std::int32_t> channels;
    for (std::size_t k = 0; k < bytes.size(); ++k) {
        times.push_back(static_cast<double>(k) * dt);
        channels.push_back(bytes[k]);
    }
    const double duration = static_cast<double>(bytes.size()) * dt;
    std::vector<Update> want_event;
    sim::Simulator simulator(*backend);
    simulator.run_event(models::make_event_schedule(times, channels, duration, 3.0, 7.0), collect(want_event, cfg));
    sim::SessionOptions opt;
    opt.event_mode = true;
    opt.resolution_ms = 3.0;
    opt.max_dt_ms = 7.0;
    std::vector<Update> got_event;
    sim::Session event(*backend, opt, collect(got_event, cfg));
    event.push_bytes(std::span(bytes).first(4));
    event.push_bytes(std::span(bytes).subspan(4, 25));
    event.push_bytes(std::span(bytes).subspan(29));
    event.finish(duration);
    CHECK(got_event == want_event);
    CHECK(got_event.size() < bytes.size());  // bytes merged into shared cells
}

TEST_CASE("session: clock-mode bytes keep the schedule, a sample's late events are dropped", "[session]") {
    ModelConfig cfg = session_config(OutputMode::analog);
    cfg.C = 256;
    cfg.n_out = 256;
    cfg.dt_ms = 1.0;
    const auto backend = test::backend_for(models::make_network<float>(cfg));
    std::vector<Update> got;
    sim::Session bytes(*backend, sim::SessionOptions{}, collect(got, cfg));
    const std::vector<std::uint8_t> text{'a', 'b', 'c', 'd', 'e'};
    bytes.push_bytes(text);
    bytes.finish(5.0);  // the bytes filled every bin up to 5 ms: nothing more to run
    CHECK(bytes.updates() == 5);
    bytes.advance_to(8.5);  // silence: ticks at 6, 7, 8 ms
    CHECK(bytes.updates() == 8);
    bytes.push_bytes(std::span(text).first(1));  // in the next bin, ending at 9 ms
    REQUIRE(got.size() == 9);
    CHECK(got.back().time == 9.0);
    CHECK(got.back().dt == 1.0);
    CHECK(bytes.time_ms() == 9.0);

    // A spike session: an event at or after a sample's end, in the end's cell, is dropped by finish.
    const auto spiking = test::backend_for(lively(session_config(OutputMode::analog)));
    sim::SessionOptions opt;
    opt.event_mode = true;
    opt.resolution_ms = 1.0;
    sim::Session session(*spiking, opt);
    session.push_events(std::vector<double>{3.2, 10.5, 10.7}, std::vector<std::int32_t>{1, 2, 3});
    session.finish(10.6);  // delivers 3.2 and 10.5 at 11 ms; 10.7 lies after the end
    CHECK(session.pending_events() == 0);
    CHECK(session.time_ms() == 11.0);
    CHECK_NOTHROW(session.advance_to(20.0));
    CHECK_THROWS_AS(session.push_events(std::vector<double>{15.0}, std::vector<std::int32_t>{1}), InputError);
}

TEST_CASE("session predictions score the sample as evaluation does", "[session]") {
    const auto cfg = session_config(OutputMode::analog);
    const auto backend = test::backend_for(lively(cfg));
    const auto e = random_events(80, 40.0, cfg.C, 8);
    sim::SessionOptions opt;
    opt.score = models::LossMode::mean_last_k;
    opt.score_last_k = 4;
    std::vector<float> rows;
    sim::Session session(*backend, opt, [&](const sim::UpdateView& v) { rows.insert(rows.end(), v.logits, v.logits + cfg.n_out); });
    session.push_events(e.t, e.c);
    session.finish(40.0);
    const int steps = 4;
    REQUIRE(rows.size() >= static_cast<std::size_t>(steps * cfg.n_out));
    std::int32_t predicted = -1;
    const std::int32_t target = 0;
    sim::compute_loss<float>(models::LossMode::mean_last_k, rows.data() + rows.size() - steps * cfg.n_out, steps, 1,
                             cfg.n_out, &target, nullptr, &predicted);
    CHECK(session.prediction() == predicted);
}

TEST_CASE("session rejects events out of order, in the past or on unknown channels", "[session][errors]") {
    const auto cfg = session_config(OutputMode::analog);
    const auto backend = test::backend_for(lively(cfg));
    sim::SessionOptions opt;
    opt.event_mode = true;
    opt.resolution_ms = 0.5;
    sim::Session session(*backend, opt);
    const std::vector<double> t{1.0, 2.0};
    session.push_events(t, std::vector<std::int32_t>{3, 4});
    session.advance_to(5.0);
    const std::int64_t updates = session.updates();
    CHECK(updates > 0);
    CHECK_THROWS_AS(session.push_events(std::vector<double>{4.9}, std::vector<std::int32_t>{1}), InputError);
    CHECK_THROWS_AS(session.push_events(std::vector<double>{7.0, 6.0}, std::vector<std::int32_t>{1, 1}), InputError);
    CHECK_THROWS_AS(session.push_events(std::vector<double>{6.0}, std::vector<std::int32_t>{cfg.C}), InputError);
    CHECK_THROWS_AS(session.push_events(std::vector<double>{NAN}, std::vector<std::int32_t>{0}), InputError);
    CHECK_THROWS_AS(session.advance_to(4.0), InputError);
    CHECK(session.pending_events() == 0);  // nothing was taken from the rejected calls
    CHECK(session.updates() == updates);
    CHECK_THROWS_AS(session.push_bytes(std::vector<std::uint8_t>{1, 2}), InputError);  // not a byte model
    session.reset();
    CHECK(session.updates() == 0);
    CHECK(session.time_ms() == 0.0);
}
