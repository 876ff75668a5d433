// Schedule-robust training (train.time = "any", spec section 5): every row of a training batch on the
// event schedule of a resolution drawn from train.resolutions_ms.
//  - a row of a mixed batch runs exactly the updates, and gives exactly the floats, of
//    `simulate --mode event` at its own resolution;
//  - the draws are deterministic, resume K + K == 2K, 1 thread == 2 threads;
//  - train.clock_steps: the first steps are the clock run's exactly, and resume crosses the switch;
//  - rows draw their grid uniformly, or in proportion to train.resolution_weights; with
//    train.resolution_draw = "batch" all rows of a batch share one draw (deterministic and resumable
//    alike);
//  - evaluation runs on the clock, as `simulate` does by default for such a model;
//  - the config keys are checked where they are set.
// Finite differences and backend parity through a batch whose rows are on different grids are a row
// of the case table (tests/backend_cases.hpp).
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_batcher.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/task_data.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/network.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_training.hpp"

using namespace elm;
using test::run_elmsim;

namespace {

// The tiny SHD-Adding model of tests/cli_training.hpp (dt 50 ms), robust-trained: rows drawn from
// 6.25, 12.5, 25 and 50 ms (the default dt / 8 .. dt), no gap over 50 ms.
std::string any_config(const std::filesystem::path& dir, const std::string& extra = "") {
    return test::spike_config(dir, 0.2) + "time = \"any\"\n" + extra;
}

double number_after(const std::string& text, const std::string& key) {
    const auto at = text.find(key);
    REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + key.size()));
}

}  // namespace

TEST_CASE("any time base: a row of a mixed batch is the simulation at its own resolution, floats and all",
          "[any][learn][cli]") {
    const auto dir = test::spike_dir("any_rows");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", any_config(dir));
    test::require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 3 --quiet --out {0}/m.h5", d)));
    const auto ck = io::load_checkpoint(d + "/m.h5");
    const auto cfg = io::parse_experiment_config(ck.config_toml, "config");
    REQUIRE(cfg.train.time == models::TimeBase::any);
    REQUIRE(cfg.train.resolutions_ms == std::vector<double>{6.25, 12.5, 25.0, 50.0});

    // The evaluation pairs, item k on grid k % 4, as the training batcher puts them in one batch.
    const auto ds = io::read_spike_dataset(d + "/test.h5");
    const auto pairs = io::evaluation_pairs(ds, 8, cfg.train.seed);
    io::SpikeBatcher batcher(ds, cfg);
    REQUIRE(batcher.grids() == 4);
    std::vector<io::BatchItem> items;
    for (std::size_t k = 0; k < pairs.size(); ++k)
        items.push_back({pairs[k].a, pairs[k].b, pairs[k].label, static_cast<int>(k % 4)});
    models::Batch batch;
    batcher.assemble(items, batch);
    CHECK(batch.resolution_ms == 6.25);  // the finest grid; coarser rows count their gaps in its cells
    const auto backend = test::backend_for(ck.net);
    sim::RunOptions opt;
    opt.all_logits = true;
    backend->step(batch, opt, nullptr, false, nullptr);
    const auto logits = backend->logits();
    const int B = batch.B, T = batch.T, n_out = ck.net.cfg.n_out;

    std::set<std::size_t> longest;  // the rows differ in length: a mixed batch is padded
    for (int grid = 0; grid < 4; ++grid) {
        const double r = cfg.train.resolutions_ms[static_cast<std::size_t>(grid)];
        const std::string trace = fmt::format("{}/t{}.h5", d, grid);
        test::require_ok(run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --mode event "
                                                "--resolution-ms {1} --max-dt-ms 50 --record logits --trace {2}",
                                                d, r, trace)));
        const auto tr = io::read_trace(trace);
        REQUIRE(tr.samples.size() == items.size());
        for (std::size_t k = static_cast<std::size_t>(grid); k < items.size(); k += 4) {
            INFO("pair " << k << " on the " << r << " ms grid");
            const int row = batcher.row_of(k), first = batcher.first_step(row);
            const auto& ts = tr.samples[k];
            REQUIRE(ts.T == T - first);  // every update of the sample's own schedule, no padding
            longest.insert(static_cast<std::size_t>(ts.T));
            CHECK(ts.time_ms == batcher.schedule(k).time_ms);
            for (int t = first; t < T; ++t) {
                const auto cells = batch.gap_cells[static_cast<std::size_t>(t) * B + row];
                CHECK(cells == batcher.schedule(k).gap_cells[static_cast<std::size_t>(t - first)] * std::llround(r / 6.25));
            }
            std::vector<float> want;
            for (int t = first; t < T; ++t) {
                const float* row_logits = logits.data() + (static_cast<std::size_t>(t) * B + row) * n_out;
                want.insert(want.end(), row_logits, row_logits + n_out);
            }
            CHECK(ts.logits == want);  // bit for bit, at every update
        }
    }
    CHECK(longest.size() > 2);
}

