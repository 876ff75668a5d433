// Learning on the event schedule (spec section 5, "Learning on the event schedule"):
//  - an event-trained model simulated in its own event mode reproduces its evaluation bit for bit
//    (logits and y at every update), whatever the batch the samples ran in;
//  - padding changes nothing: a sample alone and the same sample in a padded batch give the same
//    outputs, and the batch's gradient is the sum of its samples';
//  - recomputation, resume (K + K == 2K) and thread count keep their bit-exact guarantees;
//  - a silent stretch costs its ticks, not its length.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_batcher.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/event_batch.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/cpu/learner.hpp"
#include "tests/backend_cases.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_runner.hpp"

using namespace elm;
using test::run_elmsim;

namespace {

std::string event_config(const std::filesystem::path& dir, const std::string& extra = "") {
    return fmt::format(R"([task]
kind = "shd-adding"
train = "{0}/train.h5"
test = "{0}/test.h5"
dt_ms = 20.0
adding_test_pairs = 10

[model]
N = 12
d_m = 4
n_b = 2
k_c = 8
seed = 3

[train]
optimizer = "adamax"
lr = 1e-2
batch_size = 3
dropout = 0.3
max_steps = 20
time = "event"
resolution_ms = 2.0
max_dt_ms = 20.0
loss = "mean_last_k"
loss_last_k = 3
seed = 5
{1}
)",
                       dir.string(), extra);
}

std::filesystem::path event_dir(const std::string& name) {
    const auto dir = test::fresh_dir(name);
    REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/train.h5 --samples 40 --seed 1", dir.string())).code == 0);
    REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/test.h5 --samples 12 --seed 2", dir.string())).code == 0);
    return dir;
}

}  // namespace

TEST_CASE("an event-trained model simulates in its event mode exactly as it evaluates", "[event][learn][cli]") {
    const auto dir = event_dir("ev_faithful");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", event_config(dir));
    REQUIRE(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 4 --quiet --out {0}/m.h5", d)).code == 0);
    const auto eval = run_elmsim(fmt::format("eval --model {0}/m.h5 --data {0}/test.h5", d));
    const auto simulate =
        run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --record y,logits --trace {0}/t.h5", d));
    INFO(eval.output << simulate.output);
    REQUIRE(eval.code == 0);
    REQUIRE(simulate.code == 0);
    CHECK_THAT(simulate.output, Catch::Contains("event mode"));  // the model's own time base by default
    const auto number_after = [](const std::string& text, const std::string& key) {
        const auto at = text.find(key);
        REQUIRE(at != std::string::npos);
        return std::stod(text.substr(at + key.size()));
    };
    CHECK(number_after(eval.output, "loss ") == number_after(simulate.output, "loss "));
    CHECK(number_after(eval.output, "accuracy ") == number_after(simulate.output, "accuracy "));

    // The evaluator's floats: the evaluation pairs as one batch through the backend's batch step.
    const auto ck = io::load_checkpoint(d + "/m.h5");
    const auto cfg = io::parse_experiment_config(ck.config_toml, "config");
    const auto ds = io::read_spike_dataset(d + "/test.h5");
    const auto pairs = io::evaluation_pairs(ds, 10, cfg.train.seed);
    io::SpikeBatcher batcher(ds, cfg);
    std::vector<io::BatchItem> items;
    for (const auto& p : pairs) items.push_back({p.a, p.b, p.label});
    models::Batch batch;
    batcher.assemble(items, batch);
    REQUIRE(!batch.gap_cells.empty());
    const auto backend = test::backend_for(ck.net);
    sim::RunOptions opt;
    opt.loss = cfg.train.loss;
    opt.last_k = static_cast<int>(cfg.train.loss_last_k);
    opt.all_logits = true;
    opt.keep_tape = true;
    backend->step(batch, opt, nullptr, false, nullptr);
    const auto logits = backend->logits();
    const auto states = backend->state_trace();
    const auto tr = io::read_trace(d + "/t.h5");
    REQUIRE(tr.samples.size() == items.size());
    const int B = batch.B, T = batch.T, N = ck.net.cfg.N, n_out = ck.net.cfg.n_out;
    bool padded = false;
    for (std::size_t k = 0; k < items.size(); ++k) {
        INFO("pair " << k);
        const int r = batcher.row_of(k), first = batcher.first_step(r);
        padded = padded || first > 0;
        const auto& ts = tr.samples[k];
        REQUIRE(ts.T == T - first);  // every update of the sample's own schedule, no padding
        CHECK(ts.time_ms == batcher.schedule(k).time_ms);
        std::vector<float> want_logits, want_y;
        for (int t = first; t < T; ++t) {
            const float* row = logits.data() + (static_cast<std::size_t>(t) * B + r) * n_out;
            want_logits.insert(want_logits.end(), row, row + n_out);
            for (int j = 0; j < N; ++j)
                want_y.push_back(states.y[static_cast<std::size_t>(t + 1) * states.y_stride + static_cast<std::size_t>(j) * B + r]);
        }
        CHECK(ts.logits == want_logits);  // bit for bit, at every update
        CHECK(ts.y == want_y);
    }
    CHECK(padded);  // the comparison covered rows that were padded
    // The batch the samples ran in does not matter.
    REQUIRE(run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --record y,logits --batch 1 "
                                   "--trace {0}/t1.h5", d)).code == 0);
    const auto one = io::read_trace(d + "/t1.h5");
    for (std::size_t k = 0; k < items.size(); ++k) {
        CHECK(one.samples[k].logits == tr.samples[k].logits);
        CHECK(one.samples[k].y == tr.samples[k].y);
    }
}

