// The global-heap guard (io/vlen_guard.hpp): SHD-format files keep their spike arrays in the HDF5
// global heap, which no checksum covers and libhdf5 1.10 trusts — a damaged heap index or object
// size made it read out of bounds (SIGSEGV in H5HG_read). Damage there is now one error naming the
// file and dataset, checked from the raw bytes before HDF5 reads them; random mutations of an SHD
// file load or are refused, and never crash (a crash ends this test binary).
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"
#include "tests/file_mutation.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;

namespace {

using test::read_bytes;
using test::write_bytes;

// The file offset of a contiguous dataset's elements.
std::uint64_t storage_offset(const std::string& path, const std::string& dataset) {
    const io::H5File f = io::H5File::open_read(path);
    const io::H5Handle ds = io::open_dataset(f.id(), dataset);
    return H5Dget_offset(ds.id());
}

std::string small_shd(const test::TempDir& tmp) {
    const std::string path = tmp.file("d.h5");
    io::write_spike_dataset(path, io::generate_shd(5, 3));
    return path;
}

std::string error_of(const std::string& path) {
    try {
        io::read_spike_dataset(path);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("vlen guard: a damaged heap reference or object size is an error, not a crash", "[io][checksum]") {
    const test::TempDir tmp("vlen_guard");
    const std::string path = small_shd(tmp);
    REQUIRE(error_of(path).empty());
    const std::string original = read_bytes(path);
    const auto at = storage_offset(path, "/spikes/times");
    REQUIRE(at + 16 <= original.size());
    // Element 0 of /spikes/times: length (4 bytes), heap collection address (8), object index (4).
    {
        std::string b = original;
        const std::uint32_t index = 999;  // no such object: libhdf5 would index past its table
        std::memcpy(b.data() + at + 12, &index, 4);
        write_bytes(tmp.file("index.h5"), b);
        const std::string e = error_of(tmp.file("index.h5"));
        INFO(e);
        CHECK(e.find("/spikes/times[0]") != std::string::npos);
        CHECK(e.find("no heap object 999") != std::string::npos);
        CHECK(e.find("corrupted") != std::string::npos);
    }
    {
        std::string b = original;
        std::uint32_t len = 0;
        std::memcpy(&len, b.data() + at, 4);
        len += 1000;  // more values than the object holds: libhdf5 would copy past it
        std::memcpy(b.data() + at, &len, 4);
        write_bytes(tmp.file("length.h5"), b);
        const std::string e = error_of(tmp.file("length.h5"));
        INFO(e);
        CHECK(e.find("in a heap object of") != std::string::npos);
    }
    {
        std::string b = original;
        std::uint64_t addr = 0;
        std::memcpy(&addr, b.data() + at + 4, 8);
        // The collection's first object's size, 8 bytes after its 16-byte header and 8 of object header.
        const std::uint64_t huge = std::uint64_t{1} << 40;
        std::memcpy(b.data() + addr + 16 + 8, &huge, 8);
        write_bytes(tmp.file("size.h5"), b);
        const std::string e = error_of(tmp.file("size.h5"));
        INFO(e);
        CHECK(e.find("overruns its collection") != std::string::npos);
    }
}

TEST_CASE("vlen guard: random mutations of an SHD file load or are refused, never crash", "[io][checksum]") {
    const test::TempDir tmp("vlen_guard_mutations");
    const std::string path = small_shd(tmp);
    const std::string original = read_bytes(path);
    Rng rng(5, 2);
    const auto c = test::load_mutations(original, tmp.file("x.h5"), 500, rng,
                                        [](const std::string& f) { io::read_spike_dataset(f); });
    CHECK(c.refused + c.loaded == 500);
    CHECK(c.refused > 100);
}
