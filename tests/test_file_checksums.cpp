// Files that detect their own corruption (spec files-and-cli.md, first paragraph): every
// dataset of a checkpoint and a trace is chunked with Fletcher32 (or a small scalar in its
// checksummed object header), no string lives in the global heap, and the file is in the 1.10
// format whose metadata is checksummed. A damaged dataset is one error naming the file, the dataset
// and the damage; hundreds of single-byte mutations of a checkpoint each load identical parameters
// or are refused, never anything else. Files written before this change (variable-length strings,
// contiguous datasets: tests/data/legacy/) still load, with the same results.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"
#include "tests/file_mutation.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;

namespace {

models::ModelConfig small_config() {
    models::ModelConfig cfg;
    cfg.N = 12;
    cfg.C = 20;
    cfg.n_out = 5;
    cfg.d_m = 3;
    cfg.d_h = 6;
    cfg.n_b = 2;
    cfg.k_c = 6;
    cfg.seed = 4;
    return cfg;
}

models::TrainState train_state(const models::Network<float>& net) {
    models::TrainState t;
    t.step = 17;
    t.optimizer = "adamax";
    t.moment1.assign(net.params.size(), 0.25f);
    t.moment2.assign(net.params.size(), 0.5f);
    t.rng = Rng(3, 1).state();
    return t;
}

using test::read_bytes;
using test::write_bytes;

struct Audit {
    std::vector<std::string> unchecked, heap_strings;
    int datasets = 0, attributes = 0;
};

// Every dataset and attribute of a file: checksummed (chunked with Fletcher32, or compact, or
// empty), and no variable-length string or array.
Audit audit(const std::string& path) {
    Audit a;
    const io::H5File f = io::H5File::open_read(path);
    struct Ctx {
        Audit* a;
        hid_t file;
    } ctx{&a, f.id()};
    const auto check_attrs = [](hid_t obj, const std::string& where, Audit& out) {
        struct A {
            Audit* out;
            std::string where;
        } actx{&out, where};
        H5Aiterate2(
            obj, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr,
            [](hid_t loc, const char* name, const H5A_info_t*, void* p) -> herr_t {
                auto& c = *static_cast<A*>(p);
                ++c.out->attributes;
                const hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
                const hid_t type = H5Aget_type(attr);
                if (H5Tis_variable_str(type) > 0 || H5Tget_class(type) == H5T_VLEN)
                    c.out->heap_strings.push_back(c.where + "@" + name);
                H5Tclose(type);
                H5Aclose(attr);
                return 0;
            },
            &actx);
    };
    check_attrs(f.id(), "/", a);
    H5Ovisit(
        f.id(), H5_INDEX_NAME, H5_ITER_NATIVE,
        [](hid_t root, const char* name, const H5O_info_t* info, void* p) -> herr_t {
            auto& c = *static_cast<Ctx*>(p);
            if (info->type != H5O_TYPE_DATASET) return 0;
            ++c.a->datasets;
            const hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
            const hid_t type = H5Dget_type(ds), space = H5Dget_space(ds), dcpl = H5Dget_create_plist(ds);
            if (H5Tis_variable_str(type) > 0 || H5Tget_class(type) == H5T_VLEN) c.a->heap_strings.push_back(name);
            const H5D_layout_t layout = H5Pget_layout(dcpl);
            bool fletcher = false;
            for (int k = 0; k < H5Pget_nfilters(dcpl); ++k) {
                unsigned flags = 0, config = 0;
                size_t nelem = 0;
                fletcher = fletcher || H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &nelem, nullptr, 0, nullptr,
                                                      &config) == H5Z_FILTER_FLETCHER32;
            }
            const bool empty = H5Sget_simple_extent_npoints(space) == 0;
            if (!(layout == H5D_COMPACT || (layout == H5D_CHUNKED && fletcher) || empty)) c.a->unchecked.push_back(name);
            H5Pclose(dcpl);
            H5Sclose(space);
            H5Tclose(type);
            H5Dclose(ds);
            return 0;
        },
        &ctx);
    // The groups' and datasets' attributes.
    for (const char* g : {"/model", "/train", "/train/optimizer"})
        if (io::has_path(f.id(), g)) {
            const io::H5Handle obj = io::open_object(f.id(), g);
            check_attrs(obj.id(), g, a);
        }
    return a;
}

// File offset and size of the first chunk of a chunked dataset.
std::pair<haddr_t, hsize_t> first_chunk(const std::string& path, const std::string& dataset) {
    const io::H5File f = io::H5File::open_read(path);
    const io::H5Handle ds = io::open_dataset(f.id(), dataset);
    hsize_t offset[8] = {0};
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    const io::H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    REQUIRE(H5Dget_chunk_info(ds.id(), space.id(), 0, offset, &mask, &addr, &size) >= 0);
    return {addr, size};
}

}  // namespace

