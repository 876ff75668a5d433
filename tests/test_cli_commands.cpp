// The command line as a new user meets it: every command's help, budgets in scientific notation,
// backends this build does not have, sample ranges beyond the data, and the engine flags shared by
// every command that runs a network.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "elmsim/sim/registry/backend_registry.hpp"
#include "tests/cli_runner.hpp"

using namespace elm;
using test::run_elmsim;

namespace {
const char* kCommands[] = {"info", "budget", "init", "train", "eval", "simulate", "generate", "gen-shd",
                           "bench", "bench-gemm", "bench-sim", "bench-event"};
}

TEST_CASE("cli: every command has help, and no help text talks about issues", "[cli]") {
    auto r = run_elmsim("--help");
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, !Catch::Contains("issue") && !Catch::Contains("Issue"));
    for (const char* cmd : kCommands) {
        INFO(cmd);
        CHECK_THAT(r.output, Catch::Contains(cmd));
        const auto h = run_elmsim(fmt::format("{} --help", cmd));
        INFO(h.output);
        CHECK(h.code == 0);
        CHECK_THAT(h.output, !Catch::Contains("issue") && !Catch::Contains("Issue"));
    }
    // The commands that run a network say where: --backend with the backends of this build.
    for (const char* cmd : {"train", "eval", "simulate", "generate"}) {
        INFO(cmd);
        CHECK_THAT(run_elmsim(fmt::format("{} --help", cmd)).output, Catch::Contains("--backend") && Catch::Contains("cpu"));
    }
}

TEST_CASE("cli budget: budgets in scientific notation are accepted, fractions and junk are not", "[cli]") {
    for (const char* p : {"1e6", "2.5e5", "20000", "3E4"}) {
        INFO(p);
        const auto r = run_elmsim(fmt::format("budget --task shd-adding --params {} --axis k_e", p));
        INFO(r.output);
        CHECK(r.code == 0);
        CHECK_THAT(r.output, Catch::Contains("P/budget"));
    }
    const auto m = run_elmsim("budget --task shd-adding --params 1e6 --axis k_e");
    CHECK_THAT(m.output, Catch::Contains("budget P = 1000000"));
    for (const char* p : {"1.5", "12abc", "1e400", "0", "-2e3"}) {
        INFO(p);
        const auto r = run_elmsim(fmt::format("budget --task shd --params {}", p));
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains("--params") && Catch::Contains("error"));
    }
}

TEST_CASE("cli: a backend this build or machine lacks is one line, exit 2, naming the backends it has", "[cli][errors]") {
    const auto dir = test::fresh_dir("backends");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", "[task]\nkind = \"shd\"\n[model]\nN = 8\nd_m = 2\nk_c = 4\n");
    REQUIRE(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)).code == 0);
    REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 4", d)).code == 0);
    const std::string runs[] = {
        fmt::format("train --config {}/c.toml --max-steps 1", d),
        fmt::format("eval --model {0}/m.h5 --data {0}/data.h5", d),
        fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/t.h5", d),
    };
    for (const auto& base : runs)
        for (const char* name : {"cuda", "tpu"}) {
            if (sim::backend_available(name, nullptr)) continue;  // a GPU machine runs cuda ([gpu] tests)
            const auto r = run_elmsim(fmt::format("{} --backend {}", base, name));
            INFO(base << " --backend " << name << "\n" << r.output);
            CHECK(r.code == 2);
            CHECK_THAT(r.output, Catch::StartsWith("elmsim: error: --backend: \"" + std::string(name) + "\""));
            CHECK_THAT(r.output, Catch::Contains("this build has: cpu"));
            CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        }
    CHECK_FALSE(std::filesystem::exists(dir / "t.h5"));
    // The default and the explicit cpu backend give the same result.
    const auto a = run_elmsim(fmt::format("eval --model {0}/m.h5 --data {0}/data.h5", d));
    const auto b = run_elmsim(fmt::format("eval --model {0}/m.h5 --data {0}/data.h5 --backend cpu --threads 2", d));
    REQUIRE(a.code == 0);
    CHECK(a.output == b.output);
}

TEST_CASE("cli simulate: a sample range beyond the data is an error giving the data's size", "[cli][errors]") {
    const auto dir = test::fresh_dir("ranges");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", "[task]\nkind = \"shd\"\ndt_ms = 50.0\n[model]\nN = 8\nd_m = 2\nk_c = 4\n");
    REQUIRE(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)).code == 0);
    REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 5", d)).code == 0);
    const std::string base = fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/t.h5", d);
    for (const char* range : {"0:6", "3:100", "5", "7:"}) {
        const auto r = run_elmsim(fmt::format("{} --samples {}", base, range));
        INFO(range << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains("--samples") && Catch::Contains("holds 5 samples"));
        CHECK_FALSE(std::filesystem::exists(dir / "t.h5"));
    }
    for (const char* range : {"0:5", "4", "2:", ":3"}) {
        const auto r = run_elmsim(fmt::format("{} --samples {}", base, range));
        INFO(range << "\n" << r.output);
        CHECK(r.code == 0);
    }
    const auto split = run_elmsim(fmt::format("eval --model {0}/m.h5 --data {0}/data.h5 --split nope", d));
    CHECK(split.code == 2);
    CHECK_THAT(split.output, Catch::Contains("--split"));
}

TEST_CASE("cli: eval and simulate score a model the same way (loss mode, ragged last batch)", "[cli]") {
    const auto dir = test::fresh_dir("same_score");
    const std::string d = dir.string();
    REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 21 --seed 3", d)).code == 0);
    // 21 samples: evaluation batches of 16 and 5; the model scores the mean of its last 4 steps.
    for (const char* loss : {"last", "mean_last_k"}) {
        INFO(loss);
        test::write_text(dir / "c.toml",
                         fmt::format("[task]\nkind = \"shd\"\ndt_ms = 50.0\n[model]\nN = 12\nd_m = 3\nn_b = 2\nk_c = 6\n"
                                     "[train]\nloss = \"{}\"\nloss_last_k = 4\n",
                                     loss));
        REQUIRE(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)).code == 0);
        const auto e = run_elmsim(fmt::format("eval --model {0}/m.h5 --data {0}/data.h5", d));
        const auto s = run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/t.h5", d));
        INFO(e.output << s.output);
        REQUIRE(e.code == 0);
        REQUIRE(s.code == 0);
        // "data.h5: loss 2.9957  accuracy 0.0476 over 21 samples" vs "... 21 samples, accuracy 0.0476, loss 2.9957"
        const auto number_after = [](const std::string& text, const std::string& key) {
            const auto at = text.find(key);
            REQUIRE(at != std::string::npos);
            return std::stod(text.substr(at + key.size()));
        };
        CHECK(number_after(e.output, "loss ") == number_after(s.output, "loss "));
        CHECK(number_after(e.output, "accuracy ") == number_after(s.output, "accuracy "));
    }
}
