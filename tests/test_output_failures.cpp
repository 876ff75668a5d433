// Outputs that cannot be written (docs/reliability.md), for every file elmsim writes:
//  - A full disk: the writes fail partway. The limit is the kernel's file-size limit (`ulimit -f`,
//    with SIGXFSZ ignored so that a write past it fails with EFBIG instead of killing the process):
//    deterministic, and it needs neither root nor a small file system. Each command must end with one
//    line naming the file and exit 2, leave no output and no temporary file behind, and leave an
//    earlier file of the same name byte for byte as it was. (Before: `gen-shd` said "wrote" and
//    exited 0 with a torn file, `simulate --trace` died of SIGSEGV in libhdf5's exit handler, and a
//    metrics log ended silently.)
//  - A read-only output directory: refused before any work, one line, exit 2. Root writes anyway,
//    so as root the commands run as user nobody (setpriv).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "tests/cli_training.hpp"
#include "tests/file_mutation.hpp"

using namespace elm;
namespace fs = std::filesystem;

namespace {

// `elmsim ARGS` with writes failing past `kib` KiB per file.
test::CliResult run_with_full_disk(int kib, const std::string& args) {
    return test::run_command(fmt::format("bash -c 'trap \"\" XFSZ; ulimit -f {}; exec {} {}'", kib, ELMSIM_BINARY, args));
}

// The names in `dir`, sorted.
std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

// Exit 2 with one last line that names `file` and says the disk may be full; `dir` holds exactly
// the files of `before`.
void check_refused(const test::CliResult& r, const std::string& file, const fs::path& dir,
                   const std::vector<std::string>& before) {
    INFO(r.output);
    CHECK(r.code == 2);
    const auto last = r.output.rfind("elmsim: error: ");
    REQUIRE(last != std::string::npos);
    const std::string line = r.output.substr(last);
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    CHECK(line.find(file) != std::string::npos);
    CHECK(line.find("disk full") != std::string::npos);
    CHECK(listing(dir) == before);
}

}  // namespace

TEST_CASE("full disk: gen-shd, init, train and simulate end in one line and leave no damaged file", "[cli][reliability]") {
    const auto dir = test::spike_dir("full_disk");
    test::write_text(dir / "exp.toml", test::spike_config(dir, 0.0));
    test::require_ok(test::run_elmsim(fmt::format("train --config {0}/exp.toml --out {0}/model.h5 --max-steps 2", dir.string())));
    fs::remove(dir / "model.metrics.jsonl");
    const auto before = listing(dir);

    SECTION("gen-shd, for every size at which the disk fills") {
        for (const int kib : {1, 8, 40}) {
            INFO("limit " << kib << " KiB");
            check_refused(run_with_full_disk(kib, fmt::format("gen-shd --out {}/new.h5 --samples 200 --seed 1", dir.string())),
                          "new.h5", dir, before);
        }
    }
    SECTION("a checkpoint over an earlier one stays the earlier one") {
        const std::string old = test::read_bytes(dir / "model.h5");
        check_refused(run_with_full_disk(8, fmt::format("init --config {0}/exp.toml --out {0}/model.h5", dir.string())),
                      "model.h5", dir, before);
        CHECK(test::read_bytes(dir / "model.h5") == old);
    }
    SECTION("train: the final checkpoint") {
        const auto r = run_with_full_disk(16, fmt::format("train --config {0}/exp.toml --out {0}/new.h5 --max-steps 2", dir.string()));
        // The metrics log is short enough to be written; the checkpoint is not.
        fs::remove(dir / "new.metrics.jsonl");
        check_refused(r, "new.h5", dir, before);
    }
    SECTION("train: the metrics log stops the run") {
        const auto r = run_with_full_disk(1, fmt::format("train --config {0}/exp.toml --out {0}/new.h5 --max-steps 40", dir.string()));
        INFO(r.output);
        CHECK(r.output.find("new.metrics.jsonl: cannot write the metrics log (disk full?)") != std::string::npos);
        CHECK(!fs::exists(dir / "new.h5"));
        fs::remove(dir / "new.metrics.jsonl");
        check_refused(r, "new.metrics.jsonl", dir, before);
    }
    SECTION("simulate --trace") {
        const std::string cmd = fmt::format("simulate --model {0}/model.h5 --data {0}/test.h5 --trace {0}/t.h5 --record y,m,b", dir.string());
        for (const int kib : {4, 32}) {
            INFO("limit " << kib << " KiB");
            check_refused(run_with_full_disk(kib, cmd), "t.h5", dir, before);
        }
        // And with room, the same command writes its trace.
        test::require_ok(test::run_elmsim(cmd));
        CHECK(fs::exists(dir / "t.h5"));
    }
    fs::remove_all(dir);
}

TEST_CASE("read-only output directory: every writer refuses before any work, in one line", "[cli][reliability]") {
    const auto dir = test::spike_dir("read_only_out");
    test::write_text(dir / "exp.toml", test::spike_config(dir, 0.0));
    test::require_ok(test::run_elmsim(fmt::format("train --config {0}/exp.toml --out {0}/model.h5 --max-steps 1", dir.string())));
    fs::create_directories(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
    // Root may write into any directory: run as nobody, who may read the inputs but not write there.
    std::string as_user;
    if (::geteuid() == 0) {
        if (test::run_command("command -v setpriv").code != 0) {
            WARN("running as root without setpriv: the read-only directory cannot be tested");
            return;
        }
        as_user = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    }
    const std::string d = dir.string();
    for (const std::string& cmd : {fmt::format("gen-shd --out {}/ro/x.h5 --samples 3 --seed 1", d),
                                   fmt::format("init --config {0}/exp.toml --out {0}/ro/x.h5", d),
                                   fmt::format("train --config {0}/exp.toml --out {0}/ro/x.h5 --max-steps 1", d),
                                   fmt::format("simulate --model {0}/model.h5 --data {0}/test.h5 --trace {0}/ro/x.h5", d)}) {
        const auto r = test::run_command(as_user + ELMSIM_BINARY + " " + cmd);
        INFO(cmd << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        CHECK(r.output.find("ro/x.h5: cannot write: directory") != std::string::npos);
        CHECK(r.output.find("is not writable") != std::string::npos);
        CHECK(fs::is_empty(dir / "ro"));
    }
    fs::permissions(dir / "ro", fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir);
}