TEST_CASE("any time base: training is deterministic, resumes bit for bit and does not depend on threads",
          "[any][learn][cli][resume]") {
    const auto dir = test::spike_dir("any_resume");
    const std::string d = dir.string();
    test::write_text(dir / "clock.toml", test::spike_config(dir, 0.2));
    test::require_ok(run_elmsim(fmt::format("train --quiet --config {0}/clock.toml --max-steps 6 --threads 1 --out {0}/clock.h5", d)));
    const auto clock = io::load_checkpoint(d + "/clock.h5");
    std::vector<std::vector<float>> by_draw;
    // A grid per row (the default) and one per batch (train.resolution_draw = "batch").
    for (const std::string draw : {"row", "batch"}) {
        INFO("resolution_draw = " << draw);
        test::write_text(dir / (draw + ".toml"), any_config(dir, fmt::format("resolution_draw = \"{}\"\n", draw)));
        const auto train = [&](const std::string& args) {
            const auto r = run_elmsim(fmt::format("train --config {}/{}.toml {}", d, draw, args));
            test::require_ok(r);
            return r.output;
        };
        train(fmt::format("--quiet --max-steps 3 --threads 1 --out {0}/{1}_a.h5", d, draw));
        train(fmt::format("--quiet --resume {0}/{1}_a.h5 --max-steps 3 --threads 1 --out {0}/{1}_b.h5", d, draw));
        train(fmt::format("--quiet --max-steps 6 --threads 1 --out {0}/{1}_s.h5", d, draw));
        train(fmt::format("--quiet --max-steps 6 --threads 1 --out {0}/{1}_again.h5", d, draw));
        // The header names the draw; 2 threads give the floats of 1.
        const auto header = train(fmt::format("--max-steps 6 --threads 2 --out {0}/{1}_t2.h5", d, draw));
        CHECK((header.find("per batch") != std::string::npos) == (draw == "batch"));
        const auto b = io::load_checkpoint(fmt::format("{}/{}_b.h5", d, draw));
        const auto s = io::load_checkpoint(fmt::format("{}/{}_s.h5", d, draw));
        CHECK(b.net.params == s.net.params);
        CHECK(b.train->moment1 == s.train->moment1);
        CHECK(b.train->rng == s.train->rng);
        CHECK(io::load_checkpoint(fmt::format("{}/{}_again.h5", d, draw)).net.params == s.net.params);
        CHECK(io::load_checkpoint(fmt::format("{}/{}_t2.h5", d, draw)).net.params == s.net.params);
        // The rows really ran on other time bases than the clock, and the model learnt.
        CHECK(clock.net.params != s.net.params);
        CHECK(models::make_network<float>(s.net.cfg).params != s.net.params);
        by_draw.push_back(s.net.params);
    }
    CHECK(by_draw[0] != by_draw[1]);  // other draws, other floats
}

TEST_CASE("any time base: clock_steps start on the clock exactly, and a run resumes across the switch",
          "[any][learn][cli][resume]") {
    const auto dir = test::spike_dir("any_clock_steps");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", any_config(dir, "clock_steps = 3\n"));
    test::write_text(dir / "clock.toml", test::spike_config(dir, 0.2));
    const auto train = [&](const std::string& args) {
        test::require_ok(run_elmsim(fmt::format("train --quiet --threads 1 {}", args)));
    };
    train(fmt::format("--config {0}/c.toml --max-steps 3 --out {0}/any3.h5", d));
    train(fmt::format("--config {0}/clock.toml --max-steps 3 --out {0}/clock3.h5", d));
    // The first clock_steps steps are the clock run's, floats and generator state.
    const auto any3 = io::load_checkpoint(d + "/any3.h5"), clock3 = io::load_checkpoint(d + "/clock3.h5");
    CHECK(any3.net.params == clock3.net.params);
    CHECK(any3.train->rng == clock3.train->rng);
    train(fmt::format("--config {0}/c.toml --max-steps 6 --out {0}/any6.h5", d));
    train(fmt::format("--config {0}/c.toml --max-steps 2 --out {0}/a.h5", d));
    train(fmt::format("--config {0}/c.toml --resume {0}/a.h5 --max-steps 4 --out {0}/b.h5", d));
    train(fmt::format("--config {0}/clock.toml --max-steps 6 --out {0}/clock6.h5", d));
    const auto any6 = io::load_checkpoint(d + "/any6.h5");
    CHECK(io::load_checkpoint(d + "/b.h5").net.params == any6.net.params);
    CHECK(io::load_checkpoint(d + "/clock6.h5").net.params != any6.net.params);  // then the draws began
}

