// The memory gain of spec section 2: "rate" (dm held as a rate over the update, normalised to the clock
// step; new models) or "lambda_decay" (1 - exp(-dt lambda / tau_m) at every update; files without the
// attribute).
//  - "rate" is "lambda_decay" on the clock step, and its decays' derivatives by tau_m's raw parameter
//    match finite differences at other steps;
//  - under "rate", a held drive dm brings every unit, fast or slow, to the clock step's steady state on
//    every schedule; under "lambda_decay" a unit faster than the update settles at a gain set by dt;
//  - configs, checkpoints and the float64 path carry the choice; older files load as lambda_decay;
//  - `simulate` and `resolutions` apply either gain to a trained model (--memory-gain).
// Gradients and backends cover "rate" through the parity case table (tests/backend_cases.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/elm_math.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_training.hpp"
#include "tests/memory_rules.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using models::MemoryGain;
using models::ModelConfig;

namespace {

// Fast memory units under memory gain `gain`.
ModelConfig fast_units(MemoryGain gain) {
    ModelConfig cfg = test::fast_memory_units(23);
    cfg.memory_gain = gain;
    return cfg;
}

// m [N][d_m] after `duration` ms of updates on `schedule`'s grid (no input events: only ticks), with
// W2 = 0 and b2 = 0.4 so that every unit's drive dm = 1.7159 tanh(2/3 0.4) is held fixed.
std::vector<float> memory_after(MemoryGain gain, double resolution, double max_dt, double duration) {
    auto net = models::make_network<float>(fast_units(gain));
    std::fill_n(net.tensor(models::TensorId::W2), net.layout[models::TensorId::W2].size, 0.0f);
    std::fill_n(net.tensor(models::TensorId::b2), net.layout[models::TensorId::b2].size, 0.4f);
    return test::run_without_input(net, duration, resolution, max_dt).m;
}

// Largest |m / (G dm) - 1| over the units after 200 ms on the schedule, G = the clock step's steady-state
// gain (1 - kappa_l) / (1 - kappa_m) of each unit.
double worst_steady_state_error(MemoryGain gain, double resolution, double max_dt) {
    const ModelConfig cfg = fast_units(gain);
    const auto net = models::make_network<float>(cfg);
    const float* raw = net.tensor(models::TensorId::tau_m_raw);
    const double held = 1.7159 * std::tanh(2.0 / 3.0 * 0.4f);
    const auto m = memory_after(gain, resolution, max_dt, 200.0);
    double worst = 0;
    for (std::size_t k = 0; k < m.size(); ++k) {
        const double tau = models::tau_from_raw<double>(raw[k], cfg.tau_min_ms, cfg.tau_max_ms);
        const double G = (1 - std::exp(-cfg.dt_ms * cfg.lambda / tau)) / (1 - std::exp(-cfg.dt_ms / tau));
        worst = std::max(worst, std::abs(m[k] / (G * held) - 1.0));
    }
    return worst;
}

}  // namespace

TEST_CASE("memory gain: the rate rule's decays and their derivatives by the raw timescale", "[memory_gain]") {
    const double lambda = 5.0, clock = 2.0, tmin = 0.5, tmax = 300.0;
    for (const double p : {-6.0, -3.0, 0.0, 2.5})
        for (const double dt : {0.25, 1.0, 2.0, 20.0}) {
            INFO("p " << p << ", dt " << dt);
            const auto r = models::memory_unit_decays<double>(p, dt, lambda, tmin, tmax, true, false, clock);
            const auto d = models::memory_unit_decays<double>(p, dt, lambda, tmin, tmax, false, false, clock);
            CHECK(r.kappa_m == d.kappa_m);
            CHECK(r.dkm_draw == d.dkm_draw);
            const double tau = models::tau_from_raw(p, tmin, tmax);
            const double G = (1 - std::exp(-clock * lambda / tau)) / (1 - std::exp(-clock / tau));
            CHECK(1.0 - r.kappa_l == Approx((1.0 - r.kappa_m) * G).epsilon(1e-13));
            if (dt == clock) {  // the clock step: lambda_decay's floats
                CHECK(r.kappa_l == d.kappa_l);
                CHECK(r.dkl_draw == d.dkl_draw);
            }
            // d kappa_l / dp by central differences, for both gains
            const double h = 1e-6;
            for (const bool rate : {false, true}) {
                const auto at = [&](double q) {
                    return models::memory_unit_decays<double>(q, dt, lambda, tmin, tmax, rate, false, clock).kappa_l;
                };
                const double fd = (at(p + h) - at(p - h)) / (2 * h);
                const double an = models::memory_unit_decays<double>(p, dt, lambda, tmin, tmax, rate, false, clock).dkl_draw;
                CHECK(an == Approx(fd).epsilon(1e-6).margin(1e-10));
            }
        }
    // tau_m so long that 1 - kappa_m(dt_c) rounds to 0 in float: G is its limit lambda, nothing is NaN.
    const auto u = models::memory_unit_decays<float>(30.0f, 0.5f, 5.0f, 0.0f, 1e9f, true, true, 2.0f);
    CHECK(std::isfinite(u.kappa_l));
    CHECK(std::isfinite(u.dkl_draw));
    CHECK(std::isfinite(u.dku_draw));
}

