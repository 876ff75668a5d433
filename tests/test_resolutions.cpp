// Accuracy per time base (`elmsim resolutions`, sim/workflow/resolution_sweep.hpp): every row equals a
// separate simulation with the same time base (library and command line), the default max_dt follows
// the rule the help states, the JSON holds the table, and bad resolutions are one line.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/recorder.hpp"
#include "elmsim/sim/workflow/resolution_sweep.hpp"
#include "tests/cli_training.hpp"

using namespace elm;

namespace {

// A tiny SHD-Adding model (dt 50 ms) trained a few steps on generated data in `dir`.
std::string trained_model(const std::filesystem::path& dir) {
    test::write_text(dir / "exp.toml", test::spike_config(dir, 0.0));
    test::require_ok(test::run_elmsim(fmt::format("train --config {0}/exp.toml --max-steps 6 --quiet --out {0}/m.h5", dir.string())));
    return (dir / "m.h5").string();
}

}  // namespace

TEST_CASE("resolutions: every row is the simulation of its time base, floats and all", "[resolutions]") {
    const auto dir = test::spike_dir("resolutions_rows");
    workflow::ResolutionSweepRequest req;
    req.base.model_path = trained_model(dir);
    req.base.data_path = (dir / "test.h5").string();
    req.base.threads = 1;
    req.resolutions_ms = {5.0, 20.0, 80.0};
    int seen = 0;
    const auto rows = workflow::sweep_resolutions(req, [&](const workflow::ResolutionRow&) { ++seen; });
    REQUIRE(rows.size() == 4);
    CHECK(seen == 4);
    CHECK(rows[0].mode == workflow::TimeMode::clock);
    CHECK(rows[0].resolution_ms == 50.0);
    // max_dt: the larger of the resolution and the model's dt.
    CHECK(rows[1].max_dt_ms == 50.0);
    CHECK(rows[2].max_dt_ms == 50.0);
    CHECK(rows[3].max_dt_ms == 80.0);
    for (const auto& row : rows) {
        workflow::SimulationRequest one = req.base;
        one.mode = row.mode;
        if (row.mode == workflow::TimeMode::event) {
            one.resolution_ms = row.resolution_ms;
            one.max_dt_ms = row.max_dt_ms;
        }
        workflow::Simulation sim(one);
        io::DiscardingRecorder nothing;
        const auto alone = sim.run(nothing);
        INFO(row.resolution_ms);
        CHECK(alone.stats.loss_sum == row.result.stats.loss_sum);
        CHECK(alone.stats.correct == row.result.stats.correct);
        CHECK(alone.stats.count == row.result.stats.count);
        CHECK(alone.updates == row.result.updates);
        CHECK(row.result.samples == 8);  // the run's evaluation pairs
    }
    // Finer time bases run more updates.
    CHECK(rows[1].result.updates > rows[2].result.updates);
    // An explicit max_dt for every row.
    req.max_dt_ms = 100.0;
    req.clock = false;
    req.resolutions_ms = {20.0};
    const auto fixed = workflow::sweep_resolutions(req);
    REQUIRE(fixed.size() == 1);
    CHECK(fixed[0].max_dt_ms == 100.0);
}

TEST_CASE("resolutions: the command prints the table, writes it as JSON, and agrees with simulate", "[resolutions][cli]") {
    const auto dir = test::spike_dir("resolutions_cli");
    const std::string model = trained_model(dir), d = dir.string();
    auto r = test::run_elmsim(fmt::format("resolutions --model {} --data {}/test.h5 --ms 5,20 --json {}/res.json --threads 1",
                                          model, d, d));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("clock 50 ms") && Catch::Contains("event 5 ms") && Catch::Contains("event 20 ms"));
    std::ifstream in(dir / "res.json");
    const auto j = nlohmann::json::parse(in);
    REQUIRE(j["rows"].size() == 3);
    const auto sim = test::run_elmsim(fmt::format("simulate --model {} --data {}/test.h5 --mode event --resolution-ms 5 "
                                                  "--max-dt-ms 50 --trace {}/t.h5 --threads 1",
                                                  model, d, d));
    INFO(sim.output);
    REQUIRE(sim.code == 0);
    CHECK_THAT(sim.output, Catch::Contains(fmt::format("accuracy {:.4f}, loss {:.4f}", j["rows"][1]["accuracy"].get<double>(),
                                                       j["rows"][1]["loss"].get<double>())));
    CHECK(j["rows"][1]["time_base"] == "event 5 ms");
    CHECK(j["rows"][0]["mode"] == "clock");
    // The plotting tool draws it, and refuses a file that is not such a table.
    const std::string plot = std::string("/usr/bin/python3 ") + ELM_SOURCE_DIR + "/tools/elmsim_plot.py resolutions";
    const auto png = test::run_command(fmt::format("{} --table {}/res.json --out {}/res.png", plot, d, d));
    INFO(png.output);
    REQUIRE(png.code == 0);
    std::ifstream img(dir / "res.png", std::ios::binary);
    std::string magic(8, '\0');
    img.read(magic.data(), 8);
    CHECK(magic == "\x89PNG\r\n\x1a\n");
    test::write_text(dir / "bad.json", "{\"rows\": 3}");
    const auto bad = test::run_command(fmt::format("{} --table {}/bad.json --out {}/bad.png", plot, d, d));
    CHECK(bad.code == 2);
    CHECK_THAT(bad.output, Catch::StartsWith("elmsim_plot: error: ") && Catch::Contains("bad.json"));
    CHECK_FALSE(std::filesystem::exists(dir / "bad.png"));
}

TEST_CASE("resolutions: bad resolutions and a max_dt below one are one line, before anything runs", "[resolutions][cli]") {
    const auto dir = test::spike_dir("resolutions_bad");
    const std::string model = trained_model(dir), d = dir.string();
    const auto one_line = [](const test::CliResult& r, const std::string& what) {
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        CHECK_THAT(r.output, Catch::StartsWith("elmsim: error: ") && Catch::Contains(what));
    };
    one_line(test::run_elmsim(fmt::format("resolutions --model {} --data {}/test.h5 --ms 0", model, d)), "--ms");
    one_line(test::run_elmsim(fmt::format("resolutions --model {} --data {}/test.h5 --ms 5,nan", model, d)), "--ms");
    one_line(test::run_elmsim(fmt::format("resolutions --model {} --data {}/test.h5 --ms 20 --max-dt-ms 10", model, d)),
             "--max-dt-ms");
    one_line(test::run_elmsim(fmt::format("resolutions --model {0}/none.h5 --data {0}/test.h5", d)), "none.h5");
    one_line(test::run_elmsim(fmt::format("resolutions --model {} --data {}/test.h5 --json /dev/null", model, d)), "/dev/null");
}
