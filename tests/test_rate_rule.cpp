// The rate rule of spec section 5 ("Impulses and rates"): analog outputs are rates held over an
// update, w y_prev g(dt) with g(dt) = (1 - kappa_b(dt)) / (1 - kappa_b(dt_ms)); events stay impulses.
//  - g is exactly 1 on the clock step, ~ dt / dt_ms for short updates, bounded on long ticks;
//  - a held analog input drives a branch trace to w y / (1 - kappa_b(dt_ms)) under clock steps, fine
//    updates and long ticks alike (the old per-update rule does not: it is why event mode lost trained
//    networks' accuracy);
//  - with recurrent synapses, event mode converges as max_dt shrinks;
//  - checkpoints record the rule; files from before it load with the old rule, and simulate says so.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/elm_math.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_runner.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using models::ModelConfig;

namespace {

ModelConfig rate_config() {
    ModelConfig cfg;
    cfg.N = 10;
    cfg.C = 12;
    cfg.n_out = 3;
    cfg.d_m = 3;
    cfg.d_h = 6;
    cfg.n_b = 2;
    cfg.k_c = 6;
    cfg.dt_ms = 2.0;
    cfg.tau_init_min_ms = 20.0;
    cfg.tau_init_max_ms = 200.0;
    cfg.seed = 41;
    return cfg;
}

// The branch traces b [N][n_b] after running `schedule` (no input events: only ticks).
std::vector<float> branches_after(const models::Network<float>& net, const models::EventSchedule& schedule) {
    const auto backend = test::backend_for(net);
    sim::Simulator sim(*backend);
    sim.run_event(schedule, nullptr);
    const auto v = sim.view();
    return std::vector<float>(v.b, v.b + static_cast<std::size_t>(net.cfg.N) * net.cfg.n_b);
}

}  // namespace

TEST_CASE("rate gain: exactly 1 on the clock step, proportional for short updates, bounded on long ticks",
          "[rate]") {
    const double tau_b = 5.0, dt_ms = 2.0;
    const auto g = [&](double dt) {
        return models::rate_gain(models::decay(dt, tau_b), models::decay(dt_ms, tau_b));
    };
    CHECK(g(dt_ms) == 1.0);
    const float gf = models::rate_gain(models::decay(2.0f, 5.0f), models::decay(2.0f, 5.0f));
    CHECK(gf == 1.0f);
    // Short updates: g(dt) ~ dt (1 - dt / (2 tau_b)) / (tau_b (1 - kappa_b(dt_ms))).
    const double unit = 1.0 / (tau_b * (1.0 - models::decay(dt_ms, tau_b)));
    CHECK(g(0.01) == Approx(0.01 * unit).epsilon(2e-3));
    CHECK(g(0.1) / g(0.05) == Approx(2.0).epsilon(1e-2));
    // Long ticks saturate at 1 / (1 - kappa_b(dt_ms)) instead of growing with dt.
    CHECK(g(1000.0) == Approx(1.0 / (1.0 - models::decay(dt_ms, tau_b))));
    CHECK(g(100.0) < 1.0 / (1.0 - models::decay(dt_ms, tau_b)) + 1e-12);
}

