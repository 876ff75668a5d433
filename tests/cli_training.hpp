// What the command-line training tests share: a small SHD-Adding experiment on generated data, a
// small byte model, the check that a command succeeded, and the bit-for-bit comparison of two
// checkpoints.
#pragma once

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "tests/cli_runner.hpp"

namespace elm::test {

inline std::string spike_config(const std::filesystem::path& dir, double dropout, const std::string& optimizer = "adamax") {
    return fmt::format(R"([task]
kind = "shd-adding"
train = "{0}/train.h5"
test = "{0}/test.h5"
dt_ms = 50.0
adding_test_pairs = 8

[model]
N = 10
d_m = 4
n_b = 2
k_c = 8
seed = 3

[train]
optimizer = "{2}"
lr = 1e-2
batch_size = 3
dropout = {1}
max_steps = 100
log_every = 1
seed = 5
)",
                       dir.string(), dropout, optimizer);
}

// A small byte model on DIR/text.txt (windows of 12 bytes, an embedding of 4).
inline std::string bytes_config(const std::filesystem::path& dir) {
    return fmt::format(R"([task]
kind = "bytes"
bytes = "{0}/text.txt"
window = 12

[model]
N = 10
d_m = 4
n_b = 2
k_c = 8
C_e = 4
seed = 3
)",
                       dir.string());
}

inline void require_ok(const CliResult& r) {
    INFO(r.output);
    REQUIRE(r.code == 0);
}

inline void check_same_params(const std::string& a, const std::string& b) {
    const auto ca = io::load_checkpoint(a);
    const auto cb = io::load_checkpoint(b);
    REQUIRE(ca.net.params.size() == cb.net.params.size());
    CHECK(ca.net.params == cb.net.params);
    REQUIRE(ca.train);
    REQUIRE(cb.train);
    CHECK(ca.train->step == cb.train->step);
    CHECK(ca.train->moment1 == cb.train->moment1);
    CHECK(ca.train->moment2 == cb.train->moment2);
}

inline std::filesystem::path spike_dir(const std::string& name) {
    const auto dir = fresh_dir(name);
    require_ok(run_elmsim(fmt::format("gen-shd --out {}/train.h5 --samples 60 --seed 1", dir.string())));
    require_ok(run_elmsim(fmt::format("gen-shd --out {}/test.h5 --samples 20 --seed 2", dir.string())));
    return dir;
}

}  // namespace elm::test