TEST_CASE("any time base: evaluation is the clock's, and event simulation defaults to the finest grid",
          "[any][learn][cli]") {
    const auto dir = test::spike_dir("any_eval");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", any_config(dir, "resolutions_ms = [25.0, 12.5]\nmax_dt_ms = 100.0\n"));
    const auto trained = run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 4 --out {0}/m.h5", d));
    test::require_ok(trained);
    const auto clock = run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --trace {0}/c.h5", d));
    test::require_ok(clock);
    INFO(trained.output << clock.output);
    CHECK_THAT(trained.output, Catch::Contains("| any of 25, 12.5 ms (max_dt 100 ms)"));  // the progress header
    CHECK_THAT(clock.output, Catch::Contains("clock mode"));
    CHECK(number_after(trained.output, "test loss ") == Approx(number_after(clock.output, "loss ")).epsilon(1e-4));
    CHECK(number_after(trained.output, "test accuracy ") == number_after(clock.output, "accuracy "));
    // Event mode on request: the finest trained grid and the trained max_dt unless told otherwise.
    const auto ev = run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --mode event --trace {0}/e.h5", d));
    const auto ev_explicit = run_elmsim(fmt::format(
        "simulate --model {0}/m.h5 --data {0}/test.h5 --mode event --resolution-ms 12.5 --max-dt-ms 100 --trace {0}/x.h5",
        d));
    test::require_ok(ev);
    test::require_ok(ev_explicit);
    CHECK(number_after(ev.output, "loss ") == number_after(ev_explicit.output, "loss "));
    CHECK(number_after(ev.output, "updates") == number_after(ev_explicit.output, "updates"));
}

TEST_CASE("any time base: rows draw their grid uniformly or by resolution_weights, from the trainer's generator",
          "[any][learn]") {
    const auto dir = test::spike_dir("any_weights");
    // Two grids, 6.25 and 50 ms: a row on the coarse one counts every gap in multiples of 8 fine cells.
    // The share of rows on the coarse grid, and of batches that mix the two grids.
    struct Shares {
        double coarse_rows = 0.0, mixed_batches = 0.0;
    };
    const auto shares = [&](const std::string& extra) {
        const auto cfg = io::parse_experiment_config(
            any_config(dir, "resolutions_ms = [6.25, 50.0]\n" + extra), "c.toml");
        const auto source = io::make_train_source(cfg);
        Rng rng(7, 3);
        models::Batch batch;
        int coarse = 0, rows = 0, mixed = 0;
        const int steps = 40;
        for (int step = 0; step < steps; ++step) {
            source->next_train(batch, rng, step);
            REQUIRE(batch.resolution_ms == 6.25);
            int coarse_here = 0;
            for (int r = 0; r < batch.B; ++r, ++rows) {
                bool multiple = true;
                for (int t = 0; t < batch.T; ++t)
                    multiple = multiple && batch.gap_cells[static_cast<std::size_t>(t) * batch.B + r] % 8 == 0;
                coarse_here += multiple;
            }
            coarse += coarse_here;
            mixed += coarse_here > 0 && coarse_here < batch.B;
        }
        return Shares{static_cast<double>(coarse) / rows, static_cast<double>(mixed) / steps};
    };
    const auto coarse_share = [&](const std::string& weights) { return shares(weights).coarse_rows; };
    const double uniform = coarse_share("");
    CHECK(uniform > 0.3);
    CHECK(uniform < 0.7);
    CHECK(coarse_share("resolution_weights = [1, 1000000]\n") == 1.0);
    CHECK(coarse_share("resolution_weights = [1000000, 1]\n") == 0.0);
    const double three_to_one = coarse_share("resolution_weights = [1, 3]\n");
    CHECK(three_to_one > 0.6);
    CHECK(three_to_one < 0.9);
    CHECK(shares("").mixed_batches > 0.5);
    // One draw per batch: no batch mixes the grids, and both grids still come up.
    const auto per_batch = shares("resolution_draw = \"batch\"\n");
    CHECK(per_batch.mixed_batches == 0.0);
    CHECK(per_batch.coarse_rows > 0.2);
    CHECK(per_batch.coarse_rows < 0.8);
    CHECK(shares("resolution_draw = \"batch\"\nresolution_weights = [1, 1000000]\n").coarse_rows == 1.0);
}