TEST_CASE("memory gain rate: a held drive reaches the clock step's steady state on every schedule",
          "[memory_gain][event]") {
    // The clock (2 ms), fine updates, and long ticks (a 20 ms gap at most, 10x the fastest tau_m).
    for (const auto& [res, max_dt] : {std::pair{2.0, 2.0}, std::pair{0.25, 0.25}, std::pair{0.5, 20.0}}) {
        INFO("resolution " << res << " ms, max_dt " << max_dt << " ms");
        CHECK(worst_steady_state_error(MemoryGain::rate, res, max_dt) < 1e-5);
    }
    // lambda_decay: units with tau_m = 0.5..4 ms settle at (1 - kappa_l) / (1 - kappa_m) dm of the update's
    // own dt (tau_m = 1 ms: 1.16 dm on the 2 ms clock, 3.2 dm at 0.25 ms): fine updates disagree.
    CHECK(worst_steady_state_error(MemoryGain::lambda_decay, 2.0, 2.0) < 1e-5);
    CHECK(worst_steady_state_error(MemoryGain::lambda_decay, 0.25, 0.25) > 0.5);
    CHECK(memory_after(MemoryGain::rate, 2.0, 2.0, 200.0) == memory_after(MemoryGain::lambda_decay, 2.0, 2.0, 200.0));
}

TEST_CASE("memory gain: configs and checkpoints carry it, older files load as lambda_decay", "[memory_gain][io]") {
    test::TempDir dir("memory_gain");
    {
        std::ofstream f(dir.file("c.toml"));
        f << "[task]\nkind = \"shd\"\n[model]\nN = 8\nd_m = 2\nn_b = 2\nk_c = 4\nmemory_gain = \"rate\"\n";
    }
    CHECK(io::load_experiment_config(dir.file("c.toml")).model.memory_gain == MemoryGain::rate);
    CHECK(ModelConfig{}.memory_gain == MemoryGain::rate);  // new models
    {
        std::ofstream f(dir.file("c.toml"));
        f << "[task]\nkind = \"shd\"\n[model]\nN = 8\nd_m = 2\nn_b = 2\nk_c = 4\nmemory_gain = \"lambda_decay\"\n";
    }
    CHECK(io::load_experiment_config(dir.file("c.toml")).model.memory_gain == MemoryGain::lambda_decay);

    auto net = models::make_network<float>(fast_units(MemoryGain::rate));
    io::save_checkpoint(dir.file("m.h5"), net, "# test\n", nullptr, "test");
    CHECK(io::load_checkpoint(dir.file("m.h5")).net.cfg.memory_gain == MemoryGain::rate);
    CHECK(io::load_checkpoint(dir.file("m.h5")).memory_gain_declared);
    const auto set_attribute = [&](const char* value) {
        test::set_model_attribute(dir.file("m.h5"), "memory_gain", value);
    };
    set_attribute("halfway");
    CHECK_THROWS_WITH(io::load_checkpoint(dir.file("m.h5")),
                      Catch::Contains("m.h5") && Catch::Contains("memory_gain") && Catch::Contains("halfway"));
    set_attribute(nullptr);  // a file from before the choice
    CHECK(io::load_checkpoint(dir.file("m.h5")).net.cfg.memory_gain == MemoryGain::lambda_decay);
    CHECK_FALSE(io::load_checkpoint(dir.file("m.h5")).memory_gain_declared);
}

TEST_CASE("memory gain: simulate and resolutions take --memory-gain, identical on the clock", "[memory_gain][cli]") {
    const auto dir = test::spike_dir("memory_gain_cli");
    const std::string d = dir.string();
    test::write_text(dir / "exp.toml", test::spike_config(dir, 0.0));  // dt 50 ms, tau_m from 1 ms
    test::require_ok(
        test::run_elmsim(fmt::format("train --config {0}/exp.toml --max-steps 6 --quiet --out {0}/m.h5", d)));
    const auto scores = [&](const std::string& flags) { return test::simulate_scores(dir, flags); };
    CHECK(scores("--mode clock --memory-gain rate") == scores("--mode clock"));
    const std::string event = "--mode event --resolution-ms 5 --max-dt-ms 50";
    const std::string rate = scores(event + " --memory-gain rate");
    CHECK(rate == scores(event));  // the gain of new models
    CHECK(scores(event + " --memory-gain lambda_decay") != rate);

    CHECK(rate == test::resolutions_scores(dir, "--memory-gain rate"));
    test::check_flag_refused(dir, "--memory-gain", "steady");

    // A clock-trained model written before the choice (no attribute, lambda_decay): the same on its clock;
    // event mode gets the rate gain, with a one-line note, unless asked otherwise.
    const std::string lambda_decay = scores(event + " --memory-gain lambda_decay");
    test::set_model_attribute((dir / "m.h5").string(), "memory_gain", nullptr);
    CHECK(scores(event) == rate);
    CHECK(scores(event + " --memory-gain lambda_decay") == lambda_decay);
    const std::string base = fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --trace {0}/t.h5 ", d);
    const auto noted = test::run_elmsim(base + event);
    CHECK_THAT(noted.output, Catch::Contains("predates the memory gain choice"));
    const auto quiet = test::run_elmsim(base + "--mode clock");
    CHECK_THAT(quiet.output, !Catch::Contains("memory gain"));
}
