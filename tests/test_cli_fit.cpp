// `elmsim fit` end to end on sweep directories with known answers: a sweep plan whose results were
// generated from the information model (known parameters, small noise) is fitted back through the
// command line, fit.json holds every section of science.md section 4, and the refusals — not a
// sweep, no finished runs, too few budgets, a non-finite metric — are one-line errors with exit 2.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/sweep_config.hpp"
#include "elmsim/sim/science/information_model.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"
#include "tests/cli_runner.hpp"
#include "tests/temp_dir.hpp"
#include "tests/system_python.hpp"

using namespace elm;
using nlohmann::json;
using test::run_elmsim;
using test::write_text;

namespace {

const science::InformationModel kTruth{0.05, 0.7, 0.4, 150.0, 25.0, 0.3, std::log(19.0)};

// A sweep directory as `elmsim sweep` leaves it, with every run's test_loss from kTruth (x (1 + noise)).
void make_synthetic_sweep(const test::TempDir& t, const std::string& budgets, double noise, bool nan_first = false) {
    write_text(t.dir / "base.toml", R"([task]
kind = "shd-adding"
[model]
N = 32
d_m = 4
n_b = 4
k_c = 8
)");
    write_text(t.dir / "sweep.toml", fmt::format(R"([sweep]
base = "base.toml"
budgets = {}
axes = ["N", "k_e", "k_c"]
points = 6
seeds = [1, 2]
steps = 100
)", budgets));
    const auto plan = science::make_sweep_plan(io::load_sweep_config(t.file("sweep.toml")));
    const auto dir = t.dir / "sweep";
    std::filesystem::create_directories(dir);
    write_text(dir / "sweep.json", science::plan_to_json(plan).dump(1));
    std::mt19937 rng(17);
    std::normal_distribution<double> eps(0.0, noise);
    std::ofstream out(dir / "results.jsonl");
    for (const auto& run : plan.runs) {
        const double L = kTruth.loss(run.model.N, static_cast<double>(run.count.k_e), static_cast<double>(run.count.k_c));
        json row = {{"id", run.id}, {"seed", run.seed}, {"N", run.model.N}, {"k_e", run.count.k_e}, {"k_c", run.count.k_c},
                    {"P", run.count.P}, {"d_m", run.model.d_m}, {"d_h", run.model.d_h}, {"n_b", run.model.n_b},
                    {"l", run.model.l}, {"budget", run.groups[0].budget}, {"axis", run.groups[0].axis}, {"groups", science::groups_to_json(run.groups)},
                    {"steps", 100}, {"train_seconds", 1.0}, {"test_loss", L * (1.0 + eps(rng))}, {"test_accuracy", 0.5}};
        if (nan_first && &run == &plan.runs.front()) row["test_loss"] = nullptr;
        out << row.dump() << "\n";
    }
}

json read_json(const std::filesystem::path& p) {
    std::ifstream in(p);
    return json::parse(in);
}

}  // namespace

TEST_CASE("fit: a sweep generated from the information model is fitted back through the CLI", "[sweep][science]") {
    test::TempDir t("fit_synthetic");
    make_synthetic_sweep(t, "[1e3, 4e3, 1.6e4, 6.4e4, 2.56e5]", 0.003);
    const auto r = run_elmsim(fmt::format("fit --sweep {} --bootstrap 200", t.file("sweep")));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("scaling law") && Catch::Contains("information") && Catch::Contains("AIC"));
    const json f = read_json(t.dir / "sweep" / "fit.json");
    CHECK(f["kind"] == "elmsim-fit");
    CHECK(f["spec_version"] == science::kScienceSpecVersion);
    for (const char* k : {"pareto", "scaling_law", "allocation_exponents", "information_model", "power_law",
                          "aic_information_minus_power_law", "model_optima", "model_front", "scaling_front", "groups"})
        CHECK(f.contains(k));
    CHECK(f["pareto"].size() == 5);
    CHECK(f["model_optima"].size() == 5);
    CHECK(f["groups"].size() == 15);
    const auto& p = f["information_model"]["parameters"];
    const auto near = [&](const char* k, double want, double rel) {
        INFO(k << " = " << p[k]["value"].get<double>() << " want " << want);
        CHECK(std::abs(p[k]["value"].get<double>() - want) <= rel * want);
    };
    // Budget-matched points only (no factorial design), 0.3 % noise.
    near("alpha", kTruth.alpha, 0.1);
    near("beta", kTruth.beta, 0.15);
    near("N0", kTruth.N0, 0.25);
    near("kappa", kTruth.kappa, 0.3);
    near("s0", kTruth.s0, 0.5);
    near("L_inf", kTruth.L_inf, 0.1);
    CHECK(f["information_model"]["quality"]["r2"].get<double>() > 0.99);
    CHECK(f["aic_information_minus_power_law"].get<double>() < 0.0);
    // The model's optimum at each budget is a configuration of that budget, at least as good (in the
    // model's own loss) as the sweep's best run: it searches every feasible configuration, the sweep
    // only its scans along one axis.
    for (const auto& o : f["model_optima"]) {
        CHECK(o["model_optimum"]["L_model"].get<double>() <= o["best_run"]["L_model"].get<double>() + 1e-9);
        CHECK(std::abs(o["model_optimum"]["P"].get<double>() / o["budget"].get<double>() - 1.0) <= 0.05 + 1e-12);
    }
    CHECK(f["scaling_law"]["gamma"]["value"].get<double>() > 0.0);
    CHECK(f["scaling_law"]["gamma"]["lo"].get<double>() <= f["scaling_law"]["gamma"]["value"].get<double>());
    CHECK(f["allocation_exponents"]["a_N"]["value"].get<double>() > 0.0);
}