TEST_CASE("config: the any time base is checked where it is set", "[any][learn][config]") {
    const auto base = std::string("[task]\nkind = \"shd-adding\"\ndt_ms = 20.0\n[model]\nN = 8\nd_m = 2\nn_b = 2\nk_c = 4\n");
    const auto parse = [&](const std::string& train) {
        return io::parse_experiment_config(base + "[train]\n" + train, "c.toml");
    };
    const auto defaults = parse("time = \"any\"\n").train;
    CHECK(defaults.time == models::TimeBase::any);
    CHECK(defaults.resolutions_ms == std::vector<double>{2.5, 5.0, 10.0, 20.0});
    CHECK(parse("time = \"any\"\nresolutions_ms = [1, 0.25, 4]\nmax_dt_ms = 8\n").train.resolutions_ms ==
          std::vector<double>{1.0, 0.25, 4.0});
    const auto fails = [&](const std::string& train, const std::string& key, const std::string& what) {
        INFO(train);
        CHECK_THROWS_WITH(parse(train), Catch::Contains(key) && Catch::Contains(what));
    };
    fails("resolutions_ms = [1.0]\n", "train.resolutions_ms", "only used with time = \"any\"");
    fails("time = \"event\"\nresolutions_ms = [1.0]\n", "train.resolutions_ms", "only used with time = \"any\"");
    fails("clock_steps = 10\n", "train.clock_steps", "only used with time = \"any\"");
    fails("resolution_weights = [1, 2]\n", "train.resolution_weights", "only used with time = \"any\"");
    fails("resolution_draw = \"batch\"\n", "train.resolution_draw", "only used with time = \"any\"");
    fails("time = \"any\"\nresolution_draw = \"sample\"\n", "train.resolution_draw", "row");
    fails("time = \"any\"\nresolution_draw = 1\n", "train.resolution_draw", "expected a string");
    CHECK(defaults.resolution_draw == models::ResolutionDraw::row);
    CHECK(parse("time = \"any\"\nresolution_draw = \"batch\"\n").train.resolution_draw == models::ResolutionDraw::batch);
    fails("time = \"any\"\nresolution_weights = [1, 2]\n", "train.resolution_weights", "one weight per resolution (4)");
    fails("time = \"any\"\nresolutions_ms = [1, 2]\nresolution_weights = [1, 0]\n", "train.resolution_weights", "element 1");
    fails("time = \"any\"\nresolutions_ms = [1, 2]\nresolution_weights = [1, inf]\n", "train.resolution_weights", "element 1");
    fails("time = \"any\"\nresolutions_ms = [1, 2]\nresolution_weights = []\n", "train.resolution_weights", "an array");
    CHECK(parse("time = \"any\"\nresolutions_ms = [1, 2]\nresolution_weights = [3, 1.5]\n").train.resolution_weights ==
          std::vector<double>{3.0, 1.5});
    fails("time = \"any\"\nclock_steps = -1\n", "train.clock_steps", "an integer >= 0");
    CHECK(parse("time = \"any\"\nclock_steps = 100\n").train.clock_steps == 100);
    fails("time = \"any\"\nresolution_ms = 1.0\n", "train.resolution_ms", "resolutions_ms");
    fails("max_dt_ms = 4.0\n", "train.max_dt_ms", "only used with");
    fails("time = \"any\"\nresolutions_ms = []\n", "train.resolutions_ms", "an array of 1 to 16");
    fails("time = \"any\"\nresolutions_ms = 1.0\n", "train.resolutions_ms", "an array of 1 to 16");
    fails("time = \"any\"\nresolutions_ms = [1.0, \"2\"]\n", "train.resolutions_ms", "element 1");
    fails("time = \"any\"\nresolutions_ms = [1.0, -2.0]\n", "train.resolutions_ms", "element 1");
    fails("time = \"any\"\nresolutions_ms = [1.0, nan]\n", "train.resolutions_ms", "element 1");
    fails("time = \"any\"\nresolutions_ms = [1.0, 1]\n", "train.resolutions_ms", "listed twice");
    fails("time = \"any\"\nresolutions_ms = [0.1, 0.3]\n", "train.resolutions_ms", "exact whole multiple");
    fails("time = \"any\"\nresolutions_ms = [1.0, 1.5]\n", "train.resolutions_ms", "exact whole multiple");
    fails("time = \"any\"\nresolutions_ms = [1.0, 40.0]\n", "train.resolutions_ms", "max_dt_ms");
    fails("time = \"any\"\nloss = \"mean_last_k\"\nloss_last_k = 500\nresolutions_ms = [1.0, 20.0]\n", "train.loss_last_k",
          "at most 100");
    CHECK_THROWS_WITH(io::parse_experiment_config("[task]\nkind = \"bytes\"\n[train]\ntime = \"any\"\n", "b.toml"),
                      Catch::Contains("train.time") && Catch::Contains("\"any\" is for spike tasks"));
}