TEST_CASE("files: checkpoints and traces checksum every dataset and keep strings out of the heap", "[io][checksum]") {
    const test::TempDir tmp("checksums_layout");
    const auto cfg = small_config();
    const auto net = models::make_network<float>(cfg);
    const auto ts = train_state(net);
    io::save_checkpoint(tmp.file("m.h5"), net, "[model]\nN = 12\n", &ts, "test");
    const Audit m = audit(tmp.file("m.h5"));
    CHECK(m.datasets >= 12);
    CHECK(m.attributes >= 20);
    CHECK(m.unchecked.empty());
    CHECK(m.heap_strings.empty());
    INFO("unchecked: " << fmt::format("{}", fmt::join(m.unchecked, ", ")));

    io::TraceOptions what;
    what.m = what.b = what.logits = what.spikes = true;
    {
        io::TraceWriter w(tmp.file("t.h5"), "m.h5", "clock", what, cfg.N, cfg.d_m, cfg.n_b, cfg.n_out, "test");
        std::vector<float> y(cfg.N, 1.0f), mm(cfg.N * cfg.d_m, 0.5f), b(cfg.N * cfg.n_b, 0.25f), l(cfg.n_out, 0.1f);
        w.begin_sample(0, 3);
        for (int t = 0; t < 10; ++t) w.write(t + 1.0, y.data(), mm.data(), b.data(), l.data());
        w.end_sample(l.data(), 2);
        w.commit();
    }
    const Audit t = audit(tmp.file("t.h5"));
    CHECK(t.datasets >= 5);
    CHECK(t.unchecked.empty());
    CHECK(t.heap_strings.empty());
    // And the reader takes both: these files read back as before.
    const auto back = io::load_checkpoint(tmp.file("m.h5"));
    CHECK(back.net.params == net.params);
    CHECK(back.config_toml == "[model]\nN = 12\n");
    REQUIRE(back.train);
    CHECK(back.train->moment2 == ts.moment2);
    CHECK(io::read_trace(tmp.file("t.h5")).samples.at(0).T == 10);
}

TEST_CASE("files: a damaged dataset is one error naming the file, the dataset and the damage", "[io][checksum]") {
    const test::TempDir tmp("checksums_damage");
    const auto net = models::make_network<float>(small_config());
    io::save_checkpoint(tmp.file("m.h5"), net, "[model]\n", nullptr, "test");
    const auto [addr, size] = first_chunk(tmp.file("m.h5"), "/model/W1");
    REQUIRE(size > 8);
    std::string bytes = read_bytes(tmp.file("m.h5"));
    bytes[static_cast<std::size_t>(addr + size / 2)] ^= 0x10;  // one bit of one weight
    write_bytes(tmp.file("bad.h5"), bytes);
    try {
        io::load_checkpoint(tmp.file("bad.h5"));
        FAIL("a damaged weight loaded");
    } catch (const InputError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("bad.h5") != std::string::npos);
        CHECK(what.find("/model/W1") != std::string::npos);
        CHECK(what.find("checksum") != std::string::npos);
        CHECK(what.find('\n') == std::string::npos);
    }
    // From the command line: that line, exit code 2.
    const auto r = test::run_elmsim(fmt::format("info --model {}", tmp.file("bad.h5")));
    const auto s = test::run_elmsim(fmt::format("generate --model {} --length 3", tmp.file("bad.h5")));
    for (const auto& x : {r, s}) {
        INFO(x.output);
        if (x.code != 0) {  // `info` may not read the weights; whoever does refuses them
            CHECK(x.code == 2);
            CHECK(std::count(x.output.begin(), x.output.end(), '\n') == 1);
        }
    }
    CHECK((r.code == 2 || s.code == 2));
}

TEST_CASE("files: every single-byte mutation of a checkpoint loads identical parameters or is refused", "[io][checksum]") {
    const test::TempDir tmp("checksums_mutations");
    const auto net = models::make_network<float>(small_config());
    const auto ts = train_state(net);
    const std::string config = "[model]\nN = 12\nseed = 4\n";
    io::save_checkpoint(tmp.file("m.h5"), net, config, &ts, "test");
    const std::string original = read_bytes(tmp.file("m.h5"));
    Rng rng(13, 1);
    int refused = 0, identical = 0, different = 0;
    std::vector<std::string> what_differed;
    for (int k = 0; k < 400; ++k) {
        std::string bytes = original;
        const auto at = static_cast<std::size_t>(rng.below(bytes.size()));
        bytes[at] = static_cast<char>(bytes[at] ^ static_cast<char>(1 + rng.below(255)));
        write_bytes(tmp.file("x.h5"), bytes);
        try {
            const auto c = io::load_checkpoint(tmp.file("x.h5"));
            const bool same = c.net.params == net.params && c.config_toml == config && c.train &&
                              c.train->moment1 == ts.moment1 && c.train->moment2 == ts.moment2 &&
                              c.train->step == ts.step && c.net.cfg.N == net.cfg.N && c.net.cfg.seed == net.cfg.seed &&
                              c.drive_declared && c.net.cfg.drive == net.cfg.drive &&
                              c.net.cfg.memory_gain == net.cfg.memory_gain &&
                              c.net.cfg.memory_input == net.cfg.memory_input &&
                              c.net.cfg.self_synapse == net.cfg.self_synapse &&
                              c.net.cfg.input_share == net.cfg.input_share &&
                              c.net.cfg.tau_init_max_ms == net.cfg.tau_init_max_ms;
            if (same) {
                ++identical;
            } else {
                ++different;
                what_differed.push_back(fmt::format("byte {}", at));
            }
        } catch (const InputError&) {
            ++refused;
        }
    }
    INFO("refused " << refused << ", identical " << identical << ", loaded different: "
                    << fmt::format("{}", fmt::join(what_differed, ", ")));
    CHECK(different == 0);
    CHECK(refused > 200);  // most bytes of the file matter
    WARN("mutations of a checkpoint: " << refused << " refused, " << identical << " loaded identical");
}