TEST_CASE("padding changes nothing: a sample alone and inside a padded batch", "[event][learn]") {
    test::BackendCase k{"padding", test::case_base(), models::LossMode::mean_last_k, 3};
    k.cfg.phi = models::Phi::silu;
    k.resolution_ms = 0.5;
    k.max_dt_ms = 3.0;
    k.event_ms = 16.0;
    k.B = 3;
    const models::Batch batch = test::case_batch(k, 4);
    REQUIRE(batch.gap_cells[0] > 0);
    REQUIRE(batch.gap_cells[static_cast<std::size_t>(batch.B - 1)] == 0);  // the last row starts padded
    auto net = models::make_network<double>(k.cfg);
    sim::cpu::Executor ex(1);
    sim::cpu::Learner<double> learner(net, ex);
    sim::RunOptions opt;
    opt.loss = k.loss;
    opt.last_k = k.last_k;
    opt.all_logits = true;
    std::vector<double> grads_all(net.params.size(), 0.0);
    const double loss_all = learner.run(batch, opt, nullptr, grads_all.data(), nullptr).loss();
    const std::vector<double> logits_all = learner.logits();
    std::vector<double> grads_sum(net.params.size(), 0.0);
    double loss_sum = 0.0;
    for (int r = 0; r < batch.B; ++r) {
        // Row r alone: its own updates only, without the padding.
        int first = 0;
        while (batch.gap_cells[static_cast<std::size_t>(first) * batch.B + r] == 0) ++first;
        models::Batch one;
        one.T = batch.T - first;
        one.B = 1;
        one.C = batch.C;
        one.resolution_ms = batch.resolution_ms;
        for (int t = first; t < batch.T; ++t) {
            one.gap_cells.push_back(batch.gap_cells[static_cast<std::size_t>(t) * batch.B + r]);
            const float* x = batch.x.data() + (static_cast<std::size_t>(t) * batch.B + r) * batch.C;
            one.x.insert(one.x.end(), x, x + batch.C);
        }
        one.targets = {batch.targets[static_cast<std::size_t>(r)]};
        std::vector<double> g(net.params.size(), 0.0);
        loss_sum += learner.run(one, opt, nullptr, g.data(), nullptr).loss();
        // The batch's gradient is the mean of its rows': each row enters with weight 1 / B.
        for (std::size_t p = 0; p < g.size(); ++p) grads_sum[p] += g[p] / batch.B;
        for (int t = 0; t < one.T; ++t)
            for (int o = 0; o < k.cfg.n_out; ++o) {
                INFO("row " << r << " update " << t);
                CHECK(learner.logits()[static_cast<std::size_t>(t) * k.cfg.n_out + o] ==
                      logits_all[(static_cast<std::size_t>(first + t) * batch.B + r) * k.cfg.n_out + o]);
            }
    }
    CHECK(loss_all == Approx(loss_sum / batch.B).epsilon(1e-13));
    double worst = 0, scale = 0;
    for (std::size_t p = 0; p < grads_all.size(); ++p) {
        worst = std::max(worst, std::abs(grads_all[p] - grads_sum[p]));
        scale = std::max(scale, std::abs(grads_all[p]));
    }
    INFO("largest gradient difference " << worst << " of " << scale);
    CHECK(scale > 0);
    CHECK(worst <= 1e-12 * scale);  // float64: only the order of the sum differs
}

