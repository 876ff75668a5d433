// Event-driven time (spec elm-network.md section 5) and the single-sample simulator:
//  - resolution = max_dt = dt reproduces clock mode exactly (same floats at every update);
//  - as max_dt shrinks, event mode converges to the fine clock solution;
//  - work is proportional to the number of updates: a silent stretch costs ceil(gap / max_dt) updates,
//    one update when max_dt exceeds it;
//  - the clock-mode simulator gives the trainer's (the backend's batch step) logits bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "elmsim/io/spike_binning.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tests/backend_helpers.hpp"

using namespace elm;
using models::ModelConfig;
using models::OutputMode;

namespace {

ModelConfig event_config(OutputMode mode) {
    ModelConfig cfg;
    cfg.N = 12;
    cfg.C = 40;
    cfg.n_out = 5;
    cfg.d_m = 4;
    cfg.d_h = 8;
    cfg.n_b = 2;
    cfg.k_c = 8;
    cfg.dt_ms = 2.0;
    cfg.tau_init_min_ms = 2.0;
    cfg.tau_init_max_ms = 50.0;
    cfg.output_mode = mode;
    cfg.seed = 11;
    return cfg;
}

models::Network<float> event_network(const ModelConfig& cfg, float scale = 4.0f) {
    return test::network_with_scaled_synapses(cfg, scale);
}

io::SpikeSample random_events(int n, double t_max, int C, std::uint64_t seed, double grid_ms) {
    Rng rng(seed, 3);
    std::vector<std::pair<double, std::uint16_t>> ev;
    for (int k = 0; k < n; ++k) {
        // Every fourth event lies exactly on a grid line: binning must agree on the boundary too.
        double t = rng.uniform(0.0, t_max);
        if (k % 4 == 0) t = std::floor(t / grid_ms) * grid_ms;
        ev.emplace_back(t, static_cast<std::uint16_t>(rng.below(static_cast<std::uint64_t>(C))));
    }
    std::sort(ev.begin(), ev.end());
    io::SpikeSample s;
    for (const auto& [t, c] : ev) {
        s.times_ms.push_back(t);
        s.units.push_back(c);
    }
    return s;
}

std::vector<float> bin(const io::SpikeSample& s, double dt, double duration, int C) {
    const auto T = models::num_steps(duration, dt);
    std::vector<float> x(static_cast<std::size_t>(T) * C, 0.0f);
    io::bin_sample(s, dt, duration, 0, x.data(), T, 1, 0, C);
    return x;
}

// Every update's state, copied out of the observer.
struct Recording {
    std::vector<double> time, dt;
    std::vector<float> y, m, b;
};

sim::UpdateObserver recorder(Recording& r, const ModelConfig& cfg) {
    return [&r, &cfg](const sim::UpdateView& v) {
        r.time.push_back(v.time_ms);
        r.dt.push_back(v.dt_ms);
        r.y.insert(r.y.end(), v.y, v.y + cfg.N);
        if (v.m) r.m.insert(r.m.end(), v.m, v.m + static_cast<std::size_t>(cfg.N) * cfg.d_m);
        if (v.b) r.b.insert(r.b.end(), v.b, v.b + static_cast<std::size_t>(cfg.N) * cfg.n_b);
    };
}

const OutputMode kModes[] = {OutputMode::analog, OutputMode::spike, OutputMode::lif};

}  // namespace

TEST_CASE("event schedule: cells, merging, dropped events, ticks", "[event]") {
    // res 1 ms, max_dt 3 ms, duration 10 ms. Events: 0.5 and 0.7 (cell 0, channel 4: they merge),
    // 0.9 (cell 0, channel 2), 7.0 (cell 7), 10.0 and 12.0 (at / after the end: dropped); any order.
    const std::vector<double> t{7.0, 0.5, 0.7, 0.9, 10.0, 12.0};
    const std::vector<std::uint16_t> c{1, 4, 4, 2, 3, 3};
    const auto s = models::make_event_schedule(t, c, 10.0, 1.0, 3.0);
    // Cell 0 delivered at 1; 7 cells to the next delivery (8): ticks at 4 and 7; the end at 10.
    CHECK(s.time_ms == std::vector<double>{1.0, 4.0, 7.0, 8.0, 10.0});
    CHECK(s.dt_ms == std::vector<double>{1.0, 3.0, 3.0, 1.0, 2.0});
    CHECK(s.start == std::vector<std::int64_t>{0, 2, 2, 2, 3, 3});
    CHECK(s.channel == std::vector<std::int32_t>{2, 4, 1});
    CHECK(s.count == std::vector<float>{1.0f, 2.0f, 1.0f});

    // No events at all: ticks to the end.
    const auto empty = models::make_event_schedule(std::vector<double>{}, std::vector<std::int32_t>{}, 10.0, 1.0, 4.0);
    CHECK(empty.time_ms == std::vector<double>{4.0, 8.0, 10.0});
    // A duration that the resolution does not divide ends at the next cell end (as clock mode's T).
    const auto odd = models::make_event_schedule(std::vector<double>{}, std::vector<std::int32_t>{}, 2.5, 1.0, 10.0);
    CHECK(odd.time_ms == std::vector<double>{3.0});
}

