// The memory input of spec section 2: how the MLP reads the memory, "clock_decay" (kappa_m(dt_c) m_{t-1}
// on every schedule; new models) or "step_decay" (kappa_m(dt) m_{t-1}; files without the attribute).
//  - "clock_decay" is "step_decay" on the clock step (the same floats, the same derivatives), and its
//    factor's derivative by tau_m's raw parameter matches finite differences;
//  - with the rate drive rule and the rate memory gain, a network left to itself settles to one state
//    whatever the schedule under "clock_decay", and to one per schedule under "step_decay";
//  - configs, checkpoints and the float64 path carry the choice; older files load as step_decay;
//  - `simulate` and `resolutions` apply either input to a trained model (--memory-input).
// Gradients and backends cover both inputs through the parity case table (tests/backend_cases.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/elm_math.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_training.hpp"
#include "tests/memory_rules.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using models::MemoryInput;
using models::ModelConfig;

namespace {

// Fast memory units (rate drive, rate gain) under memory input `input`.
ModelConfig fast_units(MemoryInput input) {
    ModelConfig cfg = test::fast_memory_units(29);
    cfg.memory_input = input;
    return cfg;
}

// The state [m, b, y] after `duration` ms of updates without input events on `resolution`'s grid (ticks
// at most max_dt apart), from rest, with b2 = 0.4 so that the MLP drives every memory unit.
std::vector<float> settled_state(MemoryInput input, double resolution, double max_dt, double duration) {
    auto net = models::make_network<float>(fast_units(input));
    std::fill_n(net.tensor(models::TensorId::b2), net.layout[models::TensorId::b2].size, 0.4f);
    auto s = test::run_without_input(net, duration, resolution, max_dt);
    s.m.insert(s.m.end(), s.b.begin(), s.b.end());
    s.m.insert(s.m.end(), s.y.begin(), s.y.end());
    return s.m;
}

double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0;
    for (std::size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(double(a[k]) - double(b[k])));
    return worst;
}

double largest_magnitude(const std::vector<float>& a) {
    double worst = 0;
    for (const float x : a) worst = std::max(worst, std::abs(double(x)));
    return worst;
}

}  // namespace

TEST_CASE("memory input: the clock step's decay, and its derivative by the raw timescale", "[memory_input]") {
    const double lambda = 5.0, clock = 2.0, tmin = 0.5, tmax = 300.0;
    for (const double p : {-6.0, -3.0, 0.0, 2.5})
        for (const double dt : {0.25, 1.0, 2.0, 20.0})
            for (const bool rate : {false, true}) {
                INFO("p " << p << ", dt " << dt << ", rate gain " << rate);
                const auto c = models::memory_unit_decays<double>(p, dt, lambda, tmin, tmax, rate, true, clock);
                const auto s = models::memory_unit_decays<double>(p, dt, lambda, tmin, tmax, rate, false, clock);
                // the rest of the decays do not depend on the input rule
                CHECK(c.kappa_m == s.kappa_m);
                CHECK(c.kappa_l == s.kappa_l);
                CHECK(c.dkm_draw == s.dkm_draw);
                CHECK(c.dkl_draw == s.dkl_draw);
                CHECK(s.kappa_u == s.kappa_m);  // step_decay reads kappa_m
                CHECK(s.dku_draw == s.dkm_draw);
                CHECK(models::memory_input_is_kappa_m(dt, false, clock));
                CHECK(models::memory_input_is_kappa_m(dt, true, clock) == (dt == clock));
                // clock_decay: kappa_m of the clock step, the same floats as a clock step's kappa_m
                const auto on_clock = models::memory_unit_decays<double>(p, clock, lambda, tmin, tmax, rate, true, clock);
                CHECK(c.kappa_u == on_clock.kappa_m);
                CHECK(c.dku_draw == on_clock.dkm_draw);
                const double h = 1e-6;
                const auto at = [&](double q) {
                    return models::memory_unit_decays<double>(q, dt, lambda, tmin, tmax, rate, true, clock).kappa_u;
                };
                CHECK(c.dku_draw == Approx((at(p + h) - at(p - h)) / (2 * h)).epsilon(1e-6).margin(1e-10));
            }
}

TEST_CASE("memory input clock_decay: a network left to itself settles to one state on every schedule",
          "[memory_input][event]") {
    const double duration = 400.0;
    const auto clock = settled_state(MemoryInput::clock_decay, 2.0, 2.0, duration);
    REQUIRE(largest_magnitude(clock) > 0.05);  // a state the MLP drives, not rest
    // The clock itself: both rules are the same floats.
    CHECK(clock == settled_state(MemoryInput::step_decay, 2.0, 2.0, duration));
    for (const auto& [res, max_dt] : {std::pair{0.25, 0.25}, std::pair{0.5, 0.5}, std::pair{0.5, 4.0}}) {
        INFO("resolution " << res << " ms, max_dt " << max_dt << " ms");
        CHECK(largest_difference(settled_state(MemoryInput::clock_decay, res, max_dt, duration), clock) < 1e-4);
        // step_decay hands the MLP kappa_m(dt) m: a fine update reads more of a fast unit, another state
        CHECK(largest_difference(settled_state(MemoryInput::step_decay, res, max_dt, duration), clock) > 1e-2);
    }
}