TEST_CASE("a held analog input drives a branch to the same steady state under any schedule", "[rate]") {
    // Every neuron outputs the constant y = c (wy = 0), from its first update on; no input events. Each
    // branch then integrates sum_k w_k c over its recurrent synapses: b* = sum_k w_k c / (1 - kappa_b(dt_ms)).
    auto cfg = rate_config();
    cfg.input_share = 0.0;  // every synapse recurrent
    auto net = models::make_network<float>(cfg);
    std::fill(net.tensor(models::TensorId::wy), net.tensor(models::TensorId::wy) + cfg.N * cfg.d_m, 0.0f);
    const float c = 0.5f;
    std::fill(net.tensor(models::TensorId::c), net.tensor(models::TensorId::c) + cfg.N, c);
    std::vector<double> expected(static_cast<std::size_t>(cfg.N) * cfg.n_b, 0.0);
    const float* w = net.tensor(models::TensorId::w_syn);
    const int per_branch = cfg.k_c / cfg.n_b;
    for (int i = 0; i < cfg.N; ++i)
        for (int k = 0; k < cfg.k_c; ++k)
            expected[static_cast<std::size_t>(i) * cfg.n_b + k / per_branch] +=
                w[static_cast<std::size_t>(i) * cfg.k_c + k] * c / (1.0 - models::decay(cfg.dt_ms, cfg.tau_b_ms));

    const std::vector<double> none;
    const std::vector<std::int32_t> no_channels;
    const double duration = 400.0;  // 80 tau_b: every schedule has settled
    const auto worst_error = [&](const std::vector<float>& b) {
        double worst = 0, scale = 0;
        for (std::size_t k = 0; k < b.size(); ++k) {
            worst = std::max(worst, std::abs(b[k] - expected[k]));
            scale = std::max(scale, std::abs(expected[k]));
        }
        return worst / scale;
    };
    for (const auto& [res, max_dt] : {std::pair{2.0, 2.0}, std::pair{0.1, 0.1}, std::pair{0.5, 100.0}}) {
        INFO("resolution " << res << " ms, max_dt " << max_dt << " ms");
        CHECK(worst_error(branches_after(net, models::make_event_schedule(none, no_channels, duration, res, max_dt))) < 1e-5);
    }
    // The old rule injects w y at every update: 20 fine updates per clock step overshoot ~20x.
    auto old_rule = net;
    old_rule.cfg.drive = models::DriveRule::per_update;
    CHECK(worst_error(branches_after(old_rule, models::make_event_schedule(none, no_channels, duration, 0.1, 0.1))) > 5.0);
}

TEST_CASE("with recurrent synapses, event mode converges under the rate rule as max_dt shrinks", "[rate][event]") {
    // Reference: the same network updated every 0.05 ms. Coarser schedules (events on the same 0.05 ms
    // cells, ticks at most max_dt apart) approach it; under the old rule they would not (each update
    // adds a full w y, so the recurrent drive per ms grows as updates get finer). Under both memory
    // inputs; "clock_decay" (the MLP reads the memory as on the clock step) starts 6x closer and stays
    // closer at every max_dt, though its coarsest schedules need not improve in order.
    Rng rng(5, 1);
    std::vector<double> t;
    std::vector<std::int32_t> ch;
    for (int k = 0; k < 60; ++k) t.push_back(std::floor(rng.uniform(0.0, 100.0) / 0.05) * 0.05 + 0.01);
    std::sort(t.begin(), t.end());
    for (std::size_t k = 0; k < t.size(); ++k) ch.push_back(static_cast<std::int32_t>(rng.below(12)));
    const double fine = 0.05, duration = 120.0;
    const std::vector<double> max_dts = {8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.1};
    const auto errors_under = [&](models::MemoryInput input) {
        auto cfg = rate_config();  // input_share 0.5: half the synapses recurrent
        cfg.memory_input = input;
        const auto net = test::network_with_scaled_synapses(cfg, 2.0f);
        const auto backend = test::backend_for(net);
        // m of every update, keyed by its time in fine cells.
        const auto run = [&](double max_dt) {
            std::vector<std::pair<long long, std::vector<float>>> out;
            sim::Simulator sim(*backend);
            sim.run_event(models::make_event_schedule(t, ch, duration, fine, max_dt), [&](const sim::UpdateView& v) {
                out.emplace_back(std::llround(v.time_ms / fine), std::vector<float>(v.m, v.m + cfg.N * cfg.d_m));
            });
            return out;
        };
        const auto reference = run(fine);
        std::vector<double> errors;
        for (const double max_dt : max_dts) {
            double worst = 0;
            for (const auto& [cell, m] : run(max_dt)) {
                const auto& ref = reference[static_cast<std::size_t>(cell) - 1];
                REQUIRE(ref.first == cell);
                for (std::size_t k = 0; k < m.size(); ++k)
                    worst = std::max(worst, static_cast<double>(std::abs(m[k] - ref.second[k])));
            }
            errors.push_back(worst);
        }
        return errors;
    };
    const auto step = errors_under(models::MemoryInput::step_decay);
    const auto clock = errors_under(models::MemoryInput::clock_decay);
    INFO("errors at max_dt 8, 4, 2, 1, 0.5, 0.25, 0.1 ms: step_decay " << fmt::format("{}", fmt::join(step, " "))
                                                                        << "; clock_decay "
                                                                        << fmt::format("{}", fmt::join(clock, " ")));
    for (std::size_t k = 1; k < step.size(); ++k) CHECK(step[k] < step[k - 1]);
    CHECK(step.back() < 0.1 * step.front());
    for (std::size_t k = 0; k < clock.size(); ++k) CHECK(clock[k] < step[k]);
    for (std::size_t k = 3; k < clock.size(); ++k) CHECK(clock[k] < clock[k - 1]);  // from 1 ms down
    CHECK(clock.back() < 0.1 * clock.front());
}