TEST_CASE("event schedule: bad resolution / max_dt are rejected, naming the parameter", "[event][errors]") {
    const std::vector<double> t{1.0};
    const std::vector<std::int32_t> c{0};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(models::make_event_schedule(t, c, 10.0, 0.0, 1.0), Catch::Contains("resolution_ms"));
    CHECK_THROWS_WITH(models::make_event_schedule(t, c, 10.0, -1.0, 1.0), Catch::Contains("resolution_ms"));
    CHECK_THROWS_WITH(models::make_event_schedule(t, c, 10.0, nan, 1.0), Catch::Contains("resolution_ms"));
    CHECK_THROWS_WITH(models::make_event_schedule(t, c, 10.0, 0.5, 0.25), Catch::Contains("max_dt_ms"));
    CHECK_THROWS_WITH(models::make_event_schedule(t, c, 10.0, 0.5, std::numeric_limits<double>::infinity()),
                      Catch::Contains("max_dt_ms"));
    CHECK_THROWS_AS(models::make_event_schedule(std::vector<double>{nan}, c, 10.0, 0.5, 1.0), InputError);
    CHECK_THROWS_AS(models::make_event_schedule(t, std::vector<std::int32_t>{-1}, 10.0, 0.5, 1.0), InputError);
    CHECK_THROWS_AS(models::make_event_schedule(t, c, 0.0, 0.5, 1.0), InputError);
    // 2 / 0.1 is 20 cells, not 19 (the ratio's rounding noise is absorbed).
    CHECK(models::make_event_grid(0.1, 2.0).max_gap_cells == 20);
    CHECK(models::make_event_grid(0.1, 0.3).max_gap_cells == 3);
}

TEST_CASE("event mode with resolution = max_dt = dt is clock mode, same floats", "[event]") {
    for (const auto mode : kModes) {
        INFO("output mode " << models::to_string(mode));
        const auto cfg = event_config(mode);
        const auto net = event_network(cfg);
        const double duration = 100.0;
        // Events beyond the duration are dropped by both modes.
        const auto sample = random_events(300, 110.0, cfg.C, 7, cfg.dt_ms);
        const auto x = bin(sample, cfg.dt_ms, duration, cfg.C);
        const auto T = models::num_steps(duration, cfg.dt_ms);

        const auto backend = test::backend_for(net, 2);
        sim::Simulator sim(*backend);
        Recording clock, event;
        sim.run_clock(x.data(), T, recorder(clock, cfg));
        const std::vector<float> clock_logits(sim.logits(), sim.logits() + cfg.n_out);

        const auto sched = models::make_event_schedule(sample.times_ms, sample.units, duration, cfg.dt_ms, cfg.dt_ms);
        REQUIRE(sched.updates() == T);
        sim.reset();
        sim.run_event(sched, recorder(event, cfg));
        CHECK(sim.updates() == T);
        CHECK(event.time == clock.time);
        CHECK(event.dt == clock.dt);
        CHECK(event.y == clock.y);  // bit for bit, at every update
        CHECK(event.m == clock.m);
        CHECK(event.b == clock.b);
        CHECK(std::vector<float>(sim.logits(), sim.logits() + cfg.n_out) == clock_logits);
        // Every update has dt = dt: one decay computation.
        CHECK(sim.decay_computations() == 1);
        if (mode == OutputMode::spike) {
            const auto spikes = std::count(clock.y.begin(), clock.y.end(), 1.0f);
            CHECK(spikes > 0);  // the comparison covered real spikes
        }
    }
}

