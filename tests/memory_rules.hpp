// Shared by the tests of the memory rules of spec section 2 (tests/test_memory_gain.cpp,
// tests/test_memory_input.cpp): a network with memory units faster than its clock step, a /model
// attribute rewritten as an older or a damaged file would have it, and simulate's score line.
#pragma once

#include <catch2/catch.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/models/event_schedule.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_training.hpp"

namespace elm::test {

// Analog neurons with fast memory units (0.5..4 ms against a 2 ms clock), the other rules of new models.
inline models::ModelConfig fast_memory_units(std::uint64_t seed) {
    models::ModelConfig cfg;
    cfg.N = 12;
    cfg.C = 8;
    cfg.n_out = 3;
    cfg.d_m = 4;
    cfg.d_h = 8;
    cfg.n_b = 2;
    cfg.k_c = 6;
    cfg.dt_ms = 2.0;
    cfg.tau_init_min_ms = 0.5;
    cfg.tau_init_max_ms = 4.0;
    cfg.seed = seed;
    return cfg;
}

// The state of `net` after `duration` ms of updates without input events, from rest: ticks on
// `resolution`'s grid at most max_dt apart.
struct StateAfter {
    std::vector<float> m, b, y;  // [N][d_m], [N][n_b], [N]
};
inline StateAfter run_without_input(const models::Network<float>& net, double duration, double resolution,
                                    double max_dt) {
    const auto backend = backend_for(net);
    sim::Simulator sim(*backend);
    const std::vector<double> none;
    const std::vector<std::int32_t> no_channels;
    sim.run_event(models::make_event_schedule(none, no_channels, duration, resolution, max_dt), nullptr);
    const auto v = sim.view();
    const std::size_t N = static_cast<std::size_t>(net.cfg.N);
    return {std::vector<float>(v.m, v.m + N * net.cfg.d_m), std::vector<float>(v.b, v.b + N * net.cfg.n_b),
            std::vector<float>(v.y, v.y + N)};
}

// Replace the string attribute `name` of /model in a checkpoint by `value`; null removes it (a file
// written before the attribute existed).
inline void set_model_attribute(const std::string& path, const char* name, const char* value) {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    REQUIRE(H5Adelete_by_name(f, "/model", name, H5P_DEFAULT) >= 0);
    if (value) {
        hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, std::strlen(value));
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(g, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        REQUIRE(H5Awrite(a, type, value) >= 0);
        H5Aclose(a);
        H5Sclose(space);
        H5Tclose(type);
        H5Gclose(g);
    }
    H5Fclose(f);
}

// The "accuracy A, loss L" part of `simulate`'s summary for dir/m.h5 on dir/test.h5 with `flags`.
inline std::string simulate_scores(const std::filesystem::path& dir, const std::string& flags) {
    const auto r = run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --trace {0}/t.h5 "
                                          "--threads 1 {1}",
                                          dir.string(), flags));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const auto at = r.output.find("accuracy ");
    REQUIRE(at != std::string::npos);
    return r.output.substr(at, r.output.find('\n', at) - at);
}

// The same for `resolutions` at one event resolution (`--ms 5 --no-clock`), read from its JSON table.
inline std::string resolutions_scores(const std::filesystem::path& dir, const std::string& flags) {
    const auto r = run_elmsim(fmt::format("resolutions --model {0}/m.h5 --data {0}/test.h5 --ms 5 --no-clock "
                                          "--json {0}/res.json --threads 1 {1}",
                                          dir.string(), flags));
    INFO(r.output);
    REQUIRE(r.code == 0);
    std::ifstream in(dir / "res.json");
    const auto j = nlohmann::json::parse(in);
    REQUIRE(j["rows"].size() == 1);
    return fmt::format("accuracy {:.4f}, loss {:.4f}", j["rows"][0]["accuracy"].get<double>(),
                       j["rows"][0]["loss"].get<double>());
}

// `simulate` and `resolutions` with `flag value` refuse it in one line naming both, exit 2, no trace.
inline void check_flag_refused(const std::filesystem::path& dir, const std::string& flag, const std::string& value) {
    const std::string d = dir.string();
    for (const std::string& cmd : {"simulate --trace " + d + "/u.h5", std::string("resolutions")}) {
        const auto bad = run_elmsim(fmt::format("{} --model {}/m.h5 --data {}/test.h5 {} {}", cmd, d, d, flag, value));
        INFO(bad.output);
        CHECK(bad.code == 2);
        CHECK(std::count(bad.output.begin(), bad.output.end(), '\n') == 1);
        CHECK_THAT(bad.output,
                   Catch::StartsWith("elmsim: error: ") && Catch::Contains(flag) && Catch::Contains(value));
    }
    CHECK_FALSE(std::filesystem::exists(dir / "u.h5"));
}

}  // namespace elm::test
