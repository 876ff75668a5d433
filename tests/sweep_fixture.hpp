// A tiny sweep for the sweep tests (one process and MPI alike): its base config on generated data,
// the sweep file, and its results without what depends on the clock or the machine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_runner.hpp"

namespace elm::test {

using nlohmann::json;

// A tiny SHD-Adding base (T = 40 steps, milliseconds per run) on generated data in `dir`.
inline void write_base(const std::filesystem::path& dir, std::int64_t max_steps = 6) {
    if (!std::filesystem::exists(dir / "train.h5")) {
        REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/train.h5 --samples 24 --seed 1", dir.string())).code == 0);
        REQUIRE(run_elmsim(fmt::format("gen-shd --out {}/test.h5 --samples 12 --seed 2", dir.string())).code == 0);
    }
    write_text(dir / "base.toml", fmt::format(R"([task]
kind = "shd-adding"
train = "train.h5"
test = "test.h5"
dt_ms = 50.0
adding_test_pairs = 8

[model]
N = 8
d_m = 2
n_b = 2
k_c = 4

[train]
optimizer = "adamax"
lr = 5e-3
batch_size = 2
max_steps = {}
log_every = 1
)", max_steps));
}

inline const char* kTinySweep = R"([sweep]
base = "base.toml"
budgets = [600, 1200, 2400]
tolerance = 0.1
axes = ["N", "k_e"]
points = 3
seeds = [1, 2]
steps = 6
workers = 2
threads = 1

[[sweep.scan]]
axis = "N"
values = [4, 8]
fixed = { d_m = 2, k_c = 4 }
)";

inline std::vector<json> read_lines(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::vector<json> out;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

// results.jsonl without what depends on the clock or the machine.
inline std::vector<json> stable_results(const std::filesystem::path& dir) {
    auto rows = read_lines(dir / "results.jsonl");
    for (auto& r : rows)
        for (const char* k : {"train_seconds", "setup_seconds", "eval_seconds", "resumed", "host"}) r.erase(k);
    return rows;
}

}  // namespace elm::test
