// Training on many processes (`mpirun -n R elmsim train`, sim/data_parallel.hpp): the process count
// never changes the result — parameters, optimizer moments and losses are the same bit for bit with
// 1, 2 and 4 processes for every output mode, the event and any time bases, every optimizer and a text model
// with carried state, and a run resumes on another process count bit for bit — and a failure on any
// process is one line from rank 0. Every launch runs under `timeout`, on this machine only.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "elmsim/sim/parallel/communicator.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "tests/cli_training.hpp"
#include "tests/mpi_runner.hpp"

using namespace elm;
using test::error_lines;
using test::mpi_elmsim;
using test::run_elmsim;

namespace {

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// K steps of CONFIG on each process count, the checkpoints compared with the first.
void check_process_counts(const std::string& name, const std::string& config, std::initializer_list<int> counts,
                          int steps = 4) {
    const auto dir = test::fresh_dir("mpi_" + name);
    test::write_text(dir / "exp.toml", config);
    std::string first;
    for (const int R : counts) {
        const std::string out = (dir / fmt::format("r{}.h5", R)).string();
        const auto r = mpi_elmsim(R, fmt::format("train --config {}/exp.toml --max-steps {} --threads 1 --quiet --out {}",
                                                 dir.string(), steps, out));
        INFO(name << " on " << R << " processes: " << r.output);
        REQUIRE(r.code == 0);
        CHECK(error_lines(r.output) == 0);
        if (first.empty()) {
            first = out;
            continue;
        }
        test::check_same_params(first, out);
        // The losses of every step, as rank 0 logged them (the wall-clock rate aside).
        const auto losses = [](const std::string& path) {
            std::string text;
            std::ifstream in(path);
            for (std::string line; std::getline(in, line);) text += line.substr(0, line.find("\"steps_per_s\"")) + "\n";
            return text;
        };
        CHECK(losses(first.substr(0, first.size() - 3) + ".metrics.jsonl") ==
              losses(out.substr(0, out.size() - 3) + ".metrics.jsonl"));
    }
}

}  // namespace

TEST_CASE("MPI: 1, 2 and 4 (and 1 and 3) processes train the same parameters bit for bit (analog, dropout)", "[mpi]") {
    const auto data = test::spike_dir("mpi_data_analog");
    std::string cfg = replaced(test::spike_config(data, 0.2), "batch_size = 3", "batch_size = 8\nshards = 4");
    check_process_counts("analog", cfg, {1, 2, 4});
    // A count that is not a power of two: one shard per process, the partial sums gathered whole.
    check_process_counts("analog3", replaced(test::spike_config(data, 0.2), "batch_size = 3", "batch_size = 6\nshards = 3"),
                         {1, 3});
}

TEST_CASE("MPI: spike and LIF outputs, the event and any time bases and every optimizer: the process count changes nothing",
          "[mpi]") {
    const auto data = test::spike_dir("mpi_data_modes");
    const std::string base = replaced(test::spike_config(data, 0.1), "batch_size = 3", "batch_size = 4\nshards = 2");
    check_process_counts("spike", replaced(base, "seed = 3\n", "seed = 3\noutput_mode = \"spike\"\n"), {1, 2});
    check_process_counts("lif", replaced(base, "seed = 3\n", "seed = 3\noutput_mode = \"lif\"\n"), {1, 2});
    check_process_counts("event", base + "time = \"event\"\nresolution_ms = 1.0\n", {1, 2});
    check_process_counts("any", base + "time = \"any\"\nclock_steps = 1\n", {1, 2});
    // The evaluation shares its batches (4, 4 and 2 samples) among the processes: the same metrics.
    check_process_counts("eval", replaced(replaced(base, "adding_test_pairs = 8", "adding_test_pairs = 10"), "shards = 2", "shards = 4"),
                         {1, 2, 4});
    for (const char* opt : {"sgd", "adam"})
        check_process_counts(opt, replaced(test::spike_config(data, 0.0, opt), "batch_size = 3", "batch_size = 4\nshards = 2"),
                             {1, 2}, 3);
}

