// `elmsim simulate` and `elmsim generate` end to end: gen-shd + init + simulate in clock and event
// mode, the trace read back against the contract layout, clock-mode final logits equal to the
// evaluator's (the backend's batch step, B = 1) bit for bit, event mode with resolution = max_dt = dt equal to clock
// mode, byte models (file and standard input), and bad input -> exit code 2 with no trace left behind.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_binning.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"

using namespace elm;
using test::require_ok;
using test::run_elmsim;

namespace {

// SHD-Adding with 50 ms bins: T = 2 x 20 updates per sample in clock mode.
std::string adding_config(const std::filesystem::path& dir) {
    return fmt::format(R"([task]
kind = "shd-adding"
train = "{0}/data.h5"
test = "{0}/data.h5"
dt_ms = 50.0
adding_test_pairs = 6

[model]
N = 10
d_m = 4
n_b = 2
k_c = 8
seed = 3

[train]
batch_size = 2
seed = 5
)",
                       dir.string());
}


std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// No trace and no temporary left next to it.
void check_nothing_left(const std::filesystem::path& trace) {
    CHECK_FALSE(std::filesystem::exists(trace));
    for (const auto& e : std::filesystem::directory_iterator(trace.parent_path()))
        CHECK(e.path().filename().string().find(trace.filename().string()) == std::string::npos);
}

struct SpikeSetup {
    std::filesystem::path dir;
    std::string d, model;
};

SpikeSetup spike_setup(const std::string& name) {
    SpikeSetup s;
    s.dir = test::fresh_dir(name);
    s.d = s.dir.string();
    s.model = s.d + "/m.h5";
    require_ok(run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 12 --seed 4", s.d)));
    test::write_text(s.dir / "c.toml", adding_config(s.dir));
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {1}", s.d, s.model)));
    return s;
}

}  // namespace

