// Budget sweeps end to end (spec science.md section 1): the plan is deterministic, runs finish and
// results.jsonl has the contract's fields, a second invocation does nothing, a sweep killed mid-run
// and restarted gives exactly the results of an uninterrupted one, two processes on one directory
// run every point exactly once, stale claims are taken over and live ones left alone, a failing run
// is recorded and the sweep goes on, a wall-clock budget ends runs, and bad sweep files are one-line
// errors naming the key.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "elmsim/io/sweep_config.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"
#include "tests/cli_runner.hpp"
#include "tests/sweep_fixture.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using nlohmann::json;
using test::run_command;
using test::read_lines;
using test::run_elmsim;
using test::stable_results;
using test::write_base;
using test::kTinySweep;
using test::write_text;

namespace {

// Two runs with a wall-clock budget (`extra`: minutes and the rest), on a base with no step limit.
void write_timed_sweep(const std::filesystem::path& dir, const std::string& extra) {
    write_base(dir, /*max_steps=*/1000000);
    write_text(dir / "sweep.toml",
               "[sweep]\nbase = \"base.toml\"\nbudgets = [1200]\ntolerance = 0.1\naxes = [\"k_e\"]\npoints = 2\n" + extra);
}

std::string read_file_text(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string sweep_cmd(const test::TempDir& t, const std::string& out, const std::string& extra = "") {
    return fmt::format("sweep --config {} --out {} --quiet {}", t.file("sweep.toml"), t.file(out), extra);
}

std::size_t planned_runs(const test::TempDir& t) {
    return science::make_sweep_plan(io::load_sweep_config(t.file("sweep.toml"))).runs.size();
}

}  // namespace

TEST_CASE("sweep: the plan is deterministic and covers budgets x axes x points x seeds plus scans", "[sweep]") {
    test::TempDir t("sweep_plan");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    const auto a = science::make_sweep_plan(io::load_sweep_config(t.file("sweep.toml")));
    const auto b = science::make_sweep_plan(io::load_sweep_config(t.file("sweep.toml")));
    REQUIRE(a.runs.size() == b.runs.size());
    std::set<std::string> ids;
    for (std::size_t i = 0; i < a.runs.size(); ++i) {
        CHECK(a.runs[i].id == b.runs[i].id);
        CHECK(a.runs[i].groups == b.runs[i].groups);
        ids.insert(a.runs[i].id);
    }
    CHECK(ids.size() == a.runs.size());  // ids are unique
    // 3 budgets x 2 axes x 3 points x 2 seeds (a configuration shared by two axes is one run) + 2 x 2 scans.
    CHECK(a.runs.size() <= 3 * 2 * 3 * 2 + 4);
    CHECK(a.runs.size() >= 3 * 3 * 2 + 4);
    for (const auto& r : a.runs) {
        INFO(r.id);
        for (const auto& g : r.groups) {
            if (g.scan >= 0) continue;
            CHECK(std::abs(static_cast<double>(r.count.P) / g.budget - 1.0) <= 0.1);  // within the tolerance
        }
    }
    // Two seeds of every configuration, with ids that differ only by the seed.
    std::map<std::string, int> seeds_per_config;
    for (const auto& r : a.runs) ++seeds_per_config[r.config_key()];
    for (const auto& [key, n] : seeds_per_config) CHECK(n == 2);
    // A run's config is the same run wherever its data and output live, and another run otherwise.
    const auto& r0 = a.runs.front();
    const std::string text = science::run_config_text(a, r0, "/x/out/runs/" + r0.id);
    CHECK(science::same_run_config(text, science::run_config_text(a, r0, "/mnt/y/out/runs/" + r0.id)));
    std::string moved = text;
    moved.replace(moved.find(t.dir.string()), t.dir.string().size(), "/elsewhere/data");
    CHECK(science::same_run_config(text, moved));
    CHECK_FALSE(science::same_run_config(text, science::run_config_text(a, a.runs[1], "/x/out/runs/" + r0.id)));
    CHECK_FALSE(science::same_run_config(text, "# edited by hand\n"));
    CHECK_FALSE(science::same_run_config(text, "not toml ["));
    // The dry run prints the same table twice.
    const auto d1 = run_elmsim(sweep_cmd(t, "out", "--dry-run")), d2 = run_elmsim(sweep_cmd(t, "out", "--dry-run"));
    CHECK(d1.code == 0);
    CHECK(d1.output == d2.output);
    CHECK_THAT(d1.output, Catch::Contains(a.runs.front().id) && Catch::Contains("est GFLOP"));
    CHECK(!std::filesystem::exists(t.dir / "out" / "results.jsonl"));  // a dry run runs nothing
}

TEST_CASE("sweep: runs finish, results.jsonl has the contract's fields, a second invocation does nothing", "[sweep]") {
    test::TempDir t("sweep_run");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    const auto r = run_elmsim(sweep_cmd(t, "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const std::size_t n = planned_runs(t);
    const auto rows = read_lines(t.dir / "out" / "results.jsonl");
    REQUIRE(rows.size() == n);
    for (const auto& row : rows) {
        INFO(row.dump());
        for (const char* k : {"id", "seed", "N", "k_e", "k_c", "P", "d_m", "d_h", "n_b", "l", "budget", "axis", "steps",
                              "train_seconds", "test_loss", "test_accuracy"})
            CHECK(row.contains(k));
        CHECK(row["steps"] == 6);
        CHECK(std::isfinite(row["test_loss"].get<double>()));
        const auto rd = t.dir / "out" / "runs" / row["id"].get<std::string>();
        for (const char* f : {"config.toml", "model.h5", "model.metrics.jsonl", "result.json"})
            CHECK(std::filesystem::exists(rd / f));
        CHECK(!std::filesystem::exists(rd / "claim"));
    }
    // A plan written by a version with another cost estimate is the same plan.
    {
        std::ifstream in(t.dir / "out" / "sweep.json");
        json plan = json::parse(in);
        plan["runs"][0]["est_gflop"] = 12345.0;
        write_text(t.dir / "out" / "sweep.json", plan.dump(1));
    }
    const auto events_before = read_lines(t.dir / "out" / "events.jsonl").size();
    const auto again = run_elmsim(sweep_cmd(t, "out"));
    CHECK(again.code == 0);
    CHECK_THAT(again.output, Catch::Contains("0 finished now") && Catch::Contains(fmt::format("{} were finished", n)));
    CHECK(read_lines(t.dir / "out" / "events.jsonl").size() == events_before);
}

TEST_CASE("sweep: killed mid-run and restarted, it gives the results of an uninterrupted sweep", "[sweep]") {
    test::TempDir t("sweep_kill");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    REQUIRE(run_elmsim(sweep_cmd(t, "whole")).code == 0);
    // Killed (SIGKILL) right after the 7th periodic checkpoint of the process: inside its second runs.
    const auto killed = run_command(fmt::format("ELMSIM_SWEEP_KILL_AFTER_CHECKPOINTS=7 {} {}", ELMSIM_BINARY, sweep_cmd(t, "cut")));
    REQUIRE(killed.code == 128 + SIGKILL);
    // Restarted under another spelling of the directory (as another machine mounting it would).
    const auto resumed = run_elmsim(fmt::format("sweep --config {} --out {}/./cut --quiet", t.file("sweep.toml"), t.dir.string()));
    INFO(resumed.output);
    REQUIRE(resumed.code == 0);
    CHECK_THAT(resumed.output, Catch::Contains("resumed)"));
    int resumes = 0, takeovers = 0;
    for (const auto& e : read_lines(t.dir / "cut" / "events.jsonl")) {
        resumes += e["event"] == "resume";
        takeovers += e["event"] == "takeover";
    }
    CHECK(resumes >= 1);
    CHECK(takeovers >= 1);  // the dead process's claims (same host, pid gone) were taken over at once
    CHECK(stable_results(t.dir / "cut") == stable_results(t.dir / "whole"));
}

TEST_CASE("sweep: SIGTERM stops the runs at a checkpoint and gives their claims back, the next sweep resumes them", "[sweep]") {
    test::TempDir t("sweep_sigterm");
    write_base(t.dir, /*max_steps=*/1000000);
    write_text(t.dir / "sweep.toml", "[sweep]\nbase = \"base.toml\"\nbudgets = [1200]\ntolerance = 0.1\naxes = [\"k_e\"]\n"
                                     "points = 2\nsteps = 1500\ncheckpoint_every = 100\nworkers = 2\n");
    REQUIRE(run_elmsim(sweep_cmd(t, "whole")).code == 0);
    // Stopped once both runs have a checkpoint (as a scheduler's preemption would).
    const std::string cut = t.file("cut");
    const auto r = run_command(fmt::format(
        "{} {} & pid=$!; for i in $(seq 1 600); do [ $(ls {}/runs/*/model.h5 2>/dev/null | wc -l) -ge 2 ] && break; "
        "sleep 0.01; done; kill -TERM $pid; wait $pid",
        ELMSIM_BINARY, sweep_cmd(t, "cut"), cut));
    INFO(r.output);
    REQUIRE(r.code == 128 + SIGTERM);
    CHECK_THAT(r.output, Catch::Contains("stopped by signal"));
    int interrupted = 0;
    for (const auto& e : read_lines(t.dir / "cut" / "events.jsonl")) interrupted += e["event"] == "interrupted";
    CHECK(interrupted == 2);
    for (const auto& run : std::filesystem::directory_iterator(t.dir / "cut" / "runs")) {
        CHECK(!std::filesystem::exists(run.path() / "claim"));  // given back, not left to go stale
        CHECK(!std::filesystem::exists(run.path() / "error.json"));
        CHECK(!std::filesystem::exists(run.path() / "result.json"));
    }
    const auto again = run_elmsim(sweep_cmd(t, "cut"));
    INFO(again.output);
    REQUIRE(again.code == 0);
    CHECK_THAT(again.output, Catch::Contains("2 finished now (2 resumed)"));
    CHECK(stable_results(t.dir / "cut") == stable_results(t.dir / "whole"));
}

TEST_CASE("sweep: a run whose checkpoint was damaged starts over and ends as it would have", "[sweep]") {
    test::TempDir t("sweep_damaged");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    REQUIRE(run_elmsim(sweep_cmd(t, "out")).code == 0);
    const auto before = stable_results(t.dir / "out");
    const std::string id = before.at(5)["id"].get<std::string>();
    const auto rd = t.dir / "out" / "runs" / id;
    std::filesystem::remove(rd / "result.json");
    write_text(rd / "model.h5", "not an HDF5 file");
    const auto r = run_elmsim(sweep_cmd(t, "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("1 finished now (0 resumed)"));
    int restarts = 0;
    for (const auto& e : read_lines(t.dir / "out" / "events.jsonl")) restarts += e["event"] == "restart" && e["id"] == id;
    CHECK(restarts == 1);
    CHECK(stable_results(t.dir / "out") == before);
}

TEST_CASE("sweep: two processes on one directory run every point exactly once", "[sweep]") {
    test::TempDir t("sweep_two");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    const std::string one = fmt::format("{} {}", ELMSIM_BINARY, sweep_cmd(t, "shared", "--workers 1"));
    const auto r = run_command(fmt::format("{0} & {0} & wait", one));
    INFO(r.output);
    std::map<std::string, int> claims, finishes;
    for (const auto& e : read_lines(t.dir / "shared" / "events.jsonl")) {
        if (e["event"] == "claim") ++claims[e["id"].get<std::string>()];
        if (e["event"] == "finish") ++finishes[e["id"].get<std::string>()];
    }
    const std::size_t n = planned_runs(t);
    CHECK(claims.size() == n);
    CHECK(finishes.size() == n);
    for (const auto& [id, c] : claims) {
        INFO(id << "\n" << read_file_text(t.dir / "shared" / "events.jsonl"));
        CHECK(c == 1);
        CHECK(finishes[id] == 1);
    }
    CHECK(read_lines(t.dir / "shared" / "results.jsonl").size() == n);
}

TEST_CASE("sweep: a running process keeps its claims fresh, so another machine does not take them", "[sweep]") {
    test::TempDir t("sweep_heartbeat");
    // Runs of 6 s, claims stale after 3 s without a heartbeat: the second "machine" arrives at 4 s.
    write_timed_sweep(t.dir, "minutes = 0.1\nstale_minutes = 0.05\nworkers = 2\n");
    const std::string cmd = fmt::format("{} {}", ELMSIM_BINARY, sweep_cmd(t, "out"));
    const auto r = run_command(fmt::format("ELMSIM_SWEEP_HOST=machine-a {0} & sleep 4; ELMSIM_SWEEP_HOST=machine-b {0}; wait", cmd));
    INFO(r.output);
    int claims = 0, takeovers = 0;
    std::set<std::string> hosts;
    for (const auto& e : read_lines(t.dir / "out" / "events.jsonl")) {
        claims += e["event"] == "claim";
        takeovers += e["event"] == "takeover";
        hosts.insert(e["host"].get<std::string>());
    }
    CHECK(claims == 2);
    CHECK(takeovers == 0);
    CHECK(hosts == std::set<std::string>{"machine-a"});
    CHECK(read_lines(t.dir / "out" / "results.jsonl").size() == 2);
}

TEST_CASE("sweep: a stale claim is taken over, a live one is left alone", "[sweep]") {
    test::TempDir t("sweep_claims");
    science::SweepDirectory dir(t.file("d"), /*stale_minutes=*/10.0);
    const auto claim_file = [&](const std::string& id) { return dir.run_dir(id) / "claim"; };
    const auto plant = [&](const std::string& id, const std::string& host, int pid) {
        std::filesystem::create_directories(dir.run_dir(id));
        write_text(claim_file(id), json{{"host", host}, {"pid", pid}, {"token", "theirs"}}.dump());
    };
    // A live owner on this host (this very process): left alone while its claim is fresh ...
    plant("live", science::SweepDirectory::host_name(), static_cast<int>(::getpid()));
    CHECK(!dir.try_claim("live", false));
    const struct timespec old[2] = {{std::time(nullptr) - 3600, 0}, {std::time(nullptr) - 3600, 0}};
    // ... and taken over once untouched for stale_minutes (a hung owner, or a reused pid).
    plant("hung", science::SweepDirectory::host_name(), static_cast<int>(::getpid()));
    REQUIRE(::utimensat(AT_FDCWD, claim_file("hung").c_str(), old, 0) == 0);
    CHECK(dir.try_claim("hung", false));
    // An owner on this host whose process is gone: taken over at once.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    plant("dead", science::SweepDirectory::host_name(), static_cast<int>(child));
    auto c = dir.try_claim("dead", false);
    REQUIRE(c);
    CHECK(c->still_ours());
    // ... also when it is a zombie nobody has reaped yet (here: until this process waits for it).
    const pid_t zombie = ::fork();
    if (zombie == 0) ::_exit(0);
    const auto zombie_state = [&] {
        std::ifstream in(fmt::format("/proc/{}/stat", zombie));
        std::string line;
        std::getline(in, line);
        const auto close = line.rfind(')');
        return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
    };
    for (int i = 0; i < 400 && zombie_state() != 'Z'; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(zombie_state() == 'Z');
    REQUIRE(::kill(zombie, 0) == 0);  // a zombie still answers kill(pid, 0)
    plant("zombie", science::SweepDirectory::host_name(), static_cast<int>(zombie));
    CHECK(dir.try_claim("zombie", false));
    ::waitpid(zombie, nullptr, 0);
    // Another machine's claim: left alone while fresh, taken over once untouched for stale_minutes.
    plant("remote", "some-other-host", 1);
    CHECK(!dir.try_claim("remote", false));
    REQUIRE(::utimensat(AT_FDCWD, claim_file("remote").c_str(), old, 0) == 0);
    CHECK(dir.try_claim("remote", false));
    // Claims are exclusive: a second claim of a held run fails; a released run can be claimed again.
    auto first = dir.try_claim("free", false);
    REQUIRE(first);
    CHECK(!dir.try_claim("free", false));
    first->release();
    CHECK(dir.try_claim("free", false));
    int takeovers = 0;
    for (const auto& e : read_lines(t.dir / "d" / "events.jsonl")) takeovers += e["event"] == "takeover";
    CHECK(takeovers == 4);
}

TEST_CASE("sweep: a failing run is recorded with its error and the sweep goes on", "[sweep]") {
    test::TempDir t("sweep_fail");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    const auto plan = science::make_sweep_plan(io::load_sweep_config(t.file("sweep.toml")));
    const std::string bad = plan.runs[3].id;
    // A run folder that holds another config than the plan's: that run fails, the others do not.
    std::filesystem::create_directories(t.dir / "out" / "runs" / bad);
    write_text(t.dir / "out" / "runs" / bad / "config.toml", "# edited by hand\n");
    const auto r = run_elmsim(sweep_cmd(t, "out"));
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(read_lines(t.dir / "out" / "results.jsonl").size() == plan.runs.size() - 1);
    std::ifstream err_file(t.dir / "out" / "runs" / bad / "error.json");
    const json err = json::parse(err_file);
    CHECK(err["id"] == bad);
    CHECK_THAT(err["error"].get<std::string>(), Catch::Contains("differs from what the plan would write"));
    // Failed runs are skipped until asked for; then they run again.
    CHECK_THAT(run_elmsim(sweep_cmd(t, "out")).output, Catch::Contains("1 failed before"));
    std::filesystem::remove(t.dir / "out" / "runs" / bad / "config.toml");
    const auto retry = run_elmsim(sweep_cmd(t, "out", "--retry-failed"));
    CHECK_THAT(retry.output, Catch::Contains("1 finished now"));
    CHECK(read_lines(t.dir / "out" / "results.jsonl").size() == plan.runs.size());
}

TEST_CASE("sweep: a wall-clock budget per run ends each run on time", "[sweep]") {
    test::TempDir t("sweep_minutes");
    write_timed_sweep(t.dir, "minutes = 0.004\nworkers = 1\n");
    const auto r = run_elmsim(sweep_cmd(t, "out"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const auto rows = read_lines(t.dir / "out" / "results.jsonl");
    REQUIRE(rows.size() == 2);
    for (const auto& row : rows) {
        CHECK(row["steps"].get<int>() > 0);
        CHECK(row["steps"].get<int>() < 1000000);
        CHECK(row["train_seconds"].get<double>() >= 0.24);
        CHECK(row["train_seconds"].get<double>() < 30.0);
    }
}

TEST_CASE("sweep: every configs/sweep_*.toml plans, with a base that is an experiment config", "[sweep][config]") {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(ELM_SOURCE_DIR) + "/configs")) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("sweep_", 0) != 0 || entry.path().extension() != ".toml") continue;
        INFO(name);
        const auto plan = science::make_sweep_plan(io::load_sweep_config(entry.path().string()));
        CHECK(plan.runs.size() >= 20);
        double lo = 1e300, hi = 0;
        for (double b : plan.sweep.budgets) lo = std::min(lo, b), hi = std::max(hi, b);
        CHECK(hi / lo >= 30.0);  // every shipped sweep spans 1.5 orders of magnitude of P or more
        ++count;
    }
    CHECK(count == 4);  // demo, text, full SHD-Adding, full Enwik8
}

TEST_CASE("sweep: bad sweep files are one-line errors naming the key", "[sweep]") {
    test::TempDir t("sweep_bad");
    write_base(t.dir);
    const auto check = [&](const std::string& body, const std::string& key) {
        write_text(t.dir / "bad.toml", "[sweep]\nbase = \"base.toml\"\n" + body);
        const auto r = run_elmsim(fmt::format("sweep --config {} --out {} --dry-run", t.file("bad.toml"), t.file("o")));
        INFO(body << "\n-> " << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains(key));
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    };
    const std::string ok = "tolerance = 0.1\naxes = [\"k_e\"]\npoints = 2\nsteps = 3\n";
    check("budgets = [1200]\n" + ok + "budget = [3]\n", "unknown key 'sweep.budget'");
    check("budgets = []\n" + ok, "sweep.budgets");
    check(ok, "sweep.budgets: missing");
    check("budgets = [10]\n" + ok, "sweep.budgets: 10");
    check("budgets = [1200]\ntolerance = 0.1\npoints = 1\nsteps = 3\n", "sweep.points");
    check("budgets = [1200]\ntolerance = 0.1\npoints = 2\n", "sweep.steps: missing");
    check("budgets = [1200]\n" + ok + "minutes = 2\n", "sweep.minutes");
    check("budgets = [1200]\n" + ok + "metric = \"test_bpc\"\n", "sweep.metric");
    check("budgets = [1200]\ntolerance = 0.1\naxes = [\"q\"]\npoints = 2\nsteps = 3\n", "sweep.axes");
    check("budgets = [1200, 1200]\n" + ok, "appears twice");
    check("budgets = [nan]\n" + ok, "expected a budget P in [1, 1e15], got nan");
    check("budgets = [inf]\n" + ok, "expected a budget P in [1, 1e15], got inf");
    check("budgets = [1200]\ntolerance = nan\naxes = [\"k_e\"]\npoints = 2\nsteps = 3\n", "sweep.tolerance");
    check("budgets = [1200]\n" + ok + "[[sweep.scan]]\naxis = \"k_e\"\nvalues = [1, 2]\n", "sweep.scan[0].axis");
    check("budgets = [1200]\n" + ok + "[[sweep.scan]]\naxis = \"N\"\nvalues = [4]\n", "sweep.scan[0].values");
    check("budgets = [1200]\n" + ok + "[[sweep.scan]]\naxis = \"N\"\nvalues = [4, 8]\nfixed = { k_c = 3 }\n",
          "sweep.scan[0].values");
    // A directory made by another sweep is not silently mixed with this one.
    write_text(t.dir / "a.toml", "[sweep]\nbase = \"base.toml\"\nbudgets = [1200]\n" + ok);
    write_text(t.dir / "b.toml", "[sweep]\nbase = \"base.toml\"\nbudgets = [1200]\ntolerance = 0.1\naxes = [\"k_e\"]\npoints = 2\nsteps = 4\n");
    REQUIRE(run_elmsim(fmt::format("sweep --config {} --out {} --quiet", t.file("a.toml"), t.file("mixed"))).code == 0);
    const auto mixed = run_elmsim(fmt::format("sweep --config {} --out {} --quiet", t.file("b.toml"), t.file("mixed")));
    CHECK(mixed.code == 2);
    CHECK_THAT(mixed.output, Catch::Contains("holds another sweep"));
}

TEST_CASE("sweep: a shared file it cannot write ends the sweep with one error line, its runs checkpointed", "[sweep]") {
    test::TempDir t("sweep_unwritable");
    write_base(t.dir);
    write_text(t.dir / "sweep.toml", kTinySweep);
    // results.jsonl is a directory: the first finished run cannot be added to it.
    std::filesystem::create_directories(t.dir / "out" / "results.jsonl");
    const auto r = run_elmsim(sweep_cmd(t, "out"));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK_THAT(r.output, Catch::Contains("elmsim: error: ") && Catch::Contains("results.jsonl"));
    // Nothing is left claimed by the dead process's mistake: started again (the directory fixed), it ends.
    std::filesystem::remove(t.dir / "out" / "results.jsonl");
    const auto again = run_elmsim(sweep_cmd(t, "out"));
    INFO(again.output);
    REQUIRE(again.code == 0);
    CHECK(read_lines(t.dir / "out" / "results.jsonl").size() == planned_runs(t));
}