// Largest |m_event - m_clock| (or |y| for LIF, which has no memory units) over the event run's
// updates, each compared with the fine clock step that ends at the same time.
double max_error(const Recording& event, const Recording& clock, const ModelConfig& cfg, double fine_dt) {
    const bool lif = cfg.output_mode == OutputMode::lif;
    const std::size_t width = lif ? static_cast<std::size_t>(cfg.N) : static_cast<std::size_t>(cfg.N) * cfg.d_m;
    const auto& ev = lif ? event.y : event.m;
    const auto& cl = lif ? clock.y : clock.m;
    double worst = 0.0;
    for (std::size_t u = 0; u < event.time.size(); ++u) {
        const auto t = static_cast<std::size_t>(std::llround(event.time[u] / fine_dt)) - 1;
        REQUIRE(std::fabs(clock.time[t] - event.time[u]) < 1e-9);
        for (std::size_t k = 0; k < width; ++k)
            worst = std::max(worst, static_cast<double>(std::fabs(ev[u * width + k] - cl[t * width + k])));
    }
    return worst;
}

TEST_CASE("a stepper computes each dt's decays once: wide batches, many gaps, a cache emptied only when full",
          "[event]") {
    const auto cfg = event_config(OutputMode::analog);
    const auto net = event_network(cfg);
    const auto backend = test::backend_for(net);
    {
        const int B = 1100;  // more rows than the cache has entries
        const auto stepper = backend->make_stepper(B);
        const std::vector<float> x(static_cast<std::size_t>(cfg.C) * B, 0.0f);
        for (int k = 0; k < 3; ++k) stepper->advance(cfg.dt_ms, x.data());
        CHECK(stepper->decay_computations() == 1);
    }
    const auto stepper = backend->make_stepper(1);
    const std::vector<float> x(static_cast<std::size_t>(cfg.C), 0.0f);
    const int distinct = 1500;  // past the cache's 1024 entries once
    for (int k = 1; k <= distinct; ++k) {
        const double dt = 0.01 * k;
        stepper->advance_rows(&dt, 1, x.data());
    }
    CHECK(stepper->decay_computations() == distinct);
    const double again = 0.01 * distinct;  // still cached after the one emptying
    stepper->advance_rows(&again, 1, x.data());
    stepper->advance_rows(&again, 1, x.data());
    CHECK(stepper->decay_computations() == distinct);
}

TEST_CASE("event mode converges to the fine clock solution as max_dt shrinks", "[event]") {
    // The neurons read only input channels here, so a clock model at the fine dt is the limit to
    // compare with (with recurrent synapses the rate rule makes the limit exist too: test_rate_rule.cpp).
    // The update is a first-order step: it converges once max_dt is well below tau_b and tau_m / lambda,
    // so the memory timescales start at 20 ms here (tau_m / lambda >= 4 ms); with 1 ms units the error
    // only starts to fall below max_dt ~ 0.2 ms. At max_dt = 0.05 ms (the fine dt) it is exactly 0.
    // Under the rate memory gain (and the clock_decay memory input) the limit keeps the 2 ms clock step's
    // gain (and memory read), which a clock model at the fine dt does not have: there the reference is
    // the same network updated every 0.05 ms.
    const double fine = 0.05, duration = 120.0;
    using models::MemoryGain;
    using models::MemoryInput;
    for (const auto& [gain, input] : {std::pair{MemoryGain::lambda_decay, MemoryInput::step_decay},
                                      std::pair{MemoryGain::rate, MemoryInput::step_decay},
                                      std::pair{MemoryGain::rate, MemoryInput::clock_decay}}) {
        for (const auto mode : {OutputMode::analog, OutputMode::spike}) {
            INFO("output mode " << models::to_string(mode) << ", memory gain " << models::to_string(gain)
                                << ", memory input " << models::to_string(input));
            auto cfg = event_config(mode);
            cfg.memory_gain = gain;
            cfg.memory_input = input;
            cfg.input_share = 1.0;
            cfg.tau_init_min_ms = 20.0;
            cfg.tau_init_max_ms = 200.0;
            const auto net = event_network(cfg, 2.0f);
            auto fine_net = net;
            fine_net.cfg.dt_ms = fine;
            const auto sample = random_events(60, 100.0, cfg.C, 9, fine);
            const auto x = bin(sample, fine, duration, cfg.C);
            const auto fine_backend = test::backend_for(fine_net);
            const auto backend = test::backend_for(net);
            Recording clock;
            if (gain == MemoryGain::lambda_decay) {
                sim::Simulator clock_sim(*fine_backend);
                clock_sim.run_clock(x.data(), models::num_steps(duration, fine), recorder(clock, cfg));
            } else {
                sim::Simulator fine_sim(*backend);
                fine_sim.run_event(models::make_event_schedule(sample.times_ms, sample.units, duration, fine, fine),
                                   recorder(clock, cfg));
            }

            std::vector<double> errors;
            for (const double max_dt : {8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.1}) {
                sim::Simulator sim(*backend);
                Recording event;
                sim.run_event(models::make_event_schedule(sample.times_ms, sample.units, duration, fine, max_dt),
                              recorder(event, cfg));
                errors.push_back(max_error(event, clock, cfg, fine));
            }
            INFO("errors at max_dt 8, 4, 2, 1, 0.5, 0.25, 0.1 ms: " << errors[0] << " " << errors[1] << " " << errors[2]
                                                                    << " " << errors[3] << " " << errors[4] << " "
                                                                    << errors[5] << " " << errors[6]);
            // Under clock_decay the coarsest schedules are already close (0.06 against 1.3 here) and may tie
            // where their worst update is one they share; from there on the error falls.
            for (std::size_t k = 1; k < errors.size(); ++k) {
                if (input == MemoryInput::clock_decay && k == 1)
                    CHECK(errors[k] <= errors[k - 1]);
                else
                    CHECK(errors[k] < errors[k - 1]);
            }
            CHECK(errors.back() < 0.1 * errors.front());
        }
    }
}

