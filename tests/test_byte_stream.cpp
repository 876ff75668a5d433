// Tests of io/byte_stream: split sizes (including enwik8's exact 90e6 / 5e6 / 5e6), reads at and
// across split boundaries, standard input, and input errors.
#include <catch2/catch.hpp>

#include "tests/temp_dir.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/models/error.hpp"

namespace fs = std::filesystem;
using namespace elm::io;
using Catch::Matchers::Contains;

namespace {

using elm::test::TempDir;

std::uint8_t pattern(std::int64_t i) { return static_cast<std::uint8_t>((i * 7 + 3) % 251); }

std::string write_pattern(const TempDir& tmp, const std::string& name, std::int64_t n) {
    const std::string path = tmp.file(name);
    std::ofstream out(path, std::ios::binary);
    for (std::int64_t i = 0; i < n; ++i) out.put(static_cast<char>(pattern(i)));
    return path;
}

}  // namespace

TEST_CASE("byte stream split sizes and reads across boundaries", "[io]") {
    TempDir tmp("bytes_split");
    const ByteStream s(write_pattern(tmp, "a.bin", 1001));
    CHECK(s.total_size() == 1001);
    CHECK(s.size(Split::train) == 900);  // floor(900.9)
    CHECK(s.size(Split::valid) == 50);   // floor(50.05)
    CHECK(s.size(Split::test) == 51);    // the rest
    CHECK(s.begin(Split::valid) == 900);
    CHECK(s.begin(Split::test) == 950);

    std::vector<std::uint8_t> buf(60);
    s.read(Split::train, 898, 2, buf.data());
    CHECK((buf[0] == pattern(898) && buf[1] == pattern(899)));
    s.read(Split::valid, 0, 50, buf.data());
    bool ok = true;
    for (int i = 0; i < 50; ++i) ok = ok && buf[i] == pattern(900 + i);
    CHECK(ok);
    s.read(Split::test, 50, 1, buf.data());
    CHECK(buf[0] == pattern(1000));
    s.read(Split::test, 51, 0, buf.data());  // empty read at the end is fine
    // A read may not leave its split, even though the file continues.
    CHECK_THROWS_AS(s.read(Split::train, 899, 2, buf.data()), std::out_of_range);
    CHECK_THROWS_AS(s.read(Split::valid, 49, 2, buf.data()), std::out_of_range);
    CHECK_THROWS_AS(s.read(Split::test, -1, 1, buf.data()), std::out_of_range);

    const ByteStream custom(write_pattern(tmp, "b.bin", 10), {0.8, 0.1, 0.1}, 1);
    CHECK((custom.size(Split::train) == 8 && custom.size(Split::valid) == 1 && custom.size(Split::test) == 1));
    const ByteStream all_train(tmp.file("b.bin"), {1.0, 0.0, 0.0});
    CHECK((all_train.size(Split::train) == 10 && all_train.size(Split::valid) == 0 && all_train.size(Split::test) == 0));
}

TEST_CASE("byte stream gives enwik8 exactly 90e6 / 5e6 / 5e6 without loading it", "[io]") {
    TempDir tmp("bytes_enwik8");
    const std::string path = tmp.file("enwik8");
    { std::ofstream(path, std::ios::binary).put('x'); }
    fs::resize_file(path, 100000000);  // sparse: no 100 MB written
    const ByteStream s(path);
    CHECK(s.size(Split::train) == 90000000);
    CHECK(s.size(Split::valid) == 5000000);
    CHECK(s.size(Split::test) == 5000000);
    std::uint8_t b[2] = {1, 1};
    s.read(Split::train, 0, 2, b);
    CHECK((b[0] == 'x' && b[1] == 0));
}

TEST_CASE("byte stream reads standard input for the path -", "[io]") {
    std::istringstream fake("0123456789abcdefghij");
    std::streambuf* saved = std::cin.rdbuf(fake.rdbuf());
    try {
        const ByteStream s("-", {0.5, 0.25, 0.25});
        std::cin.rdbuf(saved);
        CHECK(s.total_size() == 20);
        std::uint8_t b[5];
        s.read(Split::test, 0, 5, b);
        CHECK(std::string(b, b + 5) == "fghij");
    } catch (...) {
        std::cin.rdbuf(saved);
        throw;
    }
}

TEST_CASE("byte stream input errors are clear", "[io]") {
    TempDir tmp("bytes_errors");
    const std::string small = write_pattern(tmp, "small.bin", 10);
    CHECK_THROWS_WITH(ByteStream(tmp.file("missing.txt")), Contains("missing.txt: cannot open: the data file does not exist"));
    CHECK_THROWS_WITH(ByteStream(tmp.dir.string()), Contains("expected a regular file"));
    CHECK_THROWS_WITH(ByteStream(small, {0.9, -0.05, 0.15}), Contains("split fraction for valid: expected a number >= 0"));
    CHECK_THROWS_WITH(ByteStream(small, {std::numeric_limits<double>::quiet_NaN(), 0.5, 0.5}),
                      Contains("split fraction for train"));
    CHECK_THROWS_WITH(ByteStream(small, {0.9, 0.05, 0.06}), Contains("expected them to sum to 1"));
    // 10 bytes at 0.9 / 0.05 / 0.05: valid gets floor(0.5) = 0 bytes.
    CHECK_THROWS_WITH(ByteStream(small), Contains("small.bin: valid split: expected at least 2 bytes, found 0"));
    CHECK_THROWS_AS(ByteStream(small), elm::InputError);
}
