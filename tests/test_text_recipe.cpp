// The shipped text recipe (configs/enwik8.toml, docs/science.md "A text recipe that learns"): it
// parses into the model and learning settings the docs describe, and its tiny form — the same file
// with only the sizes and the data shrunk, every learning setting kept — trains through the command
// line and learns a repetitive text.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/param_count.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;

namespace {
const std::string kRecipe = std::string(ELM_SOURCE_DIR) + "/configs/enwik8.toml";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The recipe's text with the lines that set `key` (as "key = ...") replaced by "key = value".
std::string with_values(const std::string& text, const std::vector<std::pair<std::string, std::string>>& values) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
        for (const auto& [key, value] : values)
            if (line.rfind(key + " =", 0) == 0) line = key + " = " + value;
        out += line + "\n";
    }
    return out;
}
}  // namespace

TEST_CASE("the text recipe: an ELM Network of ~410K parameters with the settings docs/science.md chose",
          "[config]") {
    const auto cfg = io::load_experiment_config(kRecipe);
    CHECK(cfg.task.kind == io::TaskKind::bytes);
    CHECK(cfg.task.window == 128);
    CHECK(cfg.model.N == 256);
    CHECK(cfg.model.d_m == 16);
    CHECK(cfg.model.k_c == 48);
    CHECK(cfg.model.C_e == 64);
    CHECK(cfg.model.tau_init_max_ms == 100.0);
    CHECK(cfg.train.lr == 8e-3);
    CHECK(cfg.train.warmup_steps == 20);
    CHECK(cfg.train.batch_size == 32);
    CHECK(models::count_params(cfg.model).P == 410112);
}

TEST_CASE("the text recipe trains in its tiny form and learns a repetitive text", "[config][cli]") {
    const test::TempDir tmp("text_recipe");
    std::string text;
    const char* words[] = {"the ", "network ", "remembers ", "each ", "byte ", "of ", "a ", "stream. "};
    for (int k = 0; text.size() < 120000; ++k) text += words[k % 8], text += (k % 13 == 0 ? "\n" : "");
    test::write_text(tmp.dir / "text.txt", text);
    const std::string tiny = with_values(read_file(kRecipe), {{"bytes", "\"text.txt\""},
                                                               {"eval_windows", "2"},
                                                               {"N", "16"},
                                                               {"d_m", "4"},
                                                               {"k_c", "8"},
                                                               {"batch_size", "4"},
                                                               {"max_steps", "40"},
                                                               {"eval_every", "0"},
                                                               {"log_every", "1"},
                                                               {"checkpoint_every", "0"},
                                                               {"out_dir", fmt::format("\"{}\"", tmp.file("run"))}});
    test::write_text(tmp.dir / "tiny.toml", tiny);
    const auto cfg = io::load_experiment_config(tmp.file("tiny.toml"));
    // Only the sizes changed: the learning settings are the recipe's.
    CHECK(cfg.task.window == 128);
    CHECK(cfg.model.C_e == 64);
    CHECK(cfg.train.lr == 8e-3);
    CHECK(cfg.train.warmup_steps == 20);
    const auto r = test::run_elmsim(fmt::format("train --config {} --quiet --threads 2", tmp.file("tiny.toml")));
    test::require_ok(r);
    std::ifstream metrics(tmp.file("run/model.metrics.jsonl"));
    std::vector<double> bpc;
    for (std::string line; std::getline(metrics, line);) {
        const auto j = nlohmann::json::parse(line);
        if (j["kind"] == "train") bpc.push_back(j["bpc"].get<double>());
    }
    REQUIRE(bpc.size() == 40);
    INFO("training bpc at step 1: " << bpc.front() << ", at step 40: " << bpc.back());
    CHECK(bpc.front() > 7.0);        // about log2(256): an untrained byte model
    CHECK(bpc.back() < bpc.front() - 3.0);  // eight words in a fixed order: learned within 40 steps
}