TEST_CASE("a silent stretch costs ceil(gap / max_dt) updates, one when max_dt exceeds it", "[event]") {
    // Events in the first 5 ms and the last 5 ms of the sample; between them silence.
    const double res = 0.1;
    const auto sample_with_gap = [](double gap_ms) {
        io::SpikeSample s;
        for (const double t : {0.25, 1.0, 1.05, 3.35, 4.95}) {
            s.times_ms.push_back(t);
            s.units.push_back(static_cast<std::uint16_t>(static_cast<int>(t * 10) % 40));
        }
        for (const double t : {0.55, 2.05, 4.75}) {
            s.times_ms.push_back(5.0 + gap_ms + t);
            s.units.push_back(3);
        }
        return s;
    };
    // Cells with events: 2, 10, 33, 49 at the start (1.0 and 1.05 share cell 10), then 55, 70, 97 after
    // the gap; each is delivered at its cell's end (+1), and the sample ends at gap + 10 ms (cell 100).
    // Times sit mid-cell so that no floor() is near a boundary.
    const auto expected_updates = [&](double gap_ms, double max_dt) {
        const auto G = static_cast<std::int64_t>(std::floor(max_dt / res + 1e-9));
        const auto gap_cells = static_cast<std::int64_t>(std::llround(gap_ms / res));
        const std::vector<std::int64_t> deliveries{
            3, 11, 34, 50, 56 + gap_cells, 71 + gap_cells, 98 + gap_cells, 100 + gap_cells};
        std::int64_t n = 0, last = 0;
        for (const auto d : deliveries) {
            n += (d - last + G - 1) / G;  // ceil: the ticks plus the update at d
            last = d;
        }
        return n;
    };
    for (const auto mode : kModes) {
        INFO("output mode " << models::to_string(mode));
        const auto cfg = event_config(mode);
        const auto net = event_network(cfg);
        const auto backend = test::backend_for(net);
        sim::Simulator sim(*backend);
        const auto run = [&](double gap_ms, double max_dt) {
            const auto s = sample_with_gap(gap_ms);
            sim.reset();
            sim.run_event(models::make_event_schedule(s.times_ms, s.units, gap_ms + 10.0, res, max_dt), nullptr);
            for (const float y : std::vector<float>(sim.view().y, sim.view().y + cfg.N)) REQUIRE(std::isfinite(y));
            return sim.updates();
        };
        const auto u10 = run(10'000.0, 10.0), u100 = run(100'000.0, 10.0);
        CHECK(u10 == expected_updates(10'000.0, 10.0));
        CHECK(u100 == expected_updates(100'000.0, 10.0));
        CHECK(u100 - u10 == 9'000);  // 90 s more silence at one tick per 10 ms
        // max_dt beyond the gap: the silence costs one update whatever its length.
        const double huge = 1e9;
        const auto h10 = run(10'000.0, huge), h1000 = run(1'000'000.0, huge);
        CHECK(h10 == 8);  // the 8 delivery cells (the last one is the sample's end)
        CHECK(h1000 == h10);
    }
}

TEST_CASE("clock-mode simulator gives the trainer's batch logits bit for bit", "[event][sim]") {
    SECTION("spike input, analog and spike outputs") {
        for (const auto mode : kModes) {
            INFO("output mode " << models::to_string(mode));
            const auto cfg = event_config(mode);
            const auto net = event_network(cfg);
            const auto sample = random_events(200, 100.0, cfg.C, 13, cfg.dt_ms);
            models::Batch batch;
            batch.T = static_cast<int>(models::num_steps(100.0, cfg.dt_ms));
            batch.B = 1;
            batch.C = cfg.C;
            batch.x = bin(sample, cfg.dt_ms, 100.0, cfg.C);
            batch.targets = {1};
            const auto backend = test::backend_for(net, 2);
            backend->step(batch, sim::RunOptions{}, nullptr, false, nullptr);
            const std::vector<float> batch_logits(backend->logits().begin(), backend->logits().end());
            sim::Simulator sim(*backend);
            sim.run_clock(batch.x.data(), batch.T, nullptr);
            REQUIRE(batch_logits.size() == static_cast<std::size_t>(cfg.n_out));
            CHECK(std::vector<float>(sim.logits(), sim.logits() + cfg.n_out) == batch_logits);
        }
    }
    SECTION("bytes through a learned embedding, logits at every step") {
        ModelConfig cfg = event_config(OutputMode::analog);
        cfg.C = 256;
        cfg.n_out = 256;
        cfg.C_e = 6;
        cfg.dt_ms = 1.0;
        const auto net = models::make_network<float>(cfg);
        const std::string text = "the quick brown fox jumps over the lazy dog";
        const int T = static_cast<int>(text.size()) - 1;
        models::Batch batch;
        batch.T = T;
        batch.B = 1;
        batch.C = 256;
        std::vector<float> onehot(static_cast<std::size_t>(T) * 256, 0.0f);
        for (int t = 0; t < T; ++t) {
            batch.tokens.push_back(static_cast<std::uint8_t>(text[t]));
            batch.targets.push_back(static_cast<std::uint8_t>(text[t + 1]));
            onehot[static_cast<std::size_t>(t) * 256 + static_cast<std::uint8_t>(text[t])] = 1.0f;
        }
        const auto backend = test::backend_for(net);
        sim::RunOptions opt;
        opt.loss = models::LossMode::next_byte;
        opt.all_logits = true;
        backend->step(batch, opt, nullptr, false, nullptr);
        const std::vector<float> batch_logits(backend->logits().begin(), backend->logits().end());
        sim::Simulator sim(*backend);
        std::vector<float> logits;
        sim.run_clock(onehot.data(), T, [&](const sim::UpdateView& v) {
            logits.insert(logits.end(), v.logits, v.logits + cfg.n_out);
        });
        CHECK(logits == batch_logits);
        // The same bytes as events (one per ms) with resolution = max_dt = dt: the same floats again.
        std::vector<double> times;
        std::vector<std::int32_t> channels;
        for (int t = 0; t < T; ++t) {
            times.push_back(t * cfg.dt_ms);
            channels.push_back(static_cast<std::uint8_t>(text[t]));
        }
        sim.reset();
        std::vector<float> event_logits;
        sim.run_event(models::make_event_schedule(times, channels, T * cfg.dt_ms, cfg.dt_ms, cfg.dt_ms),
                      [&](const sim::UpdateView& v) {
                          event_logits.insert(event_logits.end(), v.logits, v.logits + cfg.n_out);
                      });
        CHECK(event_logits == logits);
    }
}

TEST_CASE("simulator rejects an input channel the model does not read", "[event][errors]") {
    const auto cfg = event_config(OutputMode::analog);
    const auto net = event_network(cfg);
    const auto backend = test::backend_for(net);
    sim::Simulator sim(*backend);
    const std::int32_t ch = cfg.C;
    const float one = 1.0f;
    CHECK_THROWS_WITH(sim.step(1.0, 1.0, &ch, &one, 1), Catch::Contains("channel 40"));
    CHECK(sim.updates() == 0);
}
