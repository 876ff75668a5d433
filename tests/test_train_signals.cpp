// `elmsim train` stopped by a signal (SIGINT, SIGTERM, SIGUSR1 — Ctrl-C, a scheduler's preemption or
// time-limit warning) stops after its current step, writes its checkpoint, says how to continue and
// exits with 128 + the signal; resumed, it ends with the parameters of an uninterrupted run, bit for
// bit. The same on two processes (mpirun forwards SIGUSR1), where both stop after the same step.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_training.hpp"
#include "tests/mpi_runner.hpp"

using namespace elm;

namespace {

int logged_steps(const std::filesystem::path& metrics) {
    std::ifstream in(metrics);
    int n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.find("\"kind\": \"train\"") != std::string::npos) ++n;
    return n;
}

// Starts COMMAND in the background (its output to LOG), sends SIG once METRICS shows a step, waits
// (at most 120 s); returns the exit code.
int run_and_signal(const std::string& command, const std::filesystem::path& log, const std::filesystem::path& metrics,
                   int sig) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::setpgid(0, 0);
        const std::string cmd = fmt::format("exec {} > {} 2>&1", command, log.string());
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    bool ended = false;
    const auto t0 = std::chrono::steady_clock::now();
    while (!ended && logged_steps(metrics) < 1 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
        ended = ::waitpid(pid, &status, WNOHANG) == pid;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!ended) {
        ::kill(pid, sig);
        for (int i = 0; i < 1200 && !ended; ++i) {
            ended = ::waitpid(pid, &status, WNOHANG) == pid;
            if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    if (!ended) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL("the run did not stop within 120 s of the signal");
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void check_stop_and_resume(const std::string& launcher, int sig, const std::string& name) {
    const auto data = test::spike_dir("signal_data_" + name);
    const auto dir = test::fresh_dir("signal_" + name);
    const auto d = dir.string();
    // Many steps, logged every step: the signal comes long before the end.
    std::string cfg = test::spike_config(data, 0.1);
    cfg.replace(cfg.find("batch_size = 3"), 14, "batch_size = 4\nshards = 2");
    test::write_text(dir / "exp.toml", cfg);
    const int code = run_and_signal(
        fmt::format("{}{} train --config {}/exp.toml --max-steps 100000 --threads 1 --out {}/m.h5", launcher,
                    ELMSIM_BINARY, d, d),
        dir / "log.txt", dir / "m.metrics.jsonl", sig);
    const std::string log = slurp(dir / "log.txt");
    INFO(log);
    CHECK(code == 128 + sig);
    CHECK(log.find(fmt::format("stopped by signal {} after step", sig)) != std::string::npos);
    CHECK(log.find("elmsim: error") == std::string::npos);
    const auto ck = io::load_checkpoint(d + "/m.h5");
    REQUIRE(ck.train);
    const std::int64_t k = ck.train->step;
    CHECK(k >= 1);
    CHECK(k < 100000);
    // K more steps after resuming == K + k straight.
    test::require_ok(test::run_elmsim(fmt::format(
        "train --config {0}/exp.toml --resume {0}/m.h5 --max-steps 3 --threads 1 --quiet --out {0}/resumed.h5", d)));
    test::require_ok(test::run_elmsim(fmt::format(
        "train --config {0}/exp.toml --max-steps {1} --threads 1 --quiet --out {0}/straight.h5", d, k + 3)));
    test::check_same_params(d + "/straight.h5", d + "/resumed.h5");
}

}  // namespace

TEST_CASE("train: SIGUSR1, SIGTERM or SIGINT stops after a step with a checkpoint that resumes bit for bit",
          "[signal]") {
    check_stop_and_resume("", SIGUSR1, "usr1");
    check_stop_and_resume("", SIGTERM, "term");
    check_stop_and_resume("", SIGINT, "int");
}

TEST_CASE("MPI: SIGUSR1 to mpirun stops both processes after the same step, and the run resumes bit for bit",
          "[signal][mpi]") {
    check_stop_and_resume(test::mpiexec_prefix() + " -n 2 ", SIGUSR1, "mpi");
}