TEST_CASE("event batches the engine cannot run are rejected with a message, not run", "[event][learn][input]") {
    // The engine relies on the layout of models/batch.hpp: updating rows first, padding only at the
    // start, every row updating at the last step, no negative gap.
    test::BackendCase k{"bad", test::case_base(), models::LossMode::last, 1};
    k.resolution_ms = 0.5;
    k.max_dt_ms = 3.0;
    k.event_ms = 16.0;
    k.B = 3;
    const models::Batch good = test::case_batch(k, 4);
    auto net = models::make_network<float>(k.cfg);
    sim::cpu::Executor ex(1);
    sim::cpu::Learner<float> learner(net, ex);
    sim::RunOptions opt;
    std::vector<float> grads(net.params.size(), 0.0f);
    REQUIRE_NOTHROW(learner.run(good, opt, nullptr, grads.data(), nullptr));
    const auto at = [&](models::Batch& b, int t, int r) -> std::int32_t& {
        return b.gap_cells[static_cast<std::size_t>(t) * b.B + r];
    };
    const int last = good.T - 1;
    const auto rejected = [&](models::Batch b, const char* why) {
        INFO(why);
        CHECK_THROWS_AS(learner.run(b, opt, nullptr, grads.data(), nullptr), InputError);
    };
    models::Batch b = good;
    at(b, last, 0) = 0;  // row 0 holds at the last step while the others update
    rejected(b, "a held row before updating ones");
    b = good;
    for (int r = 0; r < b.B; ++r) at(b, last, r) = 0;
    rejected(b, "no row updates at a step");
    b = good;
    at(b, last, b.B - 1) = 0;
    rejected(b, "the last row does not update at the last step");
    b = good;
    REQUIRE(at(b, last - 2, b.B - 1) > 0);
    at(b, last - 1, b.B - 1) = 0;  // the last row pauses: padding in the middle
    rejected(b, "a row that stops updating");
    b = good;
    at(b, 0, 0) = -1;
    rejected(b, "a negative gap");
    b = good;
    b.gap_cells.pop_back();
    rejected(b, "gap_cells of the wrong size");
    b = good;
    b.resolution_ms = 0.0;
    rejected(b, "no resolution");
}

TEST_CASE("event batches: recomputation gives the full tape's gradients bit for bit, 1 thread = 2", "[event][learn]") {
    test::BackendCase k{"recompute", test::case_base()};
    k.resolution_ms = 0.5;
    k.max_dt_ms = 2.0;
    k.event_ms = 20.0;
    k.B = 4;
    const models::Batch batch = test::case_batch(k, 9);
    const auto net = models::make_network<float>(k.cfg);
    const auto run = [&](int threads, int K) {
        const auto backend = test::backend_for(net, threads);
        sim::RunOptions opt;
        opt.recompute_every = K;
        opt.dropout = 0.2;
        Rng rng(3, 3);
        backend->zero_gradients();
        const double loss = backend->step(batch, opt, nullptr, true, &rng).loss();
        return std::make_pair(loss, std::vector<float>(backend->gradients().begin(), backend->gradients().end()));
    };
    const auto full = run(1, 0);
    CHECK(std::any_of(full.second.begin(), full.second.end(), [](float g) { return g != 0.0f; }));
    for (const int K : {3, 7}) {
        INFO("recompute every " << K);
        CHECK(run(1, K) == full);
    }
    CHECK(run(2, 0) == full);
}