TEST_CASE("memory input: configs and checkpoints carry it, older files load as step_decay", "[memory_input][io]") {
    test::TempDir dir("memory_input");
    const auto config_with = [&](const std::string& line) {
        std::ofstream(dir.file("c.toml")) << "[task]\nkind = \"shd\"\n[model]\nN = 8\nd_m = 2\nn_b = 2\nk_c = 4\n"
                                          << line << "\n";
        return io::load_experiment_config(dir.file("c.toml")).model.memory_input;
    };
    CHECK(config_with("memory_input = \"clock_decay\"") == MemoryInput::clock_decay);
    CHECK(config_with("memory_input = \"step_decay\"") == MemoryInput::step_decay);
    CHECK(config_with("") == MemoryInput::clock_decay);  // new models
    CHECK_THROWS_WITH(config_with("memory_input = \"halfway\""),
                      Catch::Contains("memory_input") && Catch::Contains("halfway") && Catch::Contains("clock_decay"));
    CHECK_THROWS_WITH(config_with("memory_input = 2"), Catch::Contains("memory_input"));

    auto net = models::make_network<float>(fast_units(MemoryInput::step_decay));
    io::save_checkpoint(dir.file("m.h5"), net, "# test\n", nullptr, "test");
    CHECK(io::load_checkpoint(dir.file("m.h5")).net.cfg.memory_input == MemoryInput::step_decay);
    net.cfg.memory_input = MemoryInput::clock_decay;
    io::save_checkpoint(dir.file("m.h5"), net, "# test\n", nullptr, "test");
    CHECK(io::load_checkpoint(dir.file("m.h5")).net.cfg.memory_input == MemoryInput::clock_decay);
    CHECK(io::load_checkpoint(dir.file("m.h5")).memory_input_declared);
    test::set_model_attribute(dir.file("m.h5"), "memory_input", "halfway");
    CHECK_THROWS_WITH(io::load_checkpoint(dir.file("m.h5")),
                      Catch::Contains("m.h5") && Catch::Contains("memory_input") && Catch::Contains("halfway"));
    test::set_model_attribute(dir.file("m.h5"), "memory_input", nullptr);  // a file from before the choice
    CHECK(io::load_checkpoint(dir.file("m.h5")).net.cfg.memory_input == MemoryInput::step_decay);
    CHECK_FALSE(io::load_checkpoint(dir.file("m.h5")).memory_input_declared);
}

TEST_CASE("memory input: simulate and resolutions take --memory-input, identical on the clock", "[memory_input][cli]") {
    const auto dir = test::spike_dir("memory_input_cli");
    const std::string d = dir.string();
    // dt 50 ms, tau_m from 1 ms: fine updates read fast units very differently under the two inputs
    test::write_text(dir / "exp.toml", test::spike_config(dir, 0.0));
    test::require_ok(
        test::run_elmsim(fmt::format("train --config {0}/exp.toml --max-steps 6 --quiet --out {0}/m.h5", d)));
    const auto scores = [&](const std::string& flags) { return test::simulate_scores(dir, flags); };
    CHECK(scores("--mode clock --memory-input step_decay") == scores("--mode clock"));
    const std::string event = "--mode event --resolution-ms 5 --max-dt-ms 50";
    const std::string clock_decay = scores(event + " --memory-input clock_decay");
    CHECK(clock_decay == scores(event));  // the input of new models
    const std::string step_decay = scores(event + " --memory-input step_decay");
    CHECK(step_decay != clock_decay);

    CHECK(step_decay == test::resolutions_scores(dir, "--memory-input step_decay"));
    test::check_flag_refused(dir, "--memory-input", "fresh");

    // A clock-trained model written before the choice (no attribute: step_decay): the same on its clock;
    // event mode reads the memory with the clock step's decay, with a one-line note, unless asked otherwise.
    test::set_model_attribute((dir / "m.h5").string(), "memory_input", nullptr);
    CHECK(scores(event) == clock_decay);
    CHECK(scores(event + " --memory-input step_decay") == step_decay);
    const std::string base = fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --trace {0}/t.h5 ", d);
    const auto noted = test::run_elmsim(base + event);
    CHECK_THAT(noted.output, Catch::Contains("predates the memory input choice"));
    const auto quiet = test::run_elmsim(base + "--mode clock");
    CHECK_THAT(quiet.output, !Catch::Contains("memory input"));
}