TEST_CASE("sweep pictures: drawn from fit.json as PNG and SVG, bad input is one line and exit 2", "[sweep][science]") {
    elm::test::require_system_python("matplotlib", "python3-matplotlib");
    test::TempDir t("fit_pictures");
    make_synthetic_sweep(t, "[1e3, 1e4, 1e5]", 0.003);
    REQUIRE(run_elmsim(fmt::format("fit --sweep {} --bootstrap 50", t.file("sweep"))).code == 0);
    const std::string tool = std::string("/usr/bin/python3 ") + ELM_SOURCE_DIR + "/tools/elmsim_plot_science.py";
    const auto r = test::run_command(fmt::format("{} all --sweep {}", tool, t.file("sweep")));
    INFO(r.output);
    REQUIRE(r.code == 0);
    for (const char* name : {"pareto", "tradeoff"})
        for (const char* ext : {"png", "svg"}) {
            const auto p = t.dir / "sweep" / "plots" / fmt::format("{}.{}", name, ext);
            INFO(p.string());
            CHECK(std::filesystem::file_size(p) > 10000);
        }
    CHECK(!std::filesystem::exists(t.dir / "sweep" / "plots" / "scans.png"));  // this sweep has no scans
    const auto scans = test::run_command(fmt::format("{} scans --sweep {} --out {}", tool, t.file("sweep"), t.file("s.png")));
    CHECK(scans.code == 2);
    CHECK(std::count(scans.output.begin(), scans.output.end(), '\n') == 1);
    const auto missing = test::run_command(fmt::format("{} pareto --sweep {} --out {}", tool, t.file("nowhere"), t.file("p.png")));
    CHECK(missing.code == 2);
    CHECK_THAT(missing.output, Catch::StartsWith("elmsim_plot_science: error:"));
}

TEST_CASE("fit: refusals are one-line errors with exit 2", "[sweep][science]") {
    test::TempDir t("fit_refusals");
    const auto refuse = [&](const std::string& dir, const std::string& what) {
        const auto r = run_elmsim(fmt::format("fit --sweep {}", dir));
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains(what));
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    };
    refuse(t.file("missing"), "not a directory");
    refuse(t.dir.string(), "not a sweep directory");
    {
        test::TempDir s("fit_two_budgets");
        make_synthetic_sweep(s, "[1e3, 1e4]", 0.003);
        refuse(s.file("sweep"), "3 budgets or more");
    }
    {
        test::TempDir s("fit_nan");
        make_synthetic_sweep(s, "[1e3, 1e4, 1e5]", 0.003, /*nan_first=*/true);
        refuse(s.file("sweep"), "test_loss is not finite");
        std::filesystem::remove(s.dir / "sweep" / "results.jsonl");
        refuse(s.file("sweep"), "no finished runs yet");
        const auto bad = run_elmsim(fmt::format("fit --sweep {} --bootstrap -1", s.file("sweep")));
        CHECK(bad.code == 2);
    }
}

// A full disk (tests/test_full_disk.cpp has the other writers): fit.json is written
// atomically, so a write that fails leaves one line, exit 2, and no fit.json or temporary file.
TEST_CASE("fit: a full disk is one line, and no fit.json is left", "[sweep][science][reliability]") {
    test::TempDir t("fit_full_disk");
    make_synthetic_sweep(t, "[1e3, 4e3, 1.6e4, 6.4e4, 2.56e5]", 0.003);
    const auto r = test::run_command(fmt::format("bash -c 'trap \"\" XFSZ; ulimit -f 1; exec {} fit --sweep {} --bootstrap 20'",
                                                 ELMSIM_BINARY, t.file("sweep")));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find("fit.json: cannot write (disk full?)") != std::string::npos);
    CHECK(!std::filesystem::exists(t.dir / "sweep" / "fit.json"));
    for (const auto& e : std::filesystem::directory_iterator(t.dir / "sweep"))
        CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
    REQUIRE(run_elmsim(fmt::format("fit --sweep {} --bootstrap 20", t.file("sweep"))).code == 0);
    CHECK(std::filesystem::exists(t.dir / "sweep" / "fit.json"));
}
