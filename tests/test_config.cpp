// Tests of the strict TOML experiment-config reader (io/experiment_config.cpp) and of every shipped
// configs/*.toml: the files parse, defaults follow the spec (d_h = 2 d_m, byte-task dt and tau_init),
// and unknown keys, wrong types and bad values are errors that name the key.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/error.hpp"

using elm::InputError;
using elm::io::ExperimentConfig;
using elm::io::parse_experiment_config;

namespace {

const std::string kShdTask = "[task]\nkind = \"shd-adding\"\ntrain = \"a.h5\"\ntest = \"b.h5\"\n";
const std::string kBytesTask = "[task]\nkind = \"bytes\"\nbytes = \"enwik8\"\n";

ExperimentConfig parse(const std::string& text) { return parse_experiment_config(text, "t.toml"); }

// The error message of parsing `text`, or "" when it parses.
std::string error_of(const std::string& text) {
    try {
        parse(text);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("every configs/*.toml parses and is a valid model", "[config]") {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(ELM_SOURCE_DIR) + "/configs")) {
        if (entry.path().extension() != ".toml") continue;
        // Sweep files (sweep_*.toml) are checked with the sweeps (tests/test_sweep.cpp).
        if (entry.path().filename().string().rfind("sweep_", 0) == 0) continue;
        INFO(entry.path().string());
        ExperimentConfig cfg;
        REQUIRE_NOTHROW(cfg = elm::io::load_experiment_config(entry.path().string()));
        CHECK_NOTHROW(cfg.model.validate());
        CHECK(cfg.origin == entry.path().string());
        CHECK_FALSE(cfg.toml_text.empty());
        ++count;
    }
    CHECK(count >= 5);
}

TEST_CASE("shipped configs carry the paper defaults", "[config]") {
    const std::string dir = std::string(ELM_SOURCE_DIR) + "/configs/";
    const auto adding = elm::io::load_experiment_config(dir + "shd_adding.toml");
    CHECK(adding.task.kind == elm::io::TaskKind::shd_adding);
    CHECK(adding.model.C == 700);
    CHECK(adding.model.n_out == 19);
    CHECK(adding.model.dt_ms == 2.0);
    CHECK(adding.model.tau_init_max_ms == 150.0);
    CHECK(adding.train.optimizer == elm::models::OptimizerKind::adamax);
    CHECK(adding.train.lr == 5e-3);
    CHECK(adding.train.batch_size == 8);
    CHECK(adding.train.dropout == 0.5);
    // Data paths are relative to the config file, so they resolve to <repo>/data from any CWD.
    CHECK(adding.task.train_path == std::filesystem::path(dir + "../data/shd_train.h5").lexically_normal().string());

    const auto shd = elm::io::load_experiment_config(dir + "shd.toml");
    CHECK(shd.model.n_out == 20);
    // The schedule-robust recipe is the shd.toml model, trained on every time base from 0.25 to 2 ms.
    const auto robust = elm::io::load_experiment_config(dir + "shd_any_resolution.toml");
    CHECK(robust.model.N == shd.model.N);
    CHECK(robust.model.d_m == shd.model.d_m);
    CHECK(robust.model.k_c == shd.model.k_c);
    CHECK(robust.model.dt_ms == 2.0);
    CHECK(robust.train.time == elm::models::TimeBase::any);
    CHECK(robust.train.resolutions_ms == std::vector<double>{0.25, 0.5, 1.0, 2.0});
    CHECK(robust.train.clock_steps * 5 == robust.train.max_steps * 4);  // the split measured in docs/science.md
    CHECK(robust.train.resolution_draw == elm::models::ResolutionDraw::batch);
    CHECK(robust.model.memory_gain == elm::models::MemoryGain::rate);
    CHECK(robust.model.memory_input == elm::models::MemoryInput::clock_decay);
    CHECK(elm::io::training_grids(robust).size() == 4);

    const auto text = elm::io::load_experiment_config(dir + "enwik8.toml");
    CHECK(text.task.kind == elm::io::TaskKind::bytes);
    CHECK(text.model.C == 256);
    CHECK(text.model.n_out == 256);
    CHECK(text.train.loss == elm::models::LossMode::next_byte);
    CHECK(text.train.clip_norm == 1.0);
    CHECK(text.train.schedule == elm::models::Schedule::cosine);
}

TEST_CASE("defaults: d_h = 2 d_m, task sets C and n_out", "[config]") {
    auto cfg = parse(kShdTask + "[model]\nd_m = 10\n");
    CHECK(cfg.model.d_h == 20);
    CHECK(cfg.model.C == 700);
    CHECK(cfg.model.n_out == 19);
    CHECK(cfg.train.loss == elm::models::LossMode::last);
    cfg = parse(kShdTask + "[model]\nd_m = 10\nd_h = 7\n");
    CHECK(cfg.model.d_h == 7);
    cfg = parse("[task]\nkind = \"shd\"\ntrain = \"a.h5\"\ntest = \"b.h5\"\n");
    CHECK(cfg.model.n_out == 20);
    // Floats given as integers are fine; both dt keys work (one at a time).
    cfg = parse(kShdTask + "dt_ms = 4\n[train]\nlr = 1\n");
    CHECK(cfg.model.dt_ms == 4.0);
    CHECK(cfg.train.lr == 1.0);
    cfg = parse(kShdTask + "[model]\ndt_ms = 3.5\n");
    CHECK(cfg.model.dt_ms == 3.5);
}

TEST_CASE("bytes task defaults and loss", "[config]") {
    auto cfg = parse(kBytesTask);
    CHECK(cfg.model.C == 256);
    CHECK(cfg.model.n_out == 256);
    CHECK(cfg.model.dt_ms == 1.0);
    CHECK(cfg.model.tau_init_min_ms == 1.0);
    CHECK(cfg.model.tau_init_max_ms == 1000.0);
    CHECK(cfg.train.loss == elm::models::LossMode::next_byte);
    cfg = parse(kBytesTask + "split = [0.8, 0.1, 0.1]\n[model]\ntau_init_max_ms = 500.0\nC_e = 16\nk_c = 32\n");
    CHECK(cfg.model.tau_init_max_ms == 500.0);
    CHECK(cfg.task.split[0] == 0.8);
    CHECK(cfg.model.input_width() == 16);
    CHECK(error_of(kBytesTask + "[train]\nloss = \"last\"\n").find("train.loss") != std::string::npos);
    CHECK(error_of(kBytesTask + "[train]\nloss = \"mean_last_k\"\n").find("next_byte") != std::string::npos);
    CHECK(error_of(kShdTask + "[train]\nloss = \"next_byte\"\n").find("train.loss") != std::string::npos);
}

TEST_CASE("relative data paths resolve against base_dir", "[config]") {
    const auto cfg = parse_experiment_config(kShdTask + "valid = \"/abs/v.h5\"\n", "x.toml", "/some/dir");
    CHECK(cfg.task.train_path == "/some/dir/a.h5");
    CHECK(cfg.task.valid_path == "/abs/v.h5");
    const auto bytes = parse_experiment_config(kBytesTask, "x.toml", "cfg");
    CHECK(bytes.task.bytes_path == "cfg/enwik8");
}

TEST_CASE("unknown keys and tables are errors naming the key", "[config]") {
    CHECK(error_of(kShdTask + "[train]\nlrr = 0.1\n").find("t.toml: unknown key 'train.lrr'") == 0);
    CHECK(error_of(kShdTask + "[model]\nNN = 3\n").find("unknown key 'model.NN'") != std::string::npos);
    CHECK(error_of(kShdTask + "[optim]\nlr = 3\n").find("unknown key 'optim'") != std::string::npos);
    CHECK(error_of(kShdTask + "[train.sub]\nx = 1\n").find("unknown key 'train.sub'") != std::string::npos);
    CHECK(error_of("task = 3\n").find("task: expected a table") != std::string::npos);
    // Keys of the other task family are not silently ignored.
    CHECK(error_of(kShdTask + "window = 128\n").find("task.window") != std::string::npos);
    CHECK(error_of(kBytesTask + "train = \"x.h5\"\n").find("task.train") != std::string::npos);
}

TEST_CASE("wrong types are errors naming the key and the expected type", "[config]") {
    std::string e = error_of(kShdTask + "[model]\nN = 64.0\n");
    CHECK(e.find("model.N") != std::string::npos);
    CHECK(e.find("integer") != std::string::npos);
    CHECK(e.find("64.0") != std::string::npos);
    e = error_of(kShdTask + "[train]\nlr = \"fast\"\n");
    CHECK(e.find("train.lr") != std::string::npos);
    CHECK(e.find("a string") != std::string::npos);
    CHECK(error_of(kShdTask + "[model]\nlearn_tau_m = 1\n").find("model.learn_tau_m: expected a boolean") !=
          std::string::npos);
    CHECK(error_of(kShdTask + "[model]\nphi = 1\n").find("model.phi") != std::string::npos);
    CHECK(error_of("[task]\nkind = \"audio\"\n").find("task.kind") != std::string::npos);
    CHECK(error_of(kBytesTask + "split = [0.9, \"x\", 0.05]\n").find("task.split") != std::string::npos);
}

TEST_CASE("bad values are errors naming the key", "[config]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[train]\nlr = -1\n", "train.lr"},
        {"[train]\nbatch_size = 0\n", "train.batch_size"},
        {"[train]\ndropout = 1.0\n", "train.dropout"},
        {"[train]\ndropout = -0.1\n", "train.dropout"},
        {"[train]\nlr = nan\n", "train.lr"},
        {"[train]\nlr = 0.1\nlr_min = 0.5\n", "train.lr_min"},
        {"[train]\noptimizer = \"rmsprop\"\n", "train.optimizer"},
        {"[train]\nseed = -1\n", "train.seed"},
        {"[model]\nN = 0\n", "model.N"},
        {"[model]\nk_c = 30\nn_b = 4\n", "model.k_c"},
        {"[model]\nN = 4\nk_c = 32\n", "model.k_c"},  // 16 recurrent sources among 3 other neurons
        {"[model]\noutput_mode = \"binary\"\n", "model.output_mode"},
        {"[model]\nmemory_gain = \"lambda\"\n", "model.memory_gain"},
        {"[model]\nmemory_gain = 1\n", "model.memory_gain"},
        {"[model]\nmemory_input = \"step\"\n", "model.memory_input"},
        {"[model]\nmemory_input = true\n", "model.memory_input"},
        {"[model]\ninput_share = 1.5\n", "model.input_share"},
        {"[model]\ntau_max_ms = -3\n", "model.tau_max_ms"},
        {"[model]\nN = 99999999999\n", "model.N"},
        {"dt_ms = 0\n", "task.dt_ms"},
        {"dt_ms = 1.0\n[model]\ndt_ms = 1.0\n", "task.dt_ms"},
        {"duration_ms = -5\n", "task.duration_ms"},
        {"duration_ms = 1.2e89\n[train]\ntime = \"any\"\n", "task.duration_ms"},
        {"duration_ms = 1e300\n[train]\ntime = \"event\"\nresolution_ms = 1.0\nmax_dt_ms = 2.0\n", "task.duration_ms"},
    };
    for (const auto& [tail, key] : cases) {
        INFO(tail);
        const std::string e = error_of(kShdTask + tail);
        CHECK(e.rfind("t.toml: ", 0) == 0);
        CHECK(e.find(key) != std::string::npos);
    }
    CHECK(error_of(kBytesTask + "split = [0.9, 0.05, 0.1]\n").find("task.split") != std::string::npos);
    CHECK(error_of(kBytesTask + "window = 0\n").find("task.window") != std::string::npos);
    // Data paths are optional (info and budget need none): an empty path means "not given".
    CHECK(parse("[task]\nkind = \"shd\"\n").task.train_path.empty());
    CHECK(parse("[task]\nkind = \"bytes\"\n").task.bytes_path.empty());
    CHECK(error_of(kShdTask + "valid = \"\"\n").find("task.valid: expected a non-empty string") != std::string::npos);
}

TEST_CASE("syntax errors and missing files give file:line:column", "[config]") {
    const std::string e = error_of(kShdTask + "[train]\nlr = = 3\n");
    CHECK(e.rfind("t.toml:6:", 0) == 0);
    CHECK_THROWS_WITH(elm::io::load_experiment_config("/nonexistent/dir/x.toml"),
                      Catch::Contains("/nonexistent/dir/x.toml") && Catch::Contains("cannot open"));
}

TEST_CASE("absurd sizes fail before anything is allocated, without overflowing", "[config][errors]") {
    // N = 1e9 reached the allocator ("out of memory") before; products of large sizes could overflow.
    for (const std::string model : {"N = 1000000000\n", "N = 2000000\nd_m = 2000\n", "N = 100\nd_m = 2000000000\n",
                                    "N = 100000\nd_h = 1000000\nl = 2000\n"}) {
        INFO(model);
        CHECK_THROWS_WITH(parse(kShdTask + "[model]\n" + model), Catch::Contains("parameters, more than"));
    }
    CHECK_NOTHROW(parse(kShdTask + "[model]\nN = 2000\n"));  // large but sane
}