TEST_CASE("MPI: one process with 2 threads equals 2 processes with 1 thread (one shard per process)", "[mpi]") {
    const auto data = test::spike_dir("mpi_data_threads");
    const auto dir = test::fresh_dir("mpi_threads");
    // No shards in the config: one per process, so 2 processes pin 2 shards; the single process says so too.
    test::write_text(dir / "two.toml", replaced(test::spike_config(data, 0.1), "batch_size = 3", "batch_size = 6\nshards = 2"));
    test::write_text(dir / "auto.toml", replaced(test::spike_config(data, 0.1), "batch_size = 3", "batch_size = 6"));
    test::require_ok(run_elmsim(fmt::format("train --config {0}/two.toml --max-steps 4 --threads 2 --quiet --out {0}/a.h5",
                                            dir.string())));
    const auto r = mpi_elmsim(2, fmt::format("train --config {0}/auto.toml --max-steps 4 --threads 1 --quiet --out {0}/b.h5",
                                             dir.string()));
    INFO(r.output);
    REQUIRE(r.code == 0);
    test::check_same_params((dir / "a.h5").string(), (dir / "b.h5").string());
}

TEST_CASE("MPI: on the cuda backend too, 2 processes train the parameters of 1 bit for bit", "[mpi][gpu]") {
    // Runs where the cuda backend runs: a GPU, or the backend's host emulation (ELM_CUDA=EMULATE, as
    // tools/setup.sh test runs the [gpu] cases); elsewhere it says so, as every [gpu] case does.
    std::string why;
    if (!sim::backend_available("cuda", &why)) {
        WARN("skipped, no GPU here: " << why);
        return;
    }
    const auto data = test::spike_dir("mpi_data_cuda");
    const auto dir = test::fresh_dir("mpi_cuda");
    const auto d = dir.string();
    test::write_text(dir / "exp.toml", replaced(test::spike_config(data, 0.1), "batch_size = 3", "batch_size = 6\nshards = 2"));
    test::require_ok(run_elmsim(fmt::format("train --config {0}/exp.toml --backend cuda --max-steps 4 --quiet --out {0}/one.h5", d)));
    const auto r = mpi_elmsim(2, fmt::format("train --config {0}/exp.toml --backend cuda --max-steps 4 --threads 1 --quiet "
                                             "--out {0}/two.h5",
                                             d));
    INFO(r.output);
    REQUIRE(r.code == 0);
    test::check_same_params(d + "/one.h5", d + "/two.h5");
}

TEST_CASE("MPI: a text model carries each process's rows, and K steps on 2 processes + K on 1 == 2K on 4", "[mpi]") {
    const auto dir = test::fresh_dir("mpi_text_data");
    std::string text;
    for (int i = 0; i < 400; ++i) text += fmt::format("line {} of a text that repeats itself, more or less. ", i % 37);
    test::write_text(dir / "text.txt", text);
    const std::string cfg = test::bytes_config(dir) + "\n[train]\noptimizer = \"adam\"\nlr = 1e-2\nbatch_size = 8\n"
                                                      "shards = 4\ndropout = 0.1\nmax_steps = 100\nlog_every = 1\nseed = 2\n";
    check_process_counts("text", cfg, {1, 4}, 6);
    test::write_text(dir / "exp.toml", cfg);
    const auto d = dir.string();
    auto r = mpi_elmsim(4, fmt::format("train --config {0}/exp.toml --max-steps 6 --threads 1 --quiet --out {0}/full.h5", d));
    INFO(r.output);
    REQUIRE(r.code == 0);
    r = mpi_elmsim(2, fmt::format("train --config {0}/exp.toml --max-steps 3 --threads 1 --quiet --out {0}/half.h5", d));
    INFO(r.output);
    REQUIRE(r.code == 0);
    test::require_ok(run_elmsim(fmt::format(
        "train --config {0}/exp.toml --resume {0}/half.h5 --max-steps 3 --threads 1 --quiet --out {0}/resumed.h5", d)));
    test::check_same_params(d + "/full.h5", d + "/resumed.h5");
    const auto full = io::load_checkpoint(d + "/full.h5");
    const auto resumed = io::load_checkpoint(d + "/resumed.h5");
    REQUIRE(full.train);
    REQUIRE(resumed.train);
    CHECK(full.train->float_arrays == resumed.train->float_arrays);  // the carried state of all 8 rows
    CHECK(!full.train->float_arrays.empty());
}

