// A budget sweep as one MPI job (`mpirun -n R elmsim sweep`, sim/science/remote_runs.hpp): rank 0 hands
// out the runs and writes the directory; the results are those of one process; a job killed at any
// moment resumes when started again; SIGUSR1 (a scheduler's warning, forwarded by mpirun) stops every
// run at a checkpoint and gives its claim back; bad inputs on any process are one line. Every launch
// runs under `timeout` or a watchdog, on this machine only.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <signal.h>

#include <fmt/format.h>

#include "tests/mpi_runner.hpp"
#include "tests/sweep_fixture.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using test::error_lines;
using test::mpi_elmsim;
using test::read_lines;
using test::run_elmsim;
using test::stable_results;

namespace {

std::string sweep_args(const test::TempDir& t, const std::string& sweep, const std::string& out) {
    return fmt::format("sweep --config {} --out {} --quiet", t.file(sweep), t.file(out));
}

int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Waits (at most `seconds`) until no process named in a claim under dir/runs is alive: mpirun may
// return before the ranks it killed are gone, and a live owner's claim is not taken over. Returns
// whether they are all gone.
bool claim_owners_gone(const std::filesystem::path& dir, double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        bool alive = false;
        for (const auto& run : std::filesystem::directory_iterator(dir / "runs")) {
            const auto claim = run.path() / "claim";
            if (!std::filesystem::exists(claim)) continue;
            std::ifstream in(claim);
            const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
            const int pid = j.is_object() ? j.value("pid", 0) : 0;
            alive = alive || (pid > 0 && ::kill(pid, 0) == 0);
        }
        if (!alive) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace

TEST_CASE("MPI sweep: 3 processes give the results of 1, every run trained once, spread over the processes", "[mpi][sweep]") {
    test::TempDir t("mpi_sweep_same");
    test::write_base(t.dir);
    test::write_text(t.dir / "sweep.toml", test::kTinySweep);
    REQUIRE(run_elmsim(sweep_args(t, "sweep.toml", "one")).code == 0);
    const auto r = mpi_elmsim(3, sweep_args(t, "sweep.toml", "three"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(count(r.output, "finished now") == 1);  // rank 0 alone reports
    const auto rows = stable_results(t.dir / "three");
    CHECK(rows.size() == stable_results(t.dir / "one").size());
    CHECK(rows == stable_results(t.dir / "one"));
    std::map<std::string, int> claims, finishes;
    std::set<int> ranks, writers;
    for (const auto& e : read_lines(t.dir / "three" / "events.jsonl")) {
        writers.insert(e["pid"].get<int>());
        if (e["event"] == "claim") ++claims[e["id"].get<std::string>()];
        if (e["event"] != "finish") continue;
        ++finishes[e["id"].get<std::string>()];
        ranks.insert(e["rank"].get<int>());
    }
    CHECK(claims.size() == rows.size());
    CHECK(finishes.size() == rows.size());
    for (const auto& [id, n] : finishes) {
        INFO(id);
        CHECK(n == 1);
        CHECK(claims[id] == 1);
    }
    CHECK(writers.size() == 1);  // the directory's shared files have one writer: rank 0
    CHECK(ranks.size() >= 2);    // the runs went to more than one process
    for (const int k : ranks) CHECK((k >= 0 && k < 3));
    // Started again: nothing left to do.
    const auto again = mpi_elmsim(2, sweep_args(t, "sweep.toml", "three"));
    INFO(again.output);
    CHECK(again.code == 0);
    CHECK_THAT(again.output, Catch::Contains("0 finished now") && Catch::Contains(fmt::format("{} were finished", rows.size())));
}

TEST_CASE("MPI sweep: a job killed in the middle resumes when started again and ends as one process would", "[mpi][sweep]") {
    test::TempDir t("mpi_sweep_killed");
    test::write_base(t.dir);
    test::write_text(t.dir / "sweep.toml", test::kTinySweep);
    REQUIRE(run_elmsim(sweep_args(t, "sweep.toml", "whole")).code == 0);
    // A process SIGKILLs itself after its 7th periodic checkpoint, in the middle of a run; mpirun
    // ends the job.
    const auto killed = test::run_command(fmt::format("ELMSIM_SWEEP_KILL_AFTER_CHECKPOINTS=7 timeout 120 {} -n 3 {} {}",
                                                      test::mpiexec_prefix(), ELMSIM_BINARY, sweep_args(t, "sweep.toml", "cut")));
    INFO(killed.output);
    CHECK(killed.code != 0);
    CHECK(killed.code != 124);
    REQUIRE(stable_results(t.dir / "cut").size() < stable_results(t.dir / "whole").size());
    REQUIRE(claim_owners_gone(t.dir / "cut", 30.0));
    const auto resumed = mpi_elmsim(3, sweep_args(t, "sweep.toml", "cut"));
    INFO(resumed.output);
    REQUIRE(resumed.code == 0);
    int resumes = 0;
    for (const auto& e : read_lines(t.dir / "cut" / "events.jsonl")) resumes += e["event"] == "resume";
    CHECK(resumes >= 1);
    CHECK(stable_results(t.dir / "cut") == stable_results(t.dir / "whole"));
}

TEST_CASE("MPI sweep: SIGUSR1 to mpirun stops every run at a checkpoint, gives the claims back, the next job resumes them",
          "[mpi][sweep]") {
    test::TempDir t("mpi_sweep_usr1");
    test::write_base(t.dir, /*max_steps=*/1000000);
    test::write_text(t.dir / "sweep.toml", "[sweep]\nbase = \"base.toml\"\nbudgets = [1200]\ntolerance = 0.1\naxes = [\"k_e\"]\n"
                                           "points = 3\nsteps = 3000\ncheckpoint_every = 100\n");
    REQUIRE(run_elmsim(sweep_args(t, "sweep.toml", "whole")).code == 0);
    // mpirun signalled once every run has a checkpoint, as `#SBATCH --signal=B:USR1@120` and the job
    // script would (it runs under `timeout`: the signal goes to its child).
    const std::string cut = t.file("cut");
    const auto r = test::run_command(fmt::format(
        "timeout 120 {} -n 3 {} {} & m=$!; "
        "for i in $(seq 1 3000); do [ $(ls {}/runs/*/model.h5 2>/dev/null | wc -l) -ge 3 ] && break; sleep 0.01; done; "
        "pkill -USR1 -P $m; wait $m",
        test::mpiexec_prefix(), ELMSIM_BINARY, sweep_args(t, "sweep.toml", "cut"), cut));
    INFO(r.output);
    REQUIRE(r.code == 128 + SIGUSR1);
    CHECK_THAT(r.output, Catch::Contains("stopped by signal"));
    int interrupted = 0;
    for (const auto& e : read_lines(t.dir / "cut" / "events.jsonl")) interrupted += e["event"] == "interrupted";
    CHECK(interrupted == 3);
    for (const auto& run : std::filesystem::directory_iterator(t.dir / "cut" / "runs")) {
        CHECK(!std::filesystem::exists(run.path() / "claim"));
        CHECK(!std::filesystem::exists(run.path() / "result.json"));
    }
    const auto again = mpi_elmsim(3, sweep_args(t, "sweep.toml", "cut"));
    INFO(again.output);
    REQUIRE(again.code == 0);
    CHECK_THAT(again.output, Catch::Contains("3 finished now (3 resumed)"));
    CHECK(stable_results(t.dir / "cut") == stable_results(t.dir / "whole"));
}

TEST_CASE("MPI sweep: a bad input on any process is one line from rank 0, and every process exits 2", "[mpi][sweep]") {
    test::TempDir t("mpi_sweep_errors");
    test::write_base(t.dir);
    test::write_text(t.dir / "sweep.toml", test::kTinySweep);
    std::string other = test::kTinySweep;
    other.replace(other.find("points = 3"), 10, "points = 2");
    test::write_text(t.dir / "other.toml", other);
    // One process planned other runs (another sweep file on its machine).
    auto r = test::run_command(fmt::format("timeout 120 {0} -n 2 {1} {2} : -n 1 {1} {3}", test::mpiexec_prefix(), ELMSIM_BINARY,
                                           sweep_args(t, "sweep.toml", "out"), sweep_args(t, "other.toml", "out")));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK_THAT(r.output, Catch::Contains("elmsim: error: rank 2: ") && Catch::Contains("planned other runs than rank 0"));
    CHECK_FALSE(std::filesystem::exists(t.dir / "out"));
    // Runs at once per process: each process is one worker.
    r = mpi_elmsim(2, sweep_args(t, "sweep.toml", "out") + " --workers 2");
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK_THAT(r.output, Catch::Contains("start more processes instead"));
    // A directory that holds another sweep.
    REQUIRE(run_elmsim(sweep_args(t, "other.toml", "taken")).code == 0);
    r = mpi_elmsim(3, sweep_args(t, "sweep.toml", "taken"));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK_THAT(r.output, Catch::Contains("holds another sweep"));
    // Rank 0 cannot write a shared file in the middle of the sweep: the others are told, every
    // process exits 2, one line.
    std::filesystem::create_directories(t.dir / "unwritable" / "results.jsonl");
    r = mpi_elmsim(3, sweep_args(t, "sweep.toml", "unwritable"));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK_THAT(r.output, Catch::Contains("results.jsonl"));
    // A missing data file, named once.
    std::filesystem::remove(t.dir / "test.h5");
    r = mpi_elmsim(2, sweep_args(t, "sweep.toml", "fresh"));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(error_lines(r.output) == 1);
    CHECK_THAT(r.output, Catch::Contains("test.h5 not found"));
}
