// Regression tests for what the fuzz targets (tests/fuzz/, tools/fuzz.sh) found: one test per bug,
// named after what it was (docs/reliability.md lists them).
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/error.hpp"
#include "tests/cli_training.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;

namespace {

int open_descriptors() {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

}  // namespace

TEST_CASE("fuzz regression: a byte file too small for its splits leaked its file descriptor", "[io][fuzz]") {
    // fuzz_byte_stream: after ~20000 such files the process ran out of descriptors.
    const test::TempDir tmp("fuzz_byte_stream");
    std::ofstream(tmp.file("tiny.txt")) << "x";
    const int before = open_descriptors();
    for (int k = 0; k < 200; ++k) CHECK_THROWS_AS(io::ByteStream(tmp.file("tiny.txt")), InputError);
    CHECK(open_descriptors() == before);
}

TEST_CASE("fuzz regression: a damaged variable-length /config length made libhdf5 allocate 4 GB", "[io][fuzz]") {
    // fuzz_checkpoint (out-of-memory): a checkpoint written before checksums keeps /config as a
    // variable-length string; a damaged length reached malloc inside libhdf5's conversion. It is now
    // checked against its heap object first.
    const std::string legacy = std::string(ELM_SOURCE_DIR) + "/tests/data/legacy/model.h5";
    haddr_t at = 0;
    {
        const io::H5File f = io::H5File::open_read(legacy);
        const io::H5Handle ds = io::open_dataset(f.id(), "/config");
        at = H5Dget_offset(ds.id());
    }
    REQUIRE(at != HADDR_UNDEF);
    std::ifstream in(legacy, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(at + 16 <= bytes.size());
    const std::uint32_t huge = 0xFFFFFFF0u;
    std::memcpy(bytes.data() + at, &huge, 4);
    const test::TempDir tmp("fuzz_checkpoint");
    std::ofstream(tmp.file("m.h5"), std::ios::binary) << bytes;
    try {
        io::load_checkpoint(tmp.file("m.h5"));
        FAIL("the damaged checkpoint loaded");
    } catch (const InputError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("/config") != std::string::npos);
        CHECK(what.find("corrupted") != std::string::npos);
    }
}

TEST_CASE("fuzz regression: a global heap free-space record of size 0 made libhdf5 loop forever", "[io][fuzz]") {
    // fuzz_spike_dataset, fuzz_trace, fuzz_checkpoint (timeouts in H5HG__protect): libhdf5's parser
    // of a heap collection steps by the free-space record's size. It is now checked first.
    const std::string shd = std::string(ELM_SOURCE_DIR) + "/tests/data/legacy/data.h5";
    haddr_t at = 0;
    {
        const io::H5File f = io::H5File::open_read(shd);
        const io::H5Handle ds = io::open_dataset(f.id(), "/spikes/times");
        at = H5Dget_offset(ds.id());
    }
    std::ifstream in(shd, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint64_t collection = 0, size = 0;
    std::memcpy(&collection, bytes.data() + at + 4, 8);  // element 0: length, collection address, index
    REQUIRE(bytes.compare(collection, 4, "GCOL") == 0);
    std::memcpy(&size, bytes.data() + collection + 8, 8);
    std::uint64_t off = 16;  // walk to the free space (index 0)
    for (;;) {
        REQUIRE(off + 16 <= size);
        std::uint16_t index = 0;
        std::uint64_t osize = 0;
        std::memcpy(&index, bytes.data() + collection + off, 2);
        std::memcpy(&osize, bytes.data() + collection + off + 8, 8);
        if (index == 0) break;
        off += 16 + (osize + 7) / 8 * 8;
    }
    const std::uint64_t zero = 0;
    std::memcpy(bytes.data() + collection + off + 8, &zero, 8);
    const test::TempDir tmp("fuzz_heap_loop");
    std::ofstream(tmp.file("d.h5"), std::ios::binary) << bytes;
    try {
        io::read_spike_dataset(tmp.file("d.h5"));
        FAIL("the damaged file was read");
    } catch (const InputError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("free-space record") != std::string::npos);
    }
}

// The next two inputs are files without checksummed metadata (superblock 0, as h5py and elmsim
// before checksums wrote them). libhdf5 decodes their object headers and group heaps trusting every
// size, which elmsim cannot check in full; the command line now reads such files in an isolated
// helper process first (io/isolated_read.hpp), and these fuzz findings are what that stops.

// The fuzz target `checkpoint` (ASan): a damaged attribute message in a version 1 object header made
// libhdf5 copy its name past the message (heap-buffer-overflow in H5O__attr_decode under H5Aexists).
TEST_CASE("fuzz regression: a damaged attribute message made libhdf5 read past an object header", "[io][fuzz]") {
    const std::string file = std::string(ELM_SOURCE_DIR) + "/tests/data/fuzz/checkpoint_attribute_name_overrun.h5";
    REQUIRE(io::needs_isolation(file));
    const auto r = test::run_elmsim("info --model " + file);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.find("checkpoint_attribute_name_overrun.h5") != std::string::npos);
}

// The fuzz target `spike_dataset`: a damaged group heap size made libhdf5 allocate beyond the 2 GiB
// limit (out-of-memory in H5HL_protect under a group lookup).
TEST_CASE("fuzz regression: a damaged group heap made libhdf5 allocate gigabytes", "[io][fuzz]") {
    const std::string file = std::string(ELM_SOURCE_DIR) + "/tests/data/fuzz/shd_local_heap_oom.h5";
    REQUIRE(io::needs_isolation(file));
    const test::TempDir tmp("fuzz_heap_oom");
    test::write_text(tmp.dir / "exp.toml", test::spike_config(tmp.dir, 0.0));
    test::require_ok(test::run_elmsim(fmt::format("init --config {0}/exp.toml --out {0}/m.h5", tmp.dir.string())));
    const auto r = test::run_elmsim(fmt::format("eval --model {}/m.h5 --data {}", tmp.dir.string(), file));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.find("shd_local_heap_oom.h5") != std::string::npos);
    CHECK(r.output.find("damaged") != std::string::npos);
}

// The fuzz target `trace`: a damaged stored size in a chunk index (4294967208 bytes for a chunk of
// 64 KiB) made libhdf5 allocate 4 GiB for the filter pipeline before any checksum was verified.
TEST_CASE("fuzz regression: a damaged chunk size made libhdf5 allocate 4 GiB", "[io][fuzz]") {
    const std::string file = std::string(ELM_SOURCE_DIR) + "/tests/data/fuzz/trace_chunk_size_oom.h5";
    try {
        (void)io::read_trace(file);
        FAIL("the damaged trace loaded");
    } catch (const InputError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("trace_chunk_size_oom.h5") != std::string::npos);
        CHECK(what.find("/samples/0/time_ms") != std::string::npos);
        CHECK(what.find("4294967208") != std::string::npos);
        CHECK(what.find('\n') == std::string::npos);
    }
}
