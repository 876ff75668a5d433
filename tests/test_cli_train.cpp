// End-to-end through the command line: gen-shd -> init -> train -> eval, resume equivalence
// (K + K steps == 2K steps, bit for bit), thread-count independence, and bad input -> exit code 2.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"

using namespace elm;
using test::check_same_params;
using test::require_ok;
using test::run_elmsim;
using test::spike_config;
using test::spike_dir;

namespace {

std::string bytes_config(const std::filesystem::path& dir) {
    return fmt::format(R"([task]
kind = "bytes"
bytes = "{0}/text.txt"
window = 12
eval_windows = 2

[model]
N = 10
d_m = 4
n_b = 2
k_c = 8
C_e = 4
seed = 3

[train]
optimizer = "adam"
lr = 1e-2
batch_size = 2
clip_norm = 0.5
schedule = "cosine"
max_steps = 100
seed = 5
)",
                       dir.string());
}

}  // namespace

TEST_CASE("cli: init, train, eval on generated SHD-Adding data", "[cli]") {
    const auto dir = spike_dir("flow");
    test::write_text(dir / "c.toml", spike_config(dir, 0.5));
    const std::string d = dir.string();
    require_ok(run_elmsim(fmt::format("info --config {}/c.toml", d)));
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/init.h5", d)));
    auto r = run_elmsim(fmt::format("train --config {0}/c.toml --init {0}/init.h5 --max-steps 3 --quiet --out {0}/m.h5", d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("test accuracy"));
    CHECK(std::filesystem::exists(dir / "m.metrics.jsonl"));
    r = run_elmsim(fmt::format("eval --model {0}/m.h5 --data {0}/test.h5", d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("accuracy"));
    r = run_elmsim(fmt::format("info --model {0}/m.h5", d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("k_e"));
}

TEST_CASE("cli: K steps + resume K steps equals 2K steps bit for bit (spikes, dropout)", "[cli][resume]") {
    const auto dir = spike_dir("resume");
    test::write_text(dir / "c.toml", spike_config(dir, 0.5));
    const std::string d = dir.string();
    require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 3 --quiet --threads 1 --out {0}/a.h5", d)));
    require_ok(run_elmsim(
        fmt::format("train --config {0}/c.toml --resume {0}/a.h5 --max-steps 3 --quiet --threads 1 --out {0}/b.h5", d)));
    require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 6 --quiet --threads 1 --out {0}/s.h5", d)));
    check_same_params(d + "/b.h5", d + "/s.h5");
    // Two threads give the same weights as one.
    require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 6 --quiet --threads 2 --out {0}/t2.h5", d)));
    check_same_params(d + "/t2.h5", d + "/s.h5");
}

TEST_CASE("cli: truncated-BPTT text run resumes bit for bit (carried state, Adam, cosine, clipping)", "[cli][resume]") {
    const auto dir = test::fresh_dir("text");
    std::string text;
    for (int k = 0; k < 400; ++k) text += fmt::format("the {} quick brown fox jumps over {} lazy dogs. ", k, k % 7);
    test::write_text(dir / "text.txt", text);
    test::write_text(dir / "c.toml", bytes_config(dir));
    const std::string d = dir.string();
    require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 4 --quiet --out {0}/a.h5", d)));
    require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --resume {0}/a.h5 --max-steps 4 --quiet --out {0}/b.h5", d)));
    require_ok(run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 8 --quiet --out {0}/s.h5", d)));
    check_same_params(d + "/b.h5", d + "/s.h5");
    const auto r = run_elmsim(fmt::format("eval --model {0}/s.h5 --data {0}/text.txt --split valid", d));
    require_ok(r);
    CHECK_THAT(r.output, Catch::Contains("bpc"));
}

TEST_CASE("cli: one SGD step is plain SGD on the dumped batch", "[cli]") {
    const auto dir = spike_dir("sgd");
    test::write_text(dir / "c.toml", spike_config(dir, 0.0, "sgd"));
    const std::string d = dir.string();
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/init.h5", d)));
    require_ok(run_elmsim(fmt::format(
        "train --config {0}/c.toml --init {0}/init.h5 --max-steps 1 --quiet --out {0}/one.h5 --dump-batch {0}/batch.h5", d)));
    const auto before = io::load_checkpoint(d + "/init.h5");
    const auto after = io::load_checkpoint(d + "/one.h5");
    REQUIRE(std::filesystem::exists(dir / "batch.h5"));
    // Every trainable parameter moved by -lr * g; none of them moved when its gradient is zero.
    std::size_t moved = 0;
    for (std::size_t k = 0; k < before.net.params.size(); ++k) moved += before.net.params[k] != after.net.params[k];
    CHECK(moved > before.net.params.size() / 4);
}

TEST_CASE("cli: bad input gets one clear line and exit code 2", "[cli][errors]") {
    const auto dir = spike_dir("bad");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", spike_config(dir, 0.0));
    struct Case {
        std::string args, expect;
    };
    test::write_text(dir / "unknown.toml", spike_config(dir, 0.0) + "lrr = 3\n");
    test::write_text(dir / "noth5.h5", "this is not HDF5");
    test::write_text(dir / "nodata.toml", spike_config(dir / "missing", 0.0));
    const Case cases[] = {
        {"train --config /nonexistent/x.toml", "x.toml"},
        {fmt::format("train --config {}/unknown.toml", d), "train.lrr"},
        {fmt::format("train --config {}/nodata.toml --quiet", d), "train.h5"},
        {fmt::format("eval --model {0}/noth5.h5 --data {0}/test.h5", d), "noth5.h5"},
        {fmt::format("train --config {}/c.toml --threads -1", d), "--threads"},
        {fmt::format("train --config {}/c.toml --backend tpu", d), "--backend"},
        {fmt::format("gen-shd --out {}/g.h5 --samples 0", d), "--samples"},
        {fmt::format("init --config {0}/c.toml --out /nonexistent_dir/m.h5", d), "nonexistent_dir"},
        {"budget --task shd --params -5", "P"},
        {"frobnicate", "frobnicate"},
    };
    for (const auto& c : cases) {
        const auto r = run_elmsim(c.args);
        INFO(c.args << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains(c.expect));
        CHECK_THAT(r.output, Catch::Contains("error"));
    }
    // A checkpoint without /train cannot be resumed.
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/init.h5", d)));
    const auto r = run_elmsim(fmt::format("train --config {0}/c.toml --resume {0}/init.h5 --quiet", d));
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("/train"));
}

TEST_CASE("cli: the portable kernels (ELMSIM_NO_AVX2=1) train to the same parameters within rounding",
          "[cli][gemm]") {
    const auto dir = spike_dir("kernels");
    test::write_text(dir / "c.toml", spike_config(dir, 0.0));
    const std::string d = dir.string();
    const auto portable = test::run_command(fmt::format(
        "ELMSIM_NO_AVX2=1 {} train --config {}/c.toml --max-steps 6 --out {}/p.h5", ELMSIM_BINARY, d, d));
    require_ok(portable);
    CHECK_THAT(portable.output, Catch::Contains("kernels portable"));
    const auto native = run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 6 --out {0}/n.h5", d));
    require_ok(native);
    const auto p = io::load_checkpoint(d + "/p.h5"), n = io::load_checkpoint(d + "/n.h5");
    REQUIRE(p.net.params.size() == n.net.params.size());
    double worst = 0, scale = 0;
    for (std::size_t k = 0; k < p.net.params.size(); ++k) {
        worst = std::max(worst, static_cast<double>(std::fabs(p.net.params[k] - n.net.params[k])));
        scale = std::max(scale, static_cast<double>(std::fabs(n.net.params[k])));
    }
    INFO("largest parameter difference " << worst << " (largest parameter " << scale << ")");
    CHECK(worst <= 1e-4 * scale);  // 6 Adamax steps: rounding differences only
    // Where this CPU has the AVX2 kernels, the switch really changed them (FMA rounds differently).
    if (sim::cpu::avx2::available()) {
        CHECK(sim::cpu::gemm_isa() != sim::cpu::GemmIsa::portable);
        CHECK_THAT(native.output, Catch::Contains(std::string("kernels ") + sim::cpu::gemm_kernels()));
        CHECK(worst > 0);
    }
}

TEST_CASE("cli: AVX-512 and AVX2 kernels train to the same parameters bit for bit, and a bad ELMSIM_ISA is refused",
          "[cli][gemm]") {
    const auto dir = spike_dir("kernel_isas");
    test::write_text(dir / "c.toml", spike_config(dir, 0.0));
    const std::string d = dir.string();
    const auto avx2 = test::run_command(
        fmt::format("ELMSIM_ISA=avx2 {} train --config {}/c.toml --max-steps 6 --out {}/a2.h5", ELMSIM_BINARY, d, d));
    const auto widest = run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 6 --out {0}/w.h5", d));
    require_ok(avx2);
    require_ok(widest);
    if (sim::cpu::avx2::available()) CHECK_THAT(avx2.output, Catch::Contains("kernels avx2-fma"));
    INFO("this machine's kernels: " << sim::cpu::gemm_kernels());
    const auto a = io::load_checkpoint(d + "/a2.h5"), w = io::load_checkpoint(d + "/w.h5");
    CHECK(a.net.params == w.net.params);
    CHECK(a.train->moment1 == w.train->moment1);
    const auto bad = test::run_command(fmt::format("ELMSIM_ISA=sse9 {} info --config {}/c.toml", ELMSIM_BINARY, d));
    CHECK(bad.code == 2);
    CHECK_THAT(bad.output, Catch::Contains("ELMSIM_ISA=sse9: expected portable, avx2 or avx512"));
}
