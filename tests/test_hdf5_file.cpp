// Tests of io/hdf5_file: dataset/attribute/string round trips, checked conversions, error messages
// that name the file and path, and atomic output that never damages an existing file.
#include <catch2/catch.hpp>

#include "tests/temp_dir.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/models/error.hpp"

namespace fs = std::filesystem;
using namespace elm::io;
using Catch::Matchers::Contains;

namespace {

using elm::test::TempDir;

}  // namespace

TEST_CASE("hdf5 numeric datasets round trip with shapes", "[io]") {
    TempDir tmp("h5_numeric");
    const std::string path = tmp.file("a.h5");
    {
        auto f = H5File::create(path);
        const std::vector<float> xf = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
        const std::vector<std::int32_t> xi = {-1, 2, -3};
        const std::vector<std::uint64_t> xu = {0, 18446744073709551615ull};
        const std::vector<std::uint8_t> xb = {0, 255};
        const double scalar = 0.125;
        write_dataset(f.id(), "f", xf.data(), {2, 3});
        write_dataset(f.id(), "deep/er/i", xi.data(), {3});
        write_dataset(f.id(), "u", xu.data(), {2});
        write_dataset(f.id(), "b", xb.data(), {2});
        write_dataset(f.id(), "s", &scalar, {});
        write_dataset<float>(f.id(), "empty", nullptr, {0, 4});
        f.close();
    }
    auto f = H5File::open_read(path);
    std::vector<hsize_t> shape;
    CHECK(read_dataset<float>(f.id(), "f", &shape) == std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f});
    CHECK(shape == std::vector<hsize_t>{2, 3});
    CHECK(read_dataset<std::int32_t>(f.id(), "/deep/er/i") == std::vector<std::int32_t>{-1, 2, -3});
    CHECK(read_dataset<std::uint64_t>(f.id(), "u")[1] == 18446744073709551615ull);
    CHECK(read_dataset<double>(f.id(), "s", &shape) == std::vector<double>{0.125});
    CHECK(shape.empty());
    CHECK(read_dataset<float>(f.id(), "empty", &shape).empty());
    CHECK(shape == std::vector<hsize_t>{0, 4});
    CHECK(dataset_shape(f.id(), "deep/er/i") == std::vector<hsize_t>{3});
    // HDF5 conversion: int32 -> double and uint8 -> int64 are exact.
    CHECK(read_dataset<double>(f.id(), "deep/er/i") == std::vector<double>{-1.0, 2.0, -3.0});
    CHECK(read_dataset<std::int64_t>(f.id(), "b") == std::vector<std::int64_t>{0, 255});
    CHECK(has_path(f.id(), "deep/er"));
    CHECK(has_path(f.id(), "/deep/er/i"));
    CHECK_FALSE(has_path(f.id(), "deep/nothing/i"));
    CHECK_FALSE(has_path(f.id(), "f/under_a_dataset"));
}

TEST_CASE("hdf5 reads reject wrong classes and lossy conversions with the path", "[io]") {
    TempDir tmp("h5_checked");
    const std::string path = tmp.file("c.h5");
    {
        auto f = H5File::create(path);
        const std::vector<double> frac = {1.0, 2.5};
        const std::vector<std::int64_t> big = {70000, 1};
        const std::vector<std::int32_t> neg = {-1};
        write_dataset(f.id(), "frac", frac.data(), {2});
        write_dataset(f.id(), "g/big", big.data(), {2});
        write_dataset(f.id(), "neg", neg.data(), {1});
        write_string_dataset(f.id(), "text", "hello");
        f.close();
    }
    auto f = H5File::open_read(path);
    CHECK_THROWS_WITH(read_dataset<float>(f.id(), "text"), Contains(path + ": /text: expected numbers") &&
                                                                  Contains("string"));
    CHECK_THROWS_WITH(read_dataset<std::int32_t>(f.id(), "frac"), Contains("/frac: expected integers"));
    CHECK_THROWS_WITH(read_dataset<std::uint16_t>(f.id(), "g/big"),
                      Contains(path + ": /g/big: expected values that fit uint16, found one out of range"));
    CHECK_THROWS_WITH(read_dataset<std::uint64_t>(f.id(), "neg"), Contains("/neg: expected values that fit uint64"));
    CHECK_THROWS_WITH(read_dataset<float>(f.id(), "missing/x"), Contains(path + ": /missing/x: expected a dataset"));
    CHECK_THROWS_WITH(read_dataset<float>(f.id(), "g"), Contains("expected a dataset, found a group"));
    CHECK_THROWS_WITH(read_string_dataset(f.id(), "frac"), Contains("/frac: expected a string, found 8-byte float"));
    auto g = open_group(f.id(), "g");
    CHECK_THROWS_WITH(read_dataset<float>(g.id(), "nope"), Contains(path + ": /g/nope: expected a dataset"));
}