TEST_CASE("MPI: a failure on any process is one line from rank 0, and every process exits 2", "[mpi]") {
    const auto data = test::spike_dir("mpi_data_errors");
    const auto dir = test::fresh_dir("mpi_errors");
    const auto d = dir.string();
    test::write_text(dir / "exp.toml", replaced(test::spike_config(data, 0.0), "batch_size = 3", "batch_size = 8\nshards = 4"));
    // A process count the shards do not admit.
    auto r = mpi_elmsim(3, fmt::format("train --config {0}/exp.toml --max-steps 2 --quiet --out {0}/x.h5", d));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK(r.output.find("train.shards: 4 shards cannot be shared by 3 processes") != std::string::npos);
    // Only rank 1's data is missing (two configs, one job): rank 0 names the process and the file.
    test::write_text(dir / "bad.toml", replaced(test::spike_config(data, 0.0), "train.h5", "missing.h5"));
    r = test::run_command(fmt::format("timeout 120 {0} -n 1 {1} train --config {2}/exp.toml --quiet --out {2}/y.h5 : "
                                      "-n 1 {1} train --config {2}/bad.toml --quiet --out {2}/y.h5",
                                      test::mpiexec_prefix(), ELMSIM_BINARY, d));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK(r.output.find("elmsim: error: rank 1: ") != std::string::npos);
    CHECK(r.output.find("missing.h5") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "y.h5"));
    CHECK_FALSE(std::filesystem::exists(dir / "x.h5"));
    // Commands that run as one process refuse to run once per process over the same output.
    r = mpi_elmsim(2, fmt::format("gen-shd --out {}/g.h5 --samples 4", d));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK(r.output.find("run on several processes; start 'gen-shd' as one") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "g.h5"));
}

TEST_CASE("MPI: a killed process ends the job, leaving the last checkpoint whole", "[mpi]") {
    const auto data = test::spike_dir("mpi_data_killed");
    const auto dir = test::fresh_dir("mpi_killed");
    const auto d = dir.string();
    // A checkpoint after every step, so the kill may land in the middle of one being written.
    test::write_text(dir / "exp.toml",
                     replaced(replaced(test::spike_config(data, 0.0), "batch_size = 3",
                                       "batch_size = 4\nshards = 2\ncheckpoint_every = 1"),
                              "max_steps = 100\n", "max_steps = 1000000\n"));
    const auto r = test::run_command(fmt::format(
        "sh -c 'timeout 120 {0} -n 2 {1} "
        "train --config {2}/exp.toml --max-steps 100000 --threads 1 --quiet --out {2}/m.h5 > {2}/log.txt 2>&1 & "
        "m=$!; i=0; while [ $i -lt 600 ] && ! grep -q train {2}/m.metrics.jsonl 2>/dev/null; do sleep 0.1; i=$((i+1)); done; "
        "sleep 0.3; pkill -9 -n -x elmsim -P $(pgrep -d, -P $m); wait $m; echo \"job exit $?\"'",
        test::mpiexec_prefix(), ELMSIM_BINARY, d));
    INFO(r.output);
    REQUIRE(r.output.find("job exit ") != std::string::npos);
    CHECK(r.output.find("job exit 0") == std::string::npos);
    CHECK(r.output.find("job exit 124") == std::string::npos);  // ended by the kill, not by the timeout
    REQUIRE(std::filesystem::exists(dir / "m.h5"));
    const auto ck = io::load_checkpoint(d + "/m.h5");  // whole: it loads, checksums and all
    REQUIRE(ck.train);
    CHECK(ck.train->step >= 1);
}

TEST_CASE("a build without MPI started as several processes refuses in one line", "[mpi]") {
    CHECK(sim::refusal_without_mpi(1).empty());
    const std::string why = sim::refusal_without_mpi(4);
    CHECK(why.find("started as 4 processes") != std::string::npos);
    CHECK(why.find("without MPI") != std::string::npos);
    CHECK(why.find('\n') == std::string::npos);
}