TEST_CASE("cli simulate: clock-mode trace layout and the evaluator's logits bit for bit", "[cli][simulate]") {
    const auto s = spike_setup("sim_clock");
    const auto r =
        run_elmsim(fmt::format("simulate --model {0} --data {1}/data.h5 --samples 1:4 --trace {1}/t.h5 "
                               "--record y,m,b,logits --threads 2",
                               s.model, s.d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("accuracy"));
    CHECK_THAT(r.output, Catch::Contains("updates 120"));  // 3 pairs x 40 steps
    CHECK_THAT(r.output, Catch::Contains("updates/s"));

    const auto tr = io::read_trace(s.d + "/t.h5");
    CHECK(tr.mode == "clock");
    CHECK(tr.model == s.model);
    CHECK(tr.N == 10);
    CHECK(tr.recorded.decimate == 1);
    REQUIRE(tr.samples.size() == 3);

    // The evaluator's view of the same pairs: a batch step on each binned pair, B = 1.
    const auto ck = io::load_checkpoint(s.model);
    const auto cfg = io::parse_experiment_config(ck.config_toml, "config");
    const auto ds = io::read_spike_dataset(s.d + "/data.h5");
    const auto pairs = io::evaluation_pairs(ds, 4, cfg.train.seed);
    const auto backend = test::backend_for(ck.net);
    const int N = 10, d_m = 4, n_b = 2, n_out = 19, T = 40;
    for (int k = 0; k < 3; ++k) {
        const auto& ts = tr.samples[k];
        INFO("trace sample " << k);
        CHECK(ts.source_index == k + 1);
        CHECK(ts.label == pairs[k + 1].label);
        REQUIRE(ts.T == T);
        CHECK(ts.time_ms.front() == 50.0);
        CHECK(ts.time_ms.back() == 2000.0);
        CHECK(ts.y.size() == static_cast<std::size_t>(T) * N);
        CHECK(ts.m.size() == static_cast<std::size_t>(T) * N * d_m);
        CHECK(ts.b.size() == static_cast<std::size_t>(T) * N * n_b);
        REQUIRE(ts.logits.size() == static_cast<std::size_t>(T) * n_out);

        models::Batch batch;
        batch.T = T;
        batch.B = 1;
        batch.C = 700;
        batch.x.assign(static_cast<std::size_t>(T) * 700, 0.0f);
        io::bin_adding_pair(ds, pairs[k + 1], 50.0, 1000.0, batch.x.data(), T, 1, 0, 700);
        batch.targets = {pairs[k + 1].label};
        sim::RunOptions opt;
        opt.all_logits = true;
        opt.keep_tape = true;
        backend->step(batch, opt, nullptr, false, nullptr);
        const std::vector<float> logits(backend->logits().begin(), backend->logits().end());
        const std::vector<float> final_trace(ts.logits.end() - n_out, ts.logits.end());
        const std::vector<float> final_learner(logits.end() - n_out, logits.end());
        CHECK(final_trace == final_learner);  // bit for bit
        CHECK(ts.logits == logits);           // and at every step
        const auto y_tape = backend->state_trace().y;  // slots 0..T, [N] each at B = 1
        CHECK(std::vector<float>(y_tape.begin() + N, y_tape.end()) == ts.y);
        CHECK(ts.prediction ==
              static_cast<int>(std::max_element(final_trace.begin(), final_trace.end()) - final_trace.begin()));
    }
}

TEST_CASE("cli simulate: event mode, neuron subset, decimation, final logits, dt grid equals clock",
          "[cli][simulate]") {
    const auto s = spike_setup("sim_event");
    require_ok(
        run_elmsim(fmt::format("simulate --model {0} --data {1}/data.h5 --samples 0:2 --mode event "
                               "--resolution-ms 0.5 --max-dt-ms 20 --record y,m --neurons 2:6 --decimate 3 "
                               "--final-logits --trace {1}/e.h5",
                               s.model, s.d)));
    const auto tr = io::read_trace(s.d + "/e.h5");
    CHECK(tr.mode == "event");
    CHECK(tr.recorded.decimate == 3);
    CHECK(tr.recorded.neurons == std::vector<std::int32_t>{2, 3, 4, 5});
    REQUIRE(tr.samples.size() == 2);
    for (const auto& ts : tr.samples) {
        REQUIRE(ts.T > 1);
        for (std::int64_t t = 1; t < ts.T; ++t) {
            CHECK(ts.time_ms[t] > ts.time_ms[t - 1]);
            CHECK(ts.time_ms[t] - ts.time_ms[t - 1] <= 3 * 20.0 + 1e-9);  // three updates of <= max_dt each
        }
        CHECK(ts.y.size() == static_cast<std::size_t>(ts.T) * 4);
        CHECK(ts.m.size() == static_cast<std::size_t>(ts.T) * 4 * 4);
        CHECK(ts.logits_rows == 1);
        CHECK(ts.logits.size() == 19u);
    }

    // resolution = max_dt = dt: the event-mode trace is the clock-mode trace, float for float.
    require_ok(
        run_elmsim(fmt::format("simulate --model {0} --data {1}/data.h5 --samples 0:2 --record y,m,logits "
                               "--trace {1}/c.h5",
                               s.model, s.d)));
    require_ok(
        run_elmsim(fmt::format("simulate --model {0} --data {1}/data.h5 --samples 0:2 --record y,m,logits "
                               "--mode event --resolution-ms 50 --max-dt-ms 50 --trace {1}/e2.h5",
                               s.model, s.d)));
    const auto c = io::read_trace(s.d + "/c.h5");
    const auto e = io::read_trace(s.d + "/e2.h5");
    REQUIRE(c.samples.size() == 2);
    REQUIRE(e.samples.size() == 2);
    for (int k = 0; k < 2; ++k) {
        CHECK(e.samples[k].time_ms == c.samples[k].time_ms);
        CHECK(e.samples[k].y == c.samples[k].y);
        CHECK(e.samples[k].m == c.samples[k].m);
        CHECK(e.samples[k].logits == c.samples[k].logits);
        CHECK(e.samples[k].prediction == c.samples[k].prediction);
    }
}

TEST_CASE("cli simulate and generate: byte models from a file and from standard input", "[cli][simulate]") {
    const auto dir = test::fresh_dir("sim_bytes");
    const std::string d = dir.string();
    std::string text;
    for (int k = 0; k < 40; ++k) text += fmt::format("the {} quick brown fox. ", k);
    test::write_text(dir / "text.txt", text);
    test::write_text(dir / "c.toml", test::bytes_config(dir));
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)));

    auto r =
        run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/text.txt --samples 10:110 --record y,logits "
                               "--trace {0}/t.h5",
                               d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("bpc"));
    CHECK_THAT(r.output, Catch::Contains("99 predicted bytes"));
    auto tr = io::read_trace(d + "/t.h5");
    REQUIRE(tr.samples.size() == 1);
    CHECK(tr.samples[0].source_index == 10);
    CHECK(tr.samples[0].T == 100);
    CHECK(tr.samples[0].time_ms.back() == 100.0);
    const auto file_logits = tr.samples[0].logits;

    // The same bytes piped through standard input, in event mode on the byte grid: the same floats.
    r =
        run_elmsim(fmt::format("simulate --model {0}/m.h5 --data - --samples 10:110 --record y,logits --mode event "
                               "--resolution-ms 1 --max-dt-ms 1 --trace {0}/s.h5 < {0}/text.txt",
                               d));
    require_ok(r);
    tr = io::read_trace(d + "/s.h5");
    REQUIRE(tr.samples.size() == 1);
    CHECK(tr.samples[0].logits == file_logits);

    // Event mode with a coarse resolution: 4 bytes per cell, fewer updates than bytes.
    r =
        run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/text.txt --samples 0:100 --mode event "
                               "--resolution-ms 4 --max-dt-ms 8 --trace {0}/coarse.h5",
                               d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("updates 25 "));

    r = run_elmsim(fmt::format("generate --model {0}/m.h5 --prompt \"the \" --length 30 --temperature 0", d));
    require_ok(r);
    CHECK(r.output.size() == 31u);  // 30 bytes and a newline
    const auto again =
        run_elmsim(fmt::format("generate --model {0}/m.h5 --prompt \"the \" --length 30 --temperature 0", d));
    CHECK(again.output == r.output);
    r = run_elmsim(fmt::format("generate --model {0}/m.h5 --length 50 --temperature 1.5 --seed 7", d));
    require_ok(r);
    CHECK(r.output.size() == 51u);
}