TEST_CASE("hdf5 string datasets and attributes round trip", "[io]") {
    TempDir tmp("h5_attrs");
    const std::string path = tmp.file("s.h5");
    const std::string toml = "[model]\nN = 64  # ünïcode\n";
    {
        auto f = H5File::create(path);
        write_string_dataset(f.id(), "config", toml);
        write_attr_string(f.id(), "format", "elm-network");
        write_attr_int(f.id(), "format_version", 1);
        {
            auto g = create_group(f.id(), "model/sub");
            write_attr_int(g.id(), "N", -7);
            write_attr_int(g.id(), "N", 64);  // replaces
            write_attr_double(g.id(), "dt_ms", 2.0);
            write_attr_int32_array(g.id(), "neurons", {0, 5, -3});
            write_attr_uint64_array(g.id(), "rng", {1ull, 18446744073709551615ull});
            write_attr_int32_array(g.id(), "none", {});
            const std::vector<float> w = {1.0f};
            write_dataset(g.id(), "w", w.data(), {1});
            auto ds = open_dataset(g.id(), "w");
            write_attr_string(ds.id(), "unit", "mV");
            // Objects still open: H5Fclose would not write them yet, so close() refuses.
            CHECK_THROWS_AS(f.close(), std::logic_error);
        }
        f.close();
    }
    auto f = H5File::open_read(path);
    CHECK(read_string_dataset(f.id(), "config") == toml);
    CHECK(read_attr_string(f.id(), "format") == "elm-network");
    CHECK(read_attr_int(f.id(), "format_version") == 1);
    auto g = open_group(f.id(), "model/sub");
    CHECK(read_attr_int(g.id(), "N") == 64);
    CHECK(read_attr_double(g.id(), "N") == 64.0);
    CHECK(read_attr_double(g.id(), "dt_ms") == 2.0);
    CHECK(read_attr_int32_array(g.id(), "neurons") == std::vector<std::int32_t>{0, 5, -3});
    CHECK(read_attr_uint64_array(g.id(), "rng") == std::vector<std::uint64_t>{1ull, 18446744073709551615ull});
    CHECK(read_attr_int32_array(g.id(), "none").empty());
    CHECK(has_attribute(g.id(), "dt_ms"));
    CHECK_FALSE(has_attribute(g.id(), "tau"));
    auto ds = open_dataset(g.id(), "w");
    CHECK(read_attr_string(ds.id(), "unit") == "mV");
    CHECK_THROWS_WITH(read_attr_int(g.id(), "tau"),
                      Contains(path + ": /model/sub: expected attribute 'tau', found none"));
    CHECK_THROWS_WITH(read_attr_int(g.id(), "dt_ms"), Contains("attribute 'dt_ms': expected integers"));
    CHECK_THROWS_WITH(read_attr_string(g.id(), "N"), Contains("attribute 'N': expected a string"));
    CHECK_THROWS_WITH(read_attr_int(g.id(), "neurons"), Contains("expected one integer, found 3 values"));
    CHECK_THROWS_WITH(read_attr_int32_array(g.id(), "rng"), Contains("expected values that fit int32"));
}

TEST_CASE("hdf5 open errors name the file and the problem", "[io]") {
    TempDir tmp("h5_open");
    CHECK_THROWS_AS(H5File::open_read(tmp.file("none.h5")), elm::InputError);
    CHECK_THROWS_WITH(H5File::open_read(tmp.file("none.h5")), Contains("none.h5: cannot open: the file does not exist"));
    {
        std::ofstream(tmp.file("text.h5")) << "not hdf5 at all\n";
    }
    CHECK_THROWS_WITH(H5File::open_read(tmp.file("text.h5")), Contains("text.h5: expected an HDF5 file"));
    CHECK_THROWS_WITH(H5File::open_read(tmp.dir.string()), Contains("found a directory"));
    CHECK_THROWS_WITH(H5File::create(tmp.file("no/such/dir/x.h5")), Contains("does not exist"));
    CHECK_THROWS_WITH(ensure_writable_dir(tmp.dir.string()), Contains("found a directory"));
    {
        auto f = H5File::create(tmp.file("dup.h5"));
        const float v = 1.0f;
        write_dataset(f.id(), "x", &v, {});
        CHECK_THROWS_WITH(write_dataset(f.id(), "x", &v, {}), Contains("/x: cannot write the dataset: the path already exists"));
    }
}

TEST_CASE("AtomicOutput replaces the final file only on commit", "[io]") {
    TempDir tmp("h5_atomic");
    const std::string final_path = tmp.file("out.h5");
    const auto write_marker = [](const std::string& p, std::int64_t v) {
        auto f = H5File::create(p);
        write_attr_int(f.id(), "marker", v);
        f.close();
    };
    {
        AtomicOutput out(final_path);
        write_marker(out.tmp_path(), 1);
        out.commit();
    }
    CHECK_FALSE(fs::exists(final_path + ".tmp"));
    CHECK(read_attr_int(H5File::open_read(final_path).id(), "marker") == 1);
    // A failure after the temporary file was written leaves the old file intact and no .tmp.
    try {
        AtomicOutput out(final_path);
        write_marker(out.tmp_path(), 2);
        throw elm::InputError("simulated failure");
    } catch (const elm::InputError&) {
    }
    CHECK_FALSE(fs::exists(final_path + ".tmp"));
    CHECK(read_attr_int(H5File::open_read(final_path).id(), "marker") == 1);
    {
        AtomicOutput out(final_path);
        write_marker(out.tmp_path(), 3);
        out.commit();
    }
    CHECK(read_attr_int(H5File::open_read(final_path).id(), "marker") == 3);
    CHECK_THROWS_WITH(AtomicOutput(tmp.file("missing_dir/out.h5")), Contains("does not exist"));
}