TEST_CASE("cli: event-schedule training resumes bit for bit and does not depend on threads", "[event][learn][cli][resume]") {
    const auto dir = event_dir("ev_resume");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", event_config(dir));
    const auto train = [&](const std::string& args) {
        const auto r = run_elmsim(fmt::format("train --config {0}/c.toml --quiet {1}", d, args));
        INFO(r.output);
        REQUIRE(r.code == 0);
    };
    train(fmt::format("--max-steps 3 --threads 1 --out {}/a.h5", d));
    train(fmt::format("--resume {0}/a.h5 --max-steps 3 --threads 1 --out {0}/b.h5", d));
    train(fmt::format("--max-steps 6 --threads 1 --out {}/s.h5", d));
    train(fmt::format("--max-steps 6 --threads 2 --out {}/t2.h5", d));
    const auto b = io::load_checkpoint(d + "/b.h5"), s = io::load_checkpoint(d + "/s.h5"),
               t2 = io::load_checkpoint(d + "/t2.h5");
    CHECK(b.net.params == s.net.params);
    CHECK(b.train->moment1 == s.train->moment1);
    CHECK(t2.net.params == s.net.params);
    const auto init = models::make_network<float>(s.net.cfg);
    CHECK(init.params != s.net.params);  // it trained
}

TEST_CASE("event batches: a silent stretch costs its ticks, not its length", "[event][learn]") {
    // Two samples: one event at 1 ms, one at 1 ms and one after a 10 s silence; max_dt 100 ms.
    const models::EventGrid grid = models::make_event_grid(1.0, 100.0);
    const auto schedule = [&](std::vector<double> t, double duration) {
        std::vector<std::int32_t> c(t.size(), 0);
        models::EventScheduleBuilder builder(grid, duration);
        models::EventSchedule s;
        builder.next_slice(t.data(), c.data(), t.size(), true, s);
        return s;
    };
    const auto short_s = schedule({1.0}, 10'050.0), long_s = schedule({1.0, 10'020.5}, 10'050.0);
    // 1 ms: the event at 2; ticks every 100 ms to 10 002; the event at 10 021; the end at 10 050.
    CHECK(long_s.updates() == 1 + 100 + 1 + 1);
    CHECK(short_s.updates() == 1 + 100 + 1);
    const std::vector<const models::EventSchedule*> both{&short_s, &long_s};
    models::Batch batch;
    const auto rows = models::fill_event_batch(both, 4, 1.0, batch);
    CHECK(batch.T == long_s.updates());  // the batch is as long as its longest schedule
    CHECK(rows.row_of[1] == 0);           // longest first
    CHECK(rows.first_step[1] == 1);       // the shorter one padded by one update at the start
    std::int64_t updates = 0;
    for (const auto g : batch.gap_cells) updates += g > 0;
    CHECK(updates == short_s.updates() + long_s.updates());  // padding is not an update
}

TEST_CASE("config: the event time base is checked where it is set", "[event][learn][config]") {
    const auto base = std::string("[task]\nkind = \"shd-adding\"\ndt_ms = 20.0\n[model]\nN = 8\nd_m = 2\nn_b = 2\nk_c = 4\n");
    const auto parse = [&](const std::string& train) { return io::parse_experiment_config(base + "[train]\n" + train, "c.toml"); };
    CHECK(parse("time = \"event\"\nresolution_ms = 0.5\nmax_dt_ms = 10.0\n").train.time == models::TimeBase::event);
    CHECK_THROWS_WITH(parse("resolution_ms = 0.5\n"), Catch::Contains("train.resolution_ms") && Catch::Contains("event"));
    CHECK_THROWS_WITH(parse("time = \"event\"\nresolution_ms = 4.0\nmax_dt_ms = 2.0\n"), Catch::Contains("max_dt_ms"));
    CHECK_THROWS_WITH(parse("time = \"event\"\nloss = \"mean_last_k\"\nloss_last_k = 500\nmax_dt_ms = 20.0\n"),
                      Catch::Contains("train.loss_last_k") && Catch::Contains("at most 100"));
    CHECK_THROWS_WITH(io::parse_experiment_config("[task]\nkind = \"bytes\"\n[train]\ntime = \"event\"\n", "b.toml"),
                      Catch::Contains("train.time"));
}