TEST_CASE("cli simulate: bad input gets exit code 2 and leaves no trace", "[cli][simulate][errors]") {
    const auto s = spike_setup("sim_bad");
    const std::string& d = s.d;
    test::write_text(s.dir / "text.txt", "plain text, not HDF5, long enough to be a byte stream");
    test::write_text(s.dir / "bc.toml", test::bytes_config(s.dir));
    require_ok(run_elmsim(fmt::format("init --config {0}/bc.toml --out {0}/bytes.h5", d)));
    struct Case {
        std::string args, expect;
    };
    const std::string base = fmt::format("simulate --model {0} --data {1}/data.h5", s.model, d);
    const std::string trace = d + "/t.h5";
    const Case cases[] = {
        {fmt::format("simulate --model {0}/bytes.h5 --data {0}/data.h5 --trace {1}", d, trace), "byte model"},
        {fmt::format("simulate --model {0} --data {1}/text.txt --trace {2}", s.model, d, trace), "text.txt"},
        {fmt::format("{} --record y,q --trace {}", base, trace), "--record"},
        {fmt::format("{} --samples 3:3 --trace {}", base, trace), "--samples"},
        {fmt::format("{} --samples 6:9 --trace {}", base, trace), "--samples"},
        {fmt::format("{} --samples x:2 --trace {}", base, trace), "--samples"},
        {fmt::format("{} --neurons 5:99 --trace {}", base, trace), "--neurons"},
        {fmt::format("{} --mode warp --trace {}", base, trace), "--mode"},
        {fmt::format("{} --mode event --resolution-ms 0 --trace {}", base, trace), "--resolution-ms"},
        {fmt::format("{} --mode event --resolution-ms nan --trace {}", base, trace), "--resolution-ms: expected a finite number"},
        {fmt::format("{} --mode event --resolution-ms inf --trace {}", base, trace), "--resolution-ms: expected a finite number"},
        {fmt::format("{} --mode event --resolution-ms 1e-300 --trace {}", base, trace), "more than 9e+15 cells"},
        {fmt::format("{} --mode event --max-dt-ms nan --trace {}", base, trace), "--max-dt-ms: expected a finite number"},
        {fmt::format("{} --mode event --max-dt-ms -inf --trace {}", base, trace), "--max-dt-ms: expected a finite number"},
        {fmt::format("{} --mode event --resolution-ms 2 --max-dt-ms 1 --trace {}", base, trace), "--max-dt-ms"},
        {fmt::format("{} --max-dt-ms 1 --trace {}", base, trace), "--max-dt-ms"},
        {fmt::format("{} --trace {}", base, s.model), "--trace"},
        {fmt::format("simulate --model {0}/nope.h5 --data {0}/data.h5 --trace {1}", d, trace), "nope.h5"},
        {fmt::format("{} --trace /nonexistent/t.h5", base), "/nonexistent"},
    };
    for (const auto& c : cases) {
        const auto r = run_elmsim(c.args);
        INFO(c.args << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains(c.expect));
        CHECK_THAT(r.output, Catch::Contains("error"));
        check_nothing_left(trace);
    }
    // An existing trace is untouched by a failed run.
    test::write_text(trace, "precious");
    for (const auto& args : {fmt::format("{} --samples 3:3 --trace {}", base, trace),
                             fmt::format("{} --record y,q --trace {}", base, trace),
                             fmt::format("simulate --model {0}/bytes.h5 --data {0}/data.h5 --trace {1}", d, trace)}) {
        const auto r = run_elmsim(args);
        INFO(args << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK(read_file(trace) == "precious");
        CHECK_FALSE(std::filesystem::exists(trace + ".tmp"));
    }
    // generate: only byte models, temperature >= 0, length >= 0.
    const Case gen_cases[] = {
        {fmt::format("generate --model {}", s.model), "byte model"},
        {fmt::format("generate --model {}/bytes.h5 --temperature -1", d), "--temperature"},
        {fmt::format("generate --model {}/bytes.h5 --temperature nan", d), "--temperature: expected a finite number"},
        {fmt::format("generate --model {}/bytes.h5 --temperature inf", d), "--temperature: expected a finite number"},
        {fmt::format("generate --model {}/bytes.h5 --length -5", d), "--length"},
    };
    for (const auto& c : gen_cases) {
        const auto r = run_elmsim(c.args);
        INFO(c.args << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains(c.expect));
    }
}
