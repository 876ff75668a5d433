// Isolated reads (io/isolated_read.hpp): a file without checksummed metadata (superblock 0 or 1) is
// read by a helper process first; its crash, hang or refusal is one InputError naming the file, and
// files in the 1.10 format never start a helper. The helper's side is checked with stand-in scripts
// (a crash, a hang, a refusal, a success) and with the real elmsim binary on the legacy fixtures.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/models/error.hpp"
#include "tests/temp_dir.hpp"

using namespace elm;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const std::string kLegacy = std::string(ELM_SOURCE_DIR) + "/tests/data/legacy";

// Sets the helper for one test and turns isolation off again after it.
struct HelperScope {
    explicit HelperScope(const std::string& exe) { io::set_isolation_helper(exe); }
    ~HelperScope() {
        io::set_isolation_helper("");
        unsetenv("ELMSIM_ISOLATION_TIMEOUT_S");
    }
};

std::string script(const test::TempDir& tmp, const std::string& name, const std::string& body) {
    const std::string path = tmp.file(name);
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
}

}  // namespace

TEST_CASE("isolated reads: which files need them", "[io][isolation]") {
    const test::TempDir tmp("isolation_which");
    CHECK(io::hdf5_superblock_version(kLegacy + "/model.h5") == 0);
    CHECK(io::hdf5_superblock_version(kLegacy + "/data.h5") == 0);
    // The legacy trace was already in the 1.10 format (its variable-length strings aside).
    CHECK(io::hdf5_superblock_version(kLegacy + "/trace.h5") >= 2);
    CHECK_FALSE(io::needs_isolation(kLegacy + "/trace.h5"));
    io::write_spike_dataset(tmp.file("new.h5"), io::generate_shd(2, 1));
    CHECK(io::hdf5_superblock_version(tmp.file("new.h5")) == 3);
    CHECK_FALSE(io::needs_isolation(tmp.file("new.h5")));
    std::ofstream(tmp.file("text.h5")) << "not an HDF5 file at all";
    CHECK(io::hdf5_superblock_version(tmp.file("text.h5")) == -1);
    CHECK_FALSE(io::needs_isolation(tmp.file("text.h5")));
}

TEST_CASE("isolated reads: the helper's crash, hang or refusal is one error naming the file", "[io][isolation]") {
    const test::TempDir tmp("isolation_helper");
    const std::string model = kLegacy + "/model.h5";
    {
        const HelperScope h(script(tmp, "crash.sh", "kill -SEGV $$"));
        CHECK_THROWS_WITH(io::load_checkpoint(model),
                          Contains("model.h5: the file is damaged: reading it crashed HDF5 (signal 11"));
        CHECK_THROWS_WITH(io::read_spike_dataset(kLegacy + "/data.h5"), Contains("data.h5: the file is damaged"));
        // Files in the 1.10 format have checksums: no helper is asked.
        CHECK(io::read_trace(kLegacy + "/trace.h5").samples.size() == 2);
        io::write_spike_dataset(tmp.file("new.h5"), io::generate_shd(2, 1));
        CHECK(io::read_spike_dataset(tmp.file("new.h5")).samples.size() == 2);
    }
    {
        const HelperScope h(script(tmp, "hang.sh", "exec sleep 60"));
        setenv("ELMSIM_ISOLATION_TIMEOUT_S", "1", 1);
        CHECK_THROWS_WITH(io::load_checkpoint(model), Contains("model.h5: the file is damaged: reading it took longer than 1 s"));
    }
    {
        const HelperScope h(script(tmp, "refuse.sh", "echo 'elmsim: error: x.h5: /model: a made-up refusal' >&2; exit 2"));
        CHECK_THROWS_WITH(io::load_checkpoint(model), Contains("x.h5: /model: a made-up refusal"));
    }
    {
        const HelperScope h(script(tmp, "fail.sh", "echo 'elmsim: internal error: boom' >&2; exit 1"));
        CHECK_THROWS_WITH(io::load_checkpoint(model), Contains("model.h5: the file is damaged: reading it failed in an "
                                                               "isolated process (boom)"));
    }
    {
        // The helper is told what to read: the kind, the path and the reader's options.
        const std::string args = tmp.file("args.txt");
        const HelperScope h(script(tmp, "ok.sh", "echo \"$@\" > " + args));
        CHECK(io::read_spike_dataset(kLegacy + "/data.h5", 3, 700).samples.size() == 3);
        std::ifstream in(args);
        std::string line;
        std::getline(in, line);
        CHECK(line == "__check-file spike-dataset " + kLegacy + "/data.h5 3 700");
    }
    {
        const HelperScope h(tmp.file("missing-helper"));
        CHECK_THROWS_WITH(io::load_checkpoint(model), Contains("model.h5: cannot start the isolated read"));
    }
}

TEST_CASE("isolated reads: the elmsim binary as helper reads the legacy files to the same results", "[io][isolation]") {
    const auto direct = io::load_checkpoint(kLegacy + "/model.h5");
    const auto shd = io::read_spike_dataset(kLegacy + "/data.h5");
    const HelperScope h(ELMSIM_BINARY);
    const auto isolated = io::load_checkpoint(kLegacy + "/model.h5");
    CHECK(isolated.net.params == direct.net.params);
    CHECK(isolated.config_toml == direct.config_toml);
    CHECK(io::read_spike_dataset(kLegacy + "/data.h5").samples.size() == shd.samples.size());
    // A missing file is still the reader's own error.
    CHECK_THROWS_WITH(io::load_checkpoint(kLegacy + "/nope.h5"), Contains("nope.h5") && Contains("does not exist"));
}
