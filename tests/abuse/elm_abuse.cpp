// elm_abuse: the abuse suite of `elmsim serve` (docs/reliability.md "The abuse suite").
//
//   elm_abuse ELMSIM_BINARY WORK_DIR [--report] [--list] [CASE...]
//
// Makes data and a small clock model with the binary itself (gen-shd, init), then runs each case
// against a real `elmsim serve` child on 127.0.0.1: the attack, with a healthy client alongside whose
// latency and bit-exact results are measured, then SIGTERM. Prints one table row per case (peak RSS
// of the server, its exit, the healthy client's p50 / p99 and exactness, PASS / FAIL and why) and
// the details under it. Exit status 1 when a case failed, 2 when the set-up failed; with --report
// always 0 (to measure an old binary). Built by tests/CMakeLists.txt; ctest label "abuse".
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/abuse/abuse_case.hpp"

using namespace elm::abuse;
namespace fs = std::filesystem;

namespace {

constexpr int kHealthySamples = 3;  // samples 0..2 of the data file per healthy pass

// A set-up command of the binary under test, with its output in WORK_DIR/setup.log.
void run_setup(const Setup& s, const std::vector<std::string>& args) {
    ServerProcess p(s.binary, args, s.work / "setup.log");
    const auto e = p.wait_exit(120.0);
    if (!e || e->code != 0)
        throw std::runtime_error(fmt::format("elmsim {}: {}", fmt::join(args, " "),
                                             e ? "exit " + e->text() + ": " + p.log_first_line() : "no exit in 120 s"));
}

Setup make_setup(const std::string& binary, const fs::path& work) {
    Setup s;
    s.binary = binary;
    s.work = fs::absolute(work);
    fs::create_directories(s.work);
    const std::string data = (s.work / "shd.h5").string();
    run_setup(s, {"gen-shd", "--out", data, "--samples", "8", "--seed", "3"});
    // A small SHD model in clock mode: N = 64, so the server's cpu is not what limits the cases.
    const fs::path config = s.work / "abuse.toml";
    std::ofstream(config) << fmt::format(R"([task]
kind = "shd"
train = "{0}"
test = "{0}"
duration_ms = 1000.0
dt_ms = 2.0

[model]
N = 64
d_m = 8
n_b = 2
k_c = 16
seed = 3

[train]
seed = 3
)",
                                         data);
    s.model = (s.work / "model.h5").string();
    run_setup(s, {"init", "--config", config.string(), "--out", s.model});
    s.token = "abuse-suite-token";
    s.token_file = (s.work / "token.txt").string();
    std::ofstream(s.token_file) << s.token << "\n";
    s.trace_dir = s.work / "traces";
    fs::remove_all(s.trace_dir);
    fs::create_directories(s.trace_dir);
    s.ref = make_reference(s.model, data, kHealthySamples);
    return s;
}

std::string ms(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", v) : "-"; }

void print_table(const std::vector<CaseResult>& results, const Setup& s) {
    std::printf("elm_abuse: %s\n", s.binary.c_str());
    std::printf("bounds: peak RSS %.0f MB; healthy p99 %.1f ms (max(%.0f ms, %.0f x idle p99)); exit 0 within %.0f s "
                "of SIGTERM; %.0f s per case\n\n",
                kRssBoundKb / 1024.0, s.latency_bound_ms, kLatencyFloorMs, kLatencyFactor, kStopWithinS,
                kCaseDeadlineS);
    std::printf("%-24s %9s %8s %8s %8s %7s %6s  %s\n", "case", "peak MB", "exit", "p50 ms", "p99 ms", "exact", "result",
                "reason");
    for (const auto& r : results) {
        std::string reason = r.failures.empty() ? "" : r.failures.front();
        if (r.failures.size() > 1) reason += fmt::format(" (+{} more)", r.failures.size() - 1);
        std::printf("%-24s %9s %8s %8s %8s %7s %6s  %s\n", r.name.c_str(),
                    r.peak_rss_kb > 0 ? fmt::format("{:.1f}", r.peak_rss_kb / 1024.0).c_str() : "-", r.exit.c_str(),
                    ms(r.p50_ms).c_str(), ms(r.p99_ms).c_str(), r.exact.c_str(), r.pass ? "PASS" : "FAIL",
                    reason.c_str());
    }
    std::printf("\ndetails:\n");
    for (const auto& r : results) {
        std::printf("  %s (%.1f s)\n", r.name.c_str(), r.seconds);
        for (const auto& f : r.failures) std::printf("    FAIL: %s\n", f.c_str());
        for (const auto& n : r.notes) std::printf("    note: %s\n", n.c_str());
    }
    std::fflush(stdout);
}

int usage() {
    std::fprintf(stderr, "usage: elm_abuse ELMSIM_BINARY WORK_DIR [--report] [--list] [CASE...]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);  // a server that vanishes is a result, not the suite's death
    std::vector<std::string> positional;
    std::set<std::string> wanted;
    bool report = false, list = false;
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        if (a == "--report")
            report = true;
        else if (a == "--list")
            list = true;
        else if (a.rfind("--", 0) == 0)
            return usage();
        else if (positional.size() < 2)
            positional.push_back(a);
        else
            wanted.insert(a);
    }
    if (list) {
        for (const auto& c : all_cases(Setup{})) std::printf("%-24s %s\n", c.name.c_str(), c.what.c_str());
        std::printf("%-24s %s\n", "bad_flags", "serve --max-line 2^64-1 / --token-file /dev/zero: exit 2, one line");
        return 0;
    }
    if (positional.size() != 2) return usage();
    Setup setup;
    try {
        setup = make_setup(positional[0], positional[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "elm_abuse: set-up failed: %s\n", e.what());
        return 2;
    }
    std::vector<CaseResult> results;
    for (const auto& spec : all_cases(setup)) {
        if (spec.name != "idle" && !wanted.empty() && !wanted.count(spec.name)) continue;
        std::fprintf(stderr, "elm_abuse: %s ...\n", spec.name.c_str());
        results.push_back(run_case(spec, setup));
    }
    if (wanted.empty() || wanted.count("bad_flags")) {
        std::fprintf(stderr, "elm_abuse: bad_flags ...\n");
        results.push_back(run_bad_flags(setup));
    }
    print_table(results, setup);
    const bool failed = std::any_of(results.begin(), results.end(), [](const CaseResult& r) { return !r.pass; });
    if (report) return 0;
    return failed ? 1 : 0;
}