TEST_CASE("checkpoints record the drive rule, older files load with the old rule", "[rate][io]") {
    test::TempDir dir("rate_ckpt");
    auto net = models::make_network<float>(rate_config());
    io::save_checkpoint(dir.file("new.h5"), net, "# test\n", nullptr, "test");
    const auto loaded = io::load_checkpoint(dir.file("new.h5"));
    CHECK(loaded.drive_declared);
    CHECK(loaded.net.cfg.drive == models::DriveRule::rate);
    {  // a file from before the rule: no attribute
        hid_t f = H5Fopen(dir.file("new.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        REQUIRE(H5Adelete_by_name(f, "/model", "drive", H5P_DEFAULT) >= 0);
        H5Fclose(f);
    }
    const auto old = io::load_checkpoint(dir.file("new.h5"));
    CHECK_FALSE(old.drive_declared);
    CHECK(old.net.cfg.drive == models::DriveRule::per_update);
    CHECK(old.net.params == loaded.net.params);
}

TEST_CASE("cli simulate: a model from before the rate rule gets it in event mode, with a note", "[rate][cli]") {
    const auto dir = test::fresh_dir("rate_cli");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", "[task]\nkind = \"shd\"\ndt_ms = 20.0\n[model]\nN = 8\nd_m = 2\nn_b = 2\nk_c = 4\n");
    REQUIRE(test::run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)).code == 0);
    REQUIRE(test::run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 3", d)).code == 0);
    const std::string event = fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --mode event "
                                          "--resolution-ms 1 --max-dt-ms 20 --record y,logits",
                                          d);
    auto r = test::run_elmsim(fmt::format("{} --trace {}/rate.h5", event, d));
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, !Catch::Contains("note"));  // a model of this version declares its rule
    {
        hid_t f = H5Fopen((d + "/m.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        REQUIRE(f >= 0);
        REQUIRE(H5Adelete_by_name(f, "/model", "drive", H5P_DEFAULT) >= 0);
        H5Fclose(f);
    }
    r = test::run_elmsim(fmt::format("{} --trace {}/legacy_default.h5", event, d));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("note:") && Catch::Contains("predates the rate rule"));
    r = test::run_elmsim(fmt::format("{} --drive per_update --trace {}/legacy_old.h5", event, d));
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, !Catch::Contains("note"));
    const auto logits = [&](const std::string& name) {
        std::vector<float> all;
        for (const auto& sample : io::read_trace(d + "/" + name).samples)
            all.insert(all.end(), sample.logits.begin(), sample.logits.end());
        return all;
    };
    CHECK(logits("legacy_default.h5") == logits("rate.h5"));  // the default for an old model: the rate rule
    CHECK(logits("legacy_old.h5") != logits("rate.h5"));      // and the old rule is really different
    // Clock mode needs no note: both rules agree there.
    r = test::run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/clock.h5", d));
    CHECK_THAT(r.output, !Catch::Contains("note"));
}
