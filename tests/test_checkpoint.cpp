// Tests of model checkpoints (io/checkpoint.cpp, spec files-and-cli.md "Model checkpoint"):
// bit-exact round trips of parameters, connectivity, attributes and TrainState; the on-disk layout
// checked through the HDF5 C API (what h5py and other tools see); corrupted files rejected with the
// dataset path in the message; a failed save never damages an existing file.
#include <catch2/catch.hpp>

#include "tests/temp_dir.hpp"

#include <fmt/format.h>

#include <hdf5.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"

namespace fs = std::filesystem;
using elm::InputError;
using elm::io::Checkpoint;
using elm::models::TrainState;
using elm::models::ModelConfig;
using elm::models::Network;

namespace {

using elm::test::TempDir;

ModelConfig tiny_config() {
    ModelConfig c;
    c.C = 700;
    c.n_out = 19;
    c.N = 8;
    c.d_m = 4;
    c.d_h = 8;
    c.n_b = 2;
    c.k_c = 8;
    c.dt_ms = 50.0;
    c.seed = 7;
    return c;
}

void check_same_config(const ModelConfig& a, const ModelConfig& b) {
    CHECK(a.N == b.N);
    CHECK(a.C == b.C);
    CHECK(a.n_out == b.n_out);
    CHECK(a.d_m == b.d_m);
    CHECK(a.d_h == b.d_h);
    CHECK(a.n_b == b.n_b);
    CHECK(a.l == b.l);
    CHECK(a.k_c == b.k_c);
    CHECK(a.input_share == b.input_share);
    CHECK(a.C_e == b.C_e);
    CHECK(a.output_mode == b.output_mode);
    CHECK(a.phi == b.phi);
    CHECK(a.dt_ms == b.dt_ms);
    CHECK(a.lambda == b.lambda);
    CHECK(a.tau_b_ms == b.tau_b_ms);
    CHECK(a.tau_min_ms == b.tau_min_ms);
    CHECK(a.tau_max_ms == b.tau_max_ms);
    CHECK(a.tau_init_min_ms == b.tau_init_min_ms);
    CHECK(a.tau_init_max_ms == b.tau_init_max_ms);
    CHECK(a.theta == b.theta);
    CHECK(a.beta == b.beta);
    CHECK(a.tau_v_ms == b.tau_v_ms);
    CHECK(a.learn_tau_m == b.learn_tau_m);
    CHECK(a.self_synapse == b.self_synapse);
    CHECK(a.seed == b.seed);
}

void check_bit_equal(const Network<float>& a, const Network<float>& b) {
    check_same_config(a.cfg, b.cfg);
    CHECK(a.src == b.src);
    REQUIRE(a.params.size() == b.params.size());
    CHECK(std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)) == 0);
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string load_error(const std::string& path) {
    try {
        elm::io::load_checkpoint(path);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

// Apply `edit` to a copy of `src` opened read-write with the raw HDF5 API.
std::string corrupted_copy(const std::string& src, const std::string& dst, const std::function<void(hid_t)>& edit) {
    fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
    const hid_t f = H5Fopen(dst.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    edit(f);
    REQUIRE(H5Fclose(f) >= 0);
    return dst;
}

std::vector<hsize_t> raw_shape(hid_t f, const char* path) {
    const hid_t ds = H5Dopen2(f, path, H5P_DEFAULT);
    REQUIRE(ds >= 0);
    const hid_t space = H5Dget_space(ds);
    std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    H5Sclose(space);
    H5Dclose(ds);
    return dims;
}

}  // namespace

TEST_CASE("checkpoint round trip is bit-exact for several structures", "[io][checkpoint]") {
    TempDir dir("ckpt_roundtrip");
    std::vector<ModelConfig> configs;
    configs.push_back(tiny_config());
    ModelConfig deep = tiny_config();
    deep.l = 3;
    deep.phi = elm::models::Phi::silu;
    deep.output_mode = elm::models::OutputMode::spike;
    deep.theta = 0.25;
    deep.learn_tau_m = false;
    deep.input_share = 0.3;
    deep.seed = std::numeric_limits<std::uint64_t>::max() - 5;  // above 2^63: stored as int64 bits
    configs.push_back(deep);
    ModelConfig bytes = tiny_config();
    bytes.C = 256;
    bytes.n_out = 256;
    bytes.C_e = 6;
    bytes.tau_init_max_ms = 1000.0;
    configs.push_back(bytes);
    ModelConfig lif = tiny_config();
    lif.output_mode = elm::models::OutputMode::lif;
    lif.tau_v_ms = 7.5;
    configs.push_back(lif);

    for (std::size_t k = 0; k < configs.size(); ++k) {
        INFO("config " << k);
        const auto net = elm::models::make_network<float>(configs[k]);
        const std::string path = dir.file(fmt::format("m{}.h5", k));
        elm::io::save_checkpoint(path, net, "[model]\nN = 8\n", nullptr, "elmsim test");
        const Checkpoint ck = elm::io::load_checkpoint(path);
        check_bit_equal(net, ck.net);
        CHECK(ck.config_toml == "[model]\nN = 8\n");
        CHECK_FALSE(ck.train.has_value());
        CHECK_FALSE(fs::exists(path + ".tmp"));
    }
}

TEST_CASE("checkpoint TrainState round trip", "[io][checkpoint]") {
    TempDir dir("ckpt_train");
    const auto net = elm::models::make_network<float>(tiny_config());
    TrainState t;
    t.step = 1234;
    t.epoch = 5;
    t.best_metric = 0.8125;
    t.optimizer = "adamax";
    t.optimizer_t = 1234;
    t.moment1.resize(net.params.size());
    t.moment2.resize(net.params.size());
    for (std::size_t k = 0; k < net.params.size(); ++k) {
        t.moment1[k] = 0.001f * static_cast<float>(k) - 0.3f;
        t.moment2[k] = 1.0f / (1.0f + static_cast<float>(k));
    }
    elm::Rng rng(99, 3);
    rng.next();
    t.rng = rng.state();
    t.int_arrays = {{"cursor", {3, 1, 4, 1, 5}}, {"order", {}}};
    t.float_arrays = {{"carried_m", {0.5f, -2.25f, 1e-30f}}};
    const std::string path = dir.file("t.h5");
    elm::io::save_checkpoint(path, net, "x = 1\n", &t, "elmsim test");

    const Checkpoint ck = elm::io::load_checkpoint(path);
    check_bit_equal(net, ck.net);
    REQUIRE(ck.train.has_value());
    const TrainState& r = *ck.train;
    CHECK(r.step == t.step);
    CHECK(r.epoch == t.epoch);
    CHECK(r.best_metric == t.best_metric);
    CHECK(r.optimizer == t.optimizer);
    CHECK(r.optimizer_t == t.optimizer_t);
    CHECK(r.moment1 == t.moment1);
    CHECK(r.moment2 == t.moment2);
    CHECK(r.rng == t.rng);
    // Arrays come back in name order.
    const std::map<std::string, std::vector<std::int64_t>> ints(r.int_arrays.begin(), r.int_arrays.end());
    CHECK(ints == std::map<std::string, std::vector<std::int64_t>>(t.int_arrays.begin(), t.int_arrays.end()));
    REQUIRE(r.float_arrays.size() == 1);
    CHECK(r.float_arrays[0] == t.float_arrays[0]);

    // SGD: no moments stored, none loaded.
    TrainState sgd;
    sgd.optimizer = "sgd";
    sgd.rng = t.rng;
    elm::io::save_checkpoint(path, net, "x = 1\n", &sgd, "elmsim test");
    const Checkpoint ck2 = elm::io::load_checkpoint(path);
    REQUIRE(ck2.train.has_value());
    CHECK(ck2.train->moment1.empty());
    CHECK(ck2.train->moment2.empty());

    TrainState bad = sgd;
    bad.optimizer = "rmsprop";
    CHECK_THROWS_WITH(elm::io::save_checkpoint(path, net, "", &bad, "t"), Catch::Contains("optimizer"));
    bad = sgd;
    bad.int_arrays = {{"a/b", {1}}};
    CHECK_THROWS_WITH(elm::io::save_checkpoint(path, net, "", &bad, "t"), Catch::Contains("a/b"));
    bad = sgd;
    bad.moment1.resize(3);
    CHECK_THROWS_AS(elm::io::save_checkpoint(path, net, "", &bad, "t"), std::invalid_argument);
}

TEST_CASE("checkpoint layout follows the contract", "[io][checkpoint]") {
    TempDir dir("ckpt_layout");
    ModelConfig cfg = tiny_config();
    cfg.l = 2;
    const auto net = elm::models::make_network<float>(cfg);
    const std::string path = dir.file("m.h5");
    TrainState t;
    t.optimizer = "adam";
    t.moment1.assign(net.params.size(), 0.0f);
    t.rng = elm::Rng(1).state();
    elm::io::save_checkpoint(path, net, "cfg", &t, "elmsim 0.1.0");

    elm::io::H5File f = elm::io::H5File::open_read(path);
    const hid_t id = f.id();
    CHECK(elm::io::read_attr_string(id, "format") == "elm-network");
    CHECK(elm::io::read_attr_int(id, "format_version") == 1);
    CHECK(elm::io::read_attr_string(id, "created_by") == "elmsim 0.1.0");
    CHECK(elm::io::read_string_dataset(id, "/config") == "cfg");

    const hsize_t N = cfg.N, dh = cfg.d_h, dm = cfg.d_m, nb = cfg.n_b, kc = cfg.k_c, nout = cfg.n_out;
    CHECK(raw_shape(id, "/model/W1") == std::vector<hsize_t>{N, dh, nb + dm});
    CHECK(raw_shape(id, "/model/src") == std::vector<hsize_t>{N, kc});
    CHECK(raw_shape(id, "/model/w_syn") == std::vector<hsize_t>{N, kc});
    CHECK(raw_shape(id, "/model/tau_m_raw") == std::vector<hsize_t>{N, dm});
    CHECK(raw_shape(id, "/model/b1") == std::vector<hsize_t>{N, dh});
    CHECK(raw_shape(id, "/model/Wh") == std::vector<hsize_t>{N, 1, dh, dh});
    CHECK(raw_shape(id, "/model/bh") == std::vector<hsize_t>{N, 1, dh});
    CHECK(raw_shape(id, "/model/W2") == std::vector<hsize_t>{N, dm, dh});
    CHECK(raw_shape(id, "/model/b2") == std::vector<hsize_t>{N, dm});
    CHECK(raw_shape(id, "/model/wy") == std::vector<hsize_t>{N, dm});
    CHECK(raw_shape(id, "/model/c") == std::vector<hsize_t>{N});
    CHECK(raw_shape(id, "/model/W_o") == std::vector<hsize_t>{nout, N});
    CHECK(raw_shape(id, "/model/b_o") == std::vector<hsize_t>{nout});
    CHECK_FALSE(elm::io::has_path(id, "/model/embedding"));
    CHECK(raw_shape(id, "/train/optimizer/m1/W1") == std::vector<hsize_t>{N, dh, nb + dm});
    CHECK_FALSE(elm::io::has_path(id, "/train/optimizer/m2"));

    // Stored types: float32 parameters, int32 connectivity (what h5py reports as <f4 and <i4).
    auto type_is = [&](const char* path, hid_t expected) {
        const hid_t ds = H5Dopen2(id, path, H5P_DEFAULT);
        const hid_t type = H5Dget_type(ds);
        const bool same = H5Tequal(type, expected) > 0;
        H5Tclose(type);
        H5Dclose(ds);
        return same;
    };
    CHECK(type_is("/model/W1", H5T_IEEE_F32LE));
    CHECK(type_is("/model/src", H5T_STD_I32LE));

    const hid_t model = H5Gopen2(id, "/model", H5P_DEFAULT);
    for (const char* name : {"N", "C", "n_out", "d_m", "d_h", "n_b", "l", "k_c", "k_in", "C_e", "output_mode", "phi",
                             "dt_ms", "lambda", "tau_b_ms", "tau_min_ms", "tau_max_ms", "theta", "beta", "seed",
                             "learn_tau_m", "tau_v_ms", "C_task", "tau_init_min_ms", "tau_init_max_ms", "input_share",
                             "self_synapse"}) {
        INFO(name);
        CHECK(elm::io::has_attribute(model, name));
    }
    CHECK(elm::io::read_attr_int(model, "C") == 700);
    CHECK(elm::io::read_attr_int(model, "k_in") == 4);
    CHECK(elm::io::read_attr_string(model, "output_mode") == "analog");
    H5Gclose(model);
}

TEST_CASE("corrupted checkpoints are rejected naming the path", "[io][checkpoint]") {
    TempDir dir("ckpt_corrupt");
    const auto net = elm::models::make_network<float>(tiny_config());
    const std::string good = dir.file("good.h5");
    elm::io::save_checkpoint(good, net, "cfg", nullptr, "elmsim test");
    REQUIRE(load_error(good).empty());

    SECTION("missing dataset") {
        const auto p = corrupted_copy(good, dir.file("a.h5"), [](hid_t f) { H5Ldelete(f, "/model/W2", H5P_DEFAULT); });
        const std::string e = load_error(p);
        CHECK(e.find("a.h5") != std::string::npos);
        CHECK(e.find("/model/W2") != std::string::npos);
    }
    SECTION("wrong shape") {
        const auto p = corrupted_copy(good, dir.file("b.h5"), [](hid_t f) {
            H5Ldelete(f, "/model/W1", H5P_DEFAULT);
            const std::vector<float> v(8 * 8 * 5, 0.0f);
            elm::io::write_dataset<float>(f, "/model/W1", v.data(), {8, 8, 5});
        });
        const std::string e = load_error(p);
        CHECK(e.find("/model/W1") != std::string::npos);
        CHECK(e.find("[8, 8, 6]") != std::string::npos);
        CHECK(e.find("[8, 8, 5]") != std::string::npos);
    }
    SECTION("NaN in a tensor") {
        const auto p = corrupted_copy(good, dir.file("c.h5"), [](hid_t f) {
            const hid_t ds = H5Dopen2(f, "/model/wy", H5P_DEFAULT);
            std::vector<float> v(8 * 4, 0.1f);
            v[13] = std::numeric_limits<float>::quiet_NaN();
            H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
            H5Dclose(ds);
        });
        const std::string e = load_error(p);
        CHECK(e.find("/model/wy") != std::string::npos);
        CHECK(e.find("nan") != std::string::npos);
    }
    SECTION("connectivity out of range") {
        const auto p = corrupted_copy(good, dir.file("d.h5"), [](hid_t f) {
            auto src = elm::io::read_dataset<std::int32_t>(f, "/model/src");
            src[3] = 100000;
            const hid_t ds = H5Dopen2(f, "/model/src", H5P_DEFAULT);
            H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, src.data());
            H5Dclose(ds);
        });
        CHECK(load_error(p).find("/model/src") != std::string::npos);
    }
    SECTION("inconsistent attributes") {
        auto p = corrupted_copy(good, dir.file("e.h5"), [](hid_t f) {
            const hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
            elm::io::write_attr_int(g, "k_in", 3);
            H5Gclose(g);
        });
        CHECK(load_error(p).find("k_in") != std::string::npos);
        p = corrupted_copy(good, dir.file("f.h5"), [](hid_t f) {
            const hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
            elm::io::write_attr_int(g, "k_c", 7);  // not divisible by n_b and disagrees with src
            H5Gclose(g);
        });
        CHECK(load_error(p).find("/model") != std::string::npos);
        p = corrupted_copy(good, dir.file("g.h5"), [](hid_t f) { elm::io::write_attr_int(f, "format_version", 2); });
        CHECK(load_error(p).find("format_version") != std::string::npos);
        p = corrupted_copy(good, dir.file("h.h5"), [](hid_t f) { elm::io::write_attr_string(f, "format", "elm-trace"); });
        CHECK(load_error(p).find("elm-network") != std::string::npos);
    }
    SECTION("missing input_share is derived from k_in / k_c") {
        const auto p = corrupted_copy(good, dir.file("i.h5"), [](hid_t f) { H5Adelete_by_name(f, "/model", "input_share", H5P_DEFAULT); });
        const Checkpoint ck = elm::io::load_checkpoint(p);
        CHECK(ck.net.cfg.input_share == 0.5);
        CHECK(ck.net.params == net.params);
    }
    SECTION("not a checkpoint at all") {
        std::ofstream(dir.file("j.h5")) << "plain text";
        CHECK(load_error(dir.file("j.h5")).find("j.h5") != std::string::npos);
        CHECK(load_error(dir.file("missing.h5")).find("missing.h5") != std::string::npos);
    }
}

TEST_CASE("a failed save leaves the existing checkpoint intact", "[io][checkpoint]") {
    TempDir dir("ckpt_atomic");
    const auto net = elm::models::make_network<float>(tiny_config());
    const std::string path = dir.file("m.h5");
    elm::io::save_checkpoint(path, net, "first", nullptr, "elmsim test");
    const std::string before = file_bytes(path);
    auto other = net;
    other.params[0] += 1.0f;

    SECTION("non-finite parameters are refused before anything is written") {
        other.params[1] = std::numeric_limits<float>::infinity();
        CHECK_THROWS_WITH(elm::io::save_checkpoint(path, other, "second", nullptr, "t"), Catch::Contains("w_syn"));
        CHECK(file_bytes(path) == before);
    }
    SECTION("the temporary file cannot be created") {
        // A directory where NAME.tmp must go blocks the write whatever the user's privileges.
        fs::create_directory(path + ".tmp");
        std::ofstream(path + ".tmp/keep") << "x";
        CHECK_THROWS_AS(elm::io::save_checkpoint(path, other, "second", nullptr, "t"), std::exception);
        CHECK(file_bytes(path) == before);
        CHECK(elm::io::load_checkpoint(path).config_toml == "first");
    }
    SECTION("the directory is not writable") {
        fs::permissions(dir.dir, fs::perms::owner_read | fs::perms::owner_exec);
        // Root ignores directory permissions: this thread's file-system uid becomes nobody's for the
        // write (Linux drops the file-system capabilities with it, and restores them after).
        const bool privileged = ::access(dir.dir.c_str(), W_OK) == 0;
        const int fsuid = privileged ? setfsuid(65534) : -1;
        if (privileged) CHECK(setfsuid(65534) == 65534);
        CHECK_THROWS_AS(elm::io::save_checkpoint(path, other, "second", nullptr, "t"), InputError);
        if (privileged) setfsuid(static_cast<uid_t>(fsuid));
        CHECK(file_bytes(path) == before);
        fs::permissions(dir.dir, fs::perms::owner_all);
    }
}