// Found by tests/mutation/elm_mutate (3 in 200 damaged checkpoints loaded with a different model):
// /model keeps its 29 attributes in dense storage, a fractal heap whose blocks are checksummed. A
// damaged block made H5Aexists fail, and has_attribute took the failure for "absent": the optional
// `drive` attribute read as missing, so the model loaded with the drive rule of old files.
TEST_CASE("files: a failed attribute lookup in a damaged attribute heap read as absent", "[io][checksum]") {
    const test::TempDir tmp("checksums_attribute_heap");
    const auto net = models::make_network<float>(small_config());
    io::save_checkpoint(tmp.file("m.h5"), net, "[model]\n", nullptr, "test");
    std::string bytes = read_bytes(tmp.file("m.h5"));
    // The direct block of the attribute heap that holds `drive`, and a byte of its free space (after the
    // block's last value, memory_input's "clock_decay" followed by zeros).
    const auto name = bytes.find(std::string("drive\0", 6));
    REQUIRE(name != std::string::npos);
    const auto block = bytes.rfind("FHDB", name);
    REQUIRE(block != std::string::npos);
    const auto value = bytes.find(std::string("clock_decay\0\0\0\0\0\0\0\0\0\0\0\0", 23), name);
    REQUIRE(value != std::string::npos);
    REQUIRE(bytes[value + 24] == '\0');
    bytes[value + 24] = 3;
    write_bytes(tmp.file("x.h5"), bytes);
    try {
        io::load_checkpoint(tmp.file("x.h5"));
        FAIL("a damaged attribute heap loaded");
    } catch (const InputError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("x.h5") != std::string::npos);
        CHECK(what.find("checksum") != std::string::npos);
    }
}

TEST_CASE("files: checkpoints and traces written before checksums still load, with the same results", "[io][checksum]") {
    const std::string legacy = std::string(ELM_SOURCE_DIR) + "/tests/data/legacy";
    // The fixture is what it says: variable-length strings and contiguous datasets.
    const Audit old = audit(legacy + "/model.h5");
    CHECK(!old.heap_strings.empty());
    CHECK(!old.unchecked.empty());
    const auto ck = io::load_checkpoint(legacy + "/model.h5");
    REQUIRE(ck.train);
    CHECK(ck.train->step == 2);
    CHECK(ck.config_toml.find("[model]") != std::string::npos);
    // Re-saved in today's layout: the same parameters, config and optimizer state.
    const test::TempDir tmp("checksums_legacy");
    io::save_checkpoint(tmp.file("m.h5"), ck.net, ck.config_toml, &*ck.train, "test");
    const auto again = io::load_checkpoint(tmp.file("m.h5"));
    CHECK(again.net.params == ck.net.params);
    CHECK(again.config_toml == ck.config_toml);
    CHECK(again.train->moment1 == ck.train->moment1);
    CHECK(audit(tmp.file("m.h5")).unchecked.empty());
    // The legacy trace reads, and today's simulate of the legacy model on the legacy data writes the
    // same floats into a checksummed trace.
    const auto r = test::run_elmsim(fmt::format("simulate --model {0}/model.h5 --data {0}/data.h5 --samples 0:2 "
                                                "--record y,m,b,logits,spikes --trace {1}",
                                                legacy, tmp.file("t.h5")));
    test::require_ok(r);
    const auto a = io::read_trace(legacy + "/trace.h5"), b = io::read_trace(tmp.file("t.h5"));
    REQUIRE(a.samples.size() == 2);
    REQUIRE(b.samples.size() == 2);
    for (std::size_t k = 0; k < 2; ++k) {
        CHECK(a.samples[k].time_ms == b.samples[k].time_ms);
        CHECK(a.samples[k].y == b.samples[k].y);
        CHECK(a.samples[k].m == b.samples[k].m);
        CHECK(a.samples[k].b == b.samples[k].b);
        CHECK(a.samples[k].logits == b.samples[k].logits);
        CHECK(a.samples[k].spike_times == b.samples[k].spike_times);
        CHECK(a.samples[k].prediction == b.samples[k].prediction);
    }
    CHECK(audit(tmp.file("t.h5")).heap_strings.empty());
}
