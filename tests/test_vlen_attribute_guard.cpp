// The global-heap guard for variable-length string attributes (io/vlen_guard.hpp,
// io/object_header.hpp). Files from before checksums (tests/data/legacy/) and h5py's keep string
// attributes as global heap references inside object headers; libhdf5 follows a damaged reference
// unchecked (SIGSEGV in H5HG_read: 1 in 1000 byte mutations of a legacy checkpoint). elmsim now
// finds the stored reference by walking the object header itself (version 1 and 2 headers,
// continuation blocks) and checks it first. A crash ends this test binary.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/object_header.hpp"
#include "elmsim/io/raw_file.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"
#include "tests/file_mutation.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;

namespace {

using test::read_bytes;
using test::write_bytes;

// A variable-length string attribute written the way h5py and elmsim's old writer did.
void write_vl_attr(hid_t obj, const std::string& name, const std::string& value) {
    const io::H5Handle type = io::vl_utf8_string_type();
    const io::H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const io::H5Handle attr(H5Acreate2(obj, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    REQUIRE(attr.valid());
    const char* p = value.c_str();
    REQUIRE(H5Awrite(attr.id(), type.id(), &p) >= 0);
}

// A file whose group /g carries `count` variable-length string attributes "attribute_<k>" = "value
// number <k>", in the 1.8-compatible format (version 1 object headers) or the latest (version 2),
// where compact storage is kept for all of them so that the header grows continuation blocks.
void write_file(const std::string& path, bool latest, int count) {
    const io::H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (latest) H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    const io::H5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose);
    REQUIRE(file.valid());
    const io::H5Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
    if (latest) H5Pset_attr_phase_change(gcpl.id(), 1000, 900);
    const io::H5Handle g(H5Gcreate2(file.id(), "g", H5P_DEFAULT, gcpl.id(), H5P_DEFAULT), H5Gclose);
    REQUIRE(g.valid());
    for (int k = 0; k < count; ++k) write_vl_attr(g.id(), fmt::format("attribute_{}", k), fmt::format("value number {}", k));
}

std::string read_attr(const std::string& path, const std::string& name) {
    const io::H5File f = io::H5File::open_read(path);
    const io::H5Handle g = io::open_group(f.id(), "g");
    return io::read_attr_string(g.id(), name);
}

std::string error_of(const std::string& path, const std::string& name) {
    try {
        read_attr(path, name);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

// The file offset of /g's object header.
haddr_t header_of(const std::string& path) {
    const io::H5File f = io::H5File::open_read(path);
    const io::H5Handle g = io::open_group(f.id(), "g");
    H5O_info_t info{};
    REQUIRE(H5Oget_info2(g.id(), &info, H5O_INFO_BASIC) >= 0);
    return info.addr;
}

// Where attribute `name` of /g keeps its value (its 16-byte heap reference).
io::AttributeBytes value_of(const std::string& path, const std::string& name) {
    const io::RawFile raw(path);
    return io::find_attribute_value(raw, header_of(path), 8, 8, name);
}

}  // namespace

TEST_CASE("vlen attribute guard: the stored reference is found in version 1 and 2 headers, continuations included",
          "[io][checksum]") {
    const test::TempDir tmp("vlen_attr_find");
    for (const bool latest : {false, true}) {
        INFO("latest format: " << latest);
        const std::string path = tmp.file(latest ? "v2.h5" : "v1.h5");
        write_file(path, latest, 40);  // 40 attributes do not fit the first header chunk
        H5O_info_t info{};
        {
            const io::H5File f = io::H5File::open_read(path);
            const io::H5Handle g = io::open_group(f.id(), "g");
            REQUIRE(H5Oget_info2(g.id(), &info, H5O_INFO_HDR) >= 0);
        }
        CHECK(info.hdr.version == (latest ? 2u : 1u));
        CHECK(info.hdr.nchunks > 1);
        const std::string bytes = read_bytes(path);
        for (const int k : {0, 17, 39}) {
            const std::string name = fmt::format("attribute_{}", k), value = fmt::format("value number {}", k);
            CHECK(read_attr(path, name) == value);
            const io::AttributeBytes at = value_of(path, name);
            REQUIRE(at.damage.empty());
            REQUIRE(at.found == io::AttributeBytes::Found::yes);
            REQUIRE(at.size >= 16);
            // The reference: the string's length, a heap collection's address, the object's index.
            std::uint32_t len = 0;
            std::uint64_t addr = 0;
            std::memcpy(&len, bytes.data() + at.at, 4);
            std::memcpy(&addr, bytes.data() + at.at + 4, 8);
            CHECK(len == value.size());
            REQUIRE(addr + 4 <= bytes.size());
            CHECK(bytes.compare(addr, 4, "GCOL") == 0);
        }
        CHECK(value_of(path, "attribute_40").found == io::AttributeBytes::Found::no);
        CHECK(value_of(path, "attribute_").found == io::AttributeBytes::Found::no);
    }
}

TEST_CASE("vlen attribute guard: a damaged reference in an attribute is an error, not a crash", "[io][checksum]") {
    const test::TempDir tmp("vlen_attr_damage");
    const std::string path = tmp.file("a.h5");
    write_file(path, false, 3);
    const std::string original = read_bytes(path);
    const io::AttributeBytes at = value_of(path, "attribute_1");
    REQUIRE(at.found == io::AttributeBytes::Found::yes);
    {
        std::string b = original;
        const std::uint32_t index = 999;  // no such object: libhdf5 would index past its table
        std::memcpy(b.data() + at.at + 12, &index, 4);
        write_bytes(tmp.file("index.h5"), b);
        const std::string e = error_of(tmp.file("index.h5"), "attribute_1");
        INFO(e);
        CHECK(e.find("attribute 'attribute_1'") != std::string::npos);
        CHECK(e.find("no heap object 999") != std::string::npos);
        CHECK(e.find("corrupted") != std::string::npos);
        CHECK(read_attr(tmp.file("index.h5"), "attribute_0") == "value number 0");
    }
    {
        std::string b = original;
        const std::uint32_t len = 1000;  // longer than the object: libhdf5 would copy past it
        std::memcpy(b.data() + at.at, &len, 4);
        write_bytes(tmp.file("length.h5"), b);
        const std::string e = error_of(tmp.file("length.h5"), "attribute_1");
        INFO(e);
        CHECK(e.find("1000 values of 1 bytes in a heap object of") != std::string::npos);
    }
    {
        std::string b = original;
        const std::uint64_t addr = 48;  // inside the superblock: no collection there
        std::memcpy(b.data() + at.at + 4, &addr, 8);
        write_bytes(tmp.file("address.h5"), b);
        const std::string e = error_of(tmp.file("address.h5"), "attribute_1");
        INFO(e);
        CHECK(e.find("no heap collection at 48") != std::string::npos);
    }
}

TEST_CASE("vlen attribute guard: a damaged object header never makes the walk read outside the file or loop",
          "[io][checksum]") {
    const test::TempDir tmp("vlen_attr_header");
    const std::string path = tmp.file("a.h5");
    write_file(path, false, 40);
    const haddr_t header = header_of(path);
    const std::string original = read_bytes(path);
    // Every single-byte change of the header's first 4 KiB (and the continuation blocks there): the
    // walk ends with the value, "not found" or a damage text, always inside the file.
    Rng rng(11, 3);
    int found = 0, damaged = 0;
    for (std::size_t k = 0; k < 2000; ++k) {
        std::string b = original;
        const std::size_t at = header + static_cast<std::size_t>(rng.below(4096));
        if (at >= b.size()) continue;
        b[at] = static_cast<char>(b[at] ^ static_cast<char>(1 + rng.below(255)));
        write_bytes(tmp.file("x.h5"), b);
        const io::RawFile raw(tmp.file("x.h5"));
        const io::AttributeBytes v = io::find_attribute_value(raw, header, 8, 8, "attribute_39");
        if (v.found == io::AttributeBytes::Found::yes) {
            ++found;
            CHECK(v.at + v.size <= b.size());
        }
        if (!v.damage.empty()) ++damaged;
    }
    CHECK(found > 500);
    CHECK(damaged > 0);
    // A continuation that names its own chunk is a loop, reported as damage.
    {
        std::string b = original;
        const std::uint64_t first_chunk = header + 16;
        // Find the first continuation message (type 0x0010) of the first chunk and point it at itself.
        std::uint32_t chunk_size = 0;
        std::memcpy(&chunk_size, b.data() + header + 8, 4);
        std::size_t off = 0;
        bool patched = false;
        while (off + 8 <= chunk_size) {
            std::uint16_t type = 0, size = 0;
            std::memcpy(&type, b.data() + first_chunk + off, 2);
            std::memcpy(&size, b.data() + first_chunk + off + 2, 2);
            if (type == 0x0010) {
                std::memcpy(b.data() + first_chunk + off + 8, &first_chunk, 8);
                const std::uint64_t length = chunk_size;
                std::memcpy(b.data() + first_chunk + off + 16, &length, 8);
                patched = true;
                break;
            }
            off += 8 + size;
        }
        REQUIRE(patched);
        write_bytes(tmp.file("loop.h5"), b);
        const io::RawFile raw(tmp.file("loop.h5"));
        const io::AttributeBytes v = io::find_attribute_value(raw, header, 8, 8, "attribute_39");
        CHECK(v.damage.find("loop") != std::string::npos);
    }
}

// Read as the command line reads it: a legacy checkpoint has no checksummed metadata, so the elmsim
// binary reads it in an isolated process first (io/isolated_read.hpp). In-process alone, libhdf5's
// unchecked decoding of its object headers can still allocate gigabytes (an abort under ASan).
TEST_CASE("vlen attribute guard: random mutations of a legacy checkpoint, read as the CLI reads them, load or are refused",
          "[io][checksum]") {
    const std::string legacy = std::string(ELM_SOURCE_DIR) + "/tests/data/legacy/model.h5";
    const test::TempDir tmp("vlen_attr_legacy");
    const std::string original = read_bytes(legacy);
    REQUIRE(!original.empty());
    struct Isolated {
        Isolated() { io::set_isolation_helper(ELMSIM_BINARY); }
        ~Isolated() { io::set_isolation_helper(""); }
    } isolated;
    Rng rng(13, 1);
    const auto c = test::load_mutations(original, tmp.file("x.h5"), 150, rng,
                                        [](const std::string& f) { io::load_checkpoint(f); });
    CHECK(c.refused + c.loaded == 150);
    CHECK(c.refused > 10);
}

TEST_CASE("vlen attribute guard: attributes in dense storage are left to HDF5 and still read", "[io][checksum]") {
    const test::TempDir tmp("vlen_attr_dense");
    const std::string path = tmp.file("dense.h5");
    {
        const io::H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
        H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        const io::H5Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose);
        const io::H5Handle g(H5Gcreate2(file.id(), "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        // More than 8 attributes (the default phase change) go to a fractal heap.
        for (int k = 0; k < 12; ++k) write_vl_attr(g.id(), fmt::format("attribute_{}", k), fmt::format("value number {}", k));
    }
    CHECK(value_of(path, "attribute_3").found == io::AttributeBytes::Found::elsewhere);
    CHECK(read_attr(path, "attribute_3") == "value number 3");
}
