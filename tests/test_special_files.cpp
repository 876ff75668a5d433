// Inputs and outputs that are not regular files, through the real `elmsim` binary:
//  - inputs (data, model, config, sweep plan, token file) that are a FIFO without a writer, a
//    directory, /dev/zero or an oversized token file end at once with exit 2 and one line (before:
//    the open of a FIFO blocked forever, /dev/zero was read until memory ran out);
//  - outputs that exist and are a character device, a FIFO, a directory or a unix socket are refused
//    before any work, and the node is still there, of the same type, afterwards (before: as root,
//    `simulate --trace /dev/full` exited 0 with a regular HDF5 file renamed over the device);
//  - a symbolic link given as output is written through: the link stays a link, its target holds the
//    new file; a dangling link is refused; a planted NAME.tmp link never redirects a write;
//  - whole-number flags are read exactly (before: `--seed -1` became 18446744073709551615).
// Every command runs under `timeout 20`, so a regression that blocks fails (exit 124) instead of
// hanging the suite. Root may rename over anything, so the output cases also run as user nobody
// (setpriv) in a directory nobody may write; as root, the devices are private nodes made with mknod
// in the test directory, never the system's /dev/null, which a regression would replace.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"

using namespace elm;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

// Long enough for any command here on a loaded machine; a blocked open never ends within it.
constexpr int kTimeoutS = 20;
constexpr const char* kNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

test::CliResult run_limited(const std::string& args, const std::string& as_user = "") {
    return test::run_command(fmt::format("timeout {} {}{} {}", kTimeoutS, as_user, ELMSIM_BINARY, args));
}

// Exit 2 and exactly one line, the error, which names `name`.
void check_one_line_refusal(const test::CliResult& r, const std::string& name) {
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.rfind("elmsim: error: ", 0) == 0);
    CHECK_THAT(r.output, Contains(name));
}

// st_mode of `p` itself (a link is not followed); 0 when there is nothing.
mode_t node_type(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

std::string read_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A unix socket bound at `p` (the file stays after the descriptor is closed).
bool make_socket(const fs::path& p) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string name = p.string();
    if (name.size() >= sizeof addr.sun_path) {
        ::close(fd);
        return false;
    }
    std::copy(name.begin(), name.end(), addr.sun_path);
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// SHD-Adding on 12 generated samples (2 x 20 clock updates per pair), a model of it, and a byte model.
std::string adding_config(const fs::path& dir) {
    return fmt::format("[task]\nkind = \"shd-adding\"\ntrain = \"{0}/data.h5\"\ntest = \"{0}/data.h5\"\ndt_ms = 50.0\n"
                       "adding_test_pairs = 4\n\n[model]\nN = 10\nd_m = 4\nn_b = 2\nk_c = 8\nseed = 3\n\n"
                       "[train]\nbatch_size = 2\nmax_steps = 2\nlog_every = 1\nseed = 5\n",
                       dir.string());
}

struct Setup {
    fs::path dir;
    std::string d;
};

Setup make_setup(const std::string& name) {
    Setup s{test::fresh_dir(name), ""};
    s.d = s.dir.string();
    test::require_ok(test::run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 12 --seed 4", s.d)));
    test::write_text(s.dir / "c.toml", adding_config(s.dir));
    test::require_ok(test::run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", s.d)));
    std::string text;
    for (int k = 0; k < 400; ++k) text += "the quick brown fox jumps over the lazy dog\n";
    test::write_text(s.dir / "text.txt", text);
    test::write_text(s.dir / "bytes.toml", test::bytes_config(s.dir));
    test::require_ok(test::run_elmsim(fmt::format("init --config {0}/bytes.toml --out {0}/bm.h5", s.d)));
    return s;
}

// The commands that write `out`, each with valid inputs from the setup.
std::vector<std::string> writers_of(const std::string& d, const std::string& out) {
    return {fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --samples 0:1 --trace {1}", d, out),
            fmt::format("gen-shd --out {} --samples 3 --seed 1", out),
            fmt::format("init --config {0}/c.toml --out {1}", d, out),
            fmt::format("train --config {0}/c.toml --out {1} --max-steps 1 --quiet", d, out)};
}

}  // namespace

TEST_CASE("special files: a FIFO without a writer as data, model, config or plan is refused at once", "[io][cli]") {
    const auto s = make_setup("special_fifo_in");
    const std::string d = s.d, fifo = d + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
    fs::create_directories(s.dir / "sweep");
    REQUIRE(::mkfifo((s.dir / "sweep" / "sweep.json").c_str(), 0644) == 0);
    // Each command and the name its error line gives.
    const std::pair<std::string, std::string> commands[] = {
        {fmt::format("simulate --model {0}/m.h5 --data {1} --trace {0}/t.h5", d, fifo), fifo},
        {fmt::format("simulate --model {0}/bm.h5 --data {1} --trace {0}/t.h5", d, fifo), fifo},  // a byte stream
        {fmt::format("simulate --model {1} --data {0}/data.h5 --trace {0}/t.h5", d, fifo), fifo},
        {fmt::format("eval --model {0}/m.h5 --data {1}", d, fifo), fifo},
        {fmt::format("eval --model {0}/bm.h5 --data {1}", d, fifo), fifo},
        {fmt::format("info --model {}", fifo), fifo},
        {fmt::format("info --config {}", fifo), fifo},
        {fmt::format("init --config {1} --out {0}/x.h5", d, fifo), fifo},
        {fmt::format("train --config {1} --out {0}/x.h5", d, fifo), fifo},
        {fmt::format("train --config {0}/c.toml --init {1} --out {0}/x.h5", d, fifo), fifo},
        {fmt::format("budget --params 2000 --config {}", fifo), fifo},
        {fmt::format("sweep --config {1} --out {0}/sw", d, fifo), fifo},
        {fmt::format("fit --sweep {}/sweep", d), "sweep/sweep.json"},
        {fmt::format("generate --model {} --length 3", fifo), fifo},
    };
    for (const auto& [cmd, name] : commands) {
        INFO(cmd);
        const auto r = run_limited(cmd);
        CHECK(r.code != 124);  // 124: still blocked in the open after kTimeoutS
        check_one_line_refusal(r, name);
        CHECK_THAT(r.output, Contains("FIFO"));
    }
    CHECK(node_type(fifo) == S_IFIFO);
    CHECK_FALSE(fs::exists(s.dir / "t.h5"));
    CHECK_FALSE(fs::exists(s.dir / "x.h5"));
    fs::remove_all(s.dir);
}

TEST_CASE("special files: token files that are a FIFO, /dev/zero, a directory or too long", "[io][cli]") {
    const auto s = make_setup("special_token");
    const std::string d = s.d, fifo = d + "/token_fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
    test::write_text(s.dir / "long_token", std::string(5000, 'k'));
    test::write_text(s.dir / "just_over", std::string(4097, 'k'));
    test::write_text(s.dir / "longest_token", std::string(4096, 'k') + "\n");
    std::vector<std::pair<std::string, std::string>> tokens = {
        {fifo, "FIFO"}, {d, "directory"}, {d + "/long_token", "too long"}, {d + "/just_over", "too long"}};
    if (node_type("/dev/zero") == S_IFCHR) tokens.emplace_back("/dev/zero", "character device");
    for (const auto& [token, why] : tokens) {
        // The server reads its token before it listens; the client before it connects.
        for (const std::string& cmd : {fmt::format("serve --model {}/m.h5 --port 0 --token-file {}", d, token),
                                       fmt::format("client --port 1 --data {}/data.h5 --token-file {}", d, token)}) {
            INFO(cmd);
            const auto r = run_limited(cmd);
            CHECK(r.code != 124);
            check_one_line_refusal(r, token);
            CHECK_THAT(r.output, Contains(why));
        }
    }
    CHECK(node_type(fifo) == S_IFIFO);
    // The longest token the protocol takes, with its newline, is read: the client goes on to connect
    // (to a port where nothing listens) and fails there, not on the token.
    const auto r = run_limited(fmt::format("client --port 1 --data {0}/data.h5 --token-file {0}/longest_token", d));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, !Contains("token"));
    fs::remove_all(s.dir);
}

TEST_CASE("special files: outputs that are a device, FIFO, directory or socket are refused and stay", "[io][cli]") {
    const auto s = make_setup("special_out");
    const bool root = ::geteuid() == 0;
    const bool nobody_possible = root && test::run_command("command -v setpriv").code == 0;
    // A directory anyone may write to: without the check, the rename would replace the nodes in it
    // for nobody as well as for root.
    const fs::path w = s.dir / "w";
    fs::create_directories(w);
    fs::permissions(w, fs::perms::all);
    std::vector<std::pair<std::string, mode_t>> nodes;
    const auto add_node = [&](const std::string& name, mode_t type, bool made) {
        if (made) nodes.emplace_back((w / name).string(), type);
        else WARN("could not make " << name << ": not tested");
    };
    add_node("fifo.h5", S_IFIFO, ::mkfifo((w / "fifo.h5").c_str(), 0666) == 0);
    add_node("dir.h5", S_IFDIR, fs::create_directory(w / "dir.h5"));
    add_node("sock.h5", S_IFSOCK, make_socket(w / "sock.h5"));
    if (root) {
        // Private twins of /dev/null and /dev/full (same device numbers): what a regression replaces
        // is this node, never the system's.
        add_node("null", S_IFCHR, ::mknod((w / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
        add_node("full", S_IFCHR, ::mknod((w / "full").c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0);
    } else {
        for (const char* dev : {"/dev/null", "/dev/full"})
            if (node_type(dev) == S_IFCHR) nodes.emplace_back(dev, S_IFCHR);
    }
    std::vector<std::string> users = {""};
    if (nobody_possible) users.push_back(kNobody);
    for (const auto& user : users) {
        std::vector<std::pair<std::string, mode_t>> all = nodes;
        if (!user.empty())  // nobody cannot write /dev: the system's devices are safe to name
            for (const char* dev : {"/dev/null", "/dev/full"})
                if (node_type(dev) == S_IFCHR) all.emplace_back(dev, S_IFCHR);
        for (const auto& [node, type] : all) {
            for (const auto& cmd : writers_of(s.d, node)) {
                INFO((user.empty() ? "as this user: " : "as nobody: ") << cmd);
                const auto r = run_limited(cmd, user);
                CHECK(r.code != 124);
                check_one_line_refusal(r, node);
                CHECK_THAT(r.output, Contains("expected an output file name"));
                CHECK(node_type(node) == type);
                CHECK_FALSE(fs::exists(node + ".tmp"));
            }
        }
    }
    // Nothing else appeared next to them (no trace, checkpoint, metrics log or temporary file).
    const auto in_w =
        std::count_if(nodes.begin(), nodes.end(), [&](const auto& n) { return fs::path(n.first).parent_path() == w; });
    CHECK(std::distance(fs::directory_iterator(w), fs::directory_iterator()) == in_w);
    fs::remove_all(s.dir);
}

TEST_CASE("special files: a symbolic link as output is written through, a dangling one is refused", "[io][cli]") {
    const auto s = make_setup("special_link");
    const fs::path targets = s.dir / "targets";
    fs::create_directories(targets);
    SECTION("simulate --trace, gen-shd --out and init --out through links to earlier files") {
        const std::string d = s.d;
        for (const char* name : {"trace.h5", "data2.h5", "model2.h5"}) {
            test::write_text(targets / name, "an earlier file");
            fs::create_symlink(targets / name, s.dir / (std::string("link_") + name));
        }
        test::require_ok(run_limited(
            fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --samples 0:2 --trace {0}/link_trace.h5", d)));
        test::require_ok(run_limited(fmt::format("gen-shd --out {}/link_data2.h5 --samples 5 --seed 2", d)));
        test::require_ok(run_limited(fmt::format("init --config {0}/c.toml --out {0}/link_model2.h5", d)));
        for (const char* name : {"trace.h5", "data2.h5", "model2.h5"}) {
            INFO(name);
            const fs::path link = s.dir / (std::string("link_") + name);
            CHECK(fs::is_symlink(link));
            CHECK(fs::read_symlink(link) == targets / name);
            CHECK(fs::is_regular_file(targets / name));
            CHECK_FALSE(fs::exists(link.string() + ".tmp"));
            CHECK_FALSE(fs::exists((targets / name).string() + ".tmp"));
        }
        // The targets hold the new files, read through the links and directly.
        CHECK(io::read_trace(d + "/link_trace.h5").samples.size() == 2);
        CHECK(io::read_trace((targets / "trace.h5").string()).samples.size() == 2);
        CHECK(io::read_spike_dataset((targets / "data2.h5").string()).samples.size() == 5);
        CHECK(io::load_checkpoint((targets / "model2.h5").string()).net.cfg.N == 10);
    }
    SECTION("a dangling link and a link to a FIFO are refused; nothing is created through them") {
        fs::create_symlink(targets / "missing.h5", s.dir / "dangling.h5");
        REQUIRE(::mkfifo((targets / "fifo").c_str(), 0644) == 0);
        fs::create_symlink(targets / "fifo", s.dir / "to_fifo.h5");
        for (const char* name : {"dangling.h5", "to_fifo.h5"}) {
            const std::string link = (s.dir / name).string();
            for (const auto& cmd : writers_of(s.d, link)) {
                INFO(cmd);
                const auto r = run_limited(cmd);
                check_one_line_refusal(r, link);
                CHECK(fs::is_symlink(link));
            }
        }
        CHECK_FALSE(fs::exists(targets / "missing.h5"));
        CHECK(node_type(targets / "missing.h5") == 0);
        CHECK(node_type(targets / "fifo") == S_IFIFO);
    }
    fs::remove_all(s.dir);
}

TEST_CASE("special files: a planted NAME.tmp never redirects a write", "[io][cli]") {
    const auto s = make_setup("special_tmp");
    const std::string d = s.d;
    test::write_text(s.dir / "victim.txt", "precious bytes");
    SECTION("a NAME.tmp link to a victim file is removed, the victim is untouched") {
        const std::vector<std::pair<std::string, std::string>> outputs = {
            {"t.h5", fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --samples 0:1 --trace {0}/t.h5", d)},
            {"x.h5", fmt::format("init --config {0}/c.toml --out {0}/x.h5", d)},
            {"g.h5", fmt::format("gen-shd --out {}/g.h5 --samples 3 --seed 1", d)}};
        for (const auto& [name, cmd] : outputs) {
            INFO(cmd);
            fs::create_symlink(s.dir / "victim.txt", s.dir / (name + ".tmp"));
            test::require_ok(run_limited(cmd));
            CHECK(read_bytes(s.dir / "victim.txt") == "precious bytes");
            CHECK(node_type(s.dir / name) == S_IFREG);
            CHECK(node_type(s.dir / (name + ".tmp")) == 0);
        }
        CHECK(io::read_trace(d + "/t.h5").samples.size() == 1);
        CHECK(io::load_checkpoint(d + "/x.h5").net.cfg.N == 10);
        CHECK(io::read_spike_dataset(d + "/g.h5").samples.size() == 3);
    }
    SECTION("a NAME.tmp that is a FIFO is refused, not opened") {
        REQUIRE(::mkfifo((s.dir / "t.h5.tmp").c_str(), 0644) == 0);
        const auto r = run_limited(fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/t.h5", d));
        CHECK(r.code != 124);
        check_one_line_refusal(r, "t.h5.tmp");
        CHECK(node_type(s.dir / "t.h5.tmp") == S_IFIFO);
        CHECK_FALSE(fs::exists(s.dir / "t.h5"));
    }
    fs::remove_all(s.dir);
}

TEST_CASE("special files: whole-number flags are read exactly or refused in one line", "[io][cli]") {
    const auto s = make_setup("special_flags");
    const std::string d = s.d;
    const std::string bad[] = {
        fmt::format("gen-shd --out {}/g.h5 --samples 3 --seed -1", d),  // unsigned: was 2^64 - 1
        fmt::format("gen-shd --out {}/g.h5 --samples 99999999999999999999", d),  // was saturated to 2^63 - 1
        fmt::format("generate --model {}/bm.h5 --length 3 --seed 18446744073709551616", d),
        fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/t.h5 --samples 9223372036854775807", d),
        fmt::format("simulate --model {0}/m.h5 --data {0}/data.h5 --trace {0}/t.h5 --decimate -9223372036854775809", d),
        fmt::format("fit --sweep {} --seed -5", d),
        fmt::format("client --port 1 --data {}/data.h5 --chunk-bytes 18446744073709551615", d),
        fmt::format("client --port 1 --data {}/data.h5 --timeout 1e300", d),
        fmt::format("sweep --config {0}/c.toml --out {0}/sw --workers 2147483647", d),
        "bench-event --d-m 2147483647",
        "bench-event --T 2147483647 --B 2147483647",
    };
    for (const auto& cmd : bad) {
        INFO(cmd);
        const auto r = run_limited(cmd);
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        CHECK(r.output.rfind("elmsim: error: --", 0) == 0);  // the line names the flag
    }
    CHECK_FALSE(fs::exists(s.dir / "g.h5"));
    CHECK_FALSE(fs::exists(s.dir / "t.h5"));
    // The largest step count, resumed at step 1, runs to train.max_steps (2); 1 + 2^63 - 1 wrapped
    // below the current step, and the run stopped at once.
    test::require_ok(run_limited(fmt::format("train --config {0}/c.toml --out {0}/x.h5 --max-steps 1 --quiet", d)));
    const auto r = run_limited(fmt::format(
        "train --config {0}/c.toml --resume {0}/x.h5 --out {0}/y.h5 --max-steps 9223372036854775807 --quiet", d));
    test::require_ok(r);
    CHECK_THAT(r.output, Contains("final: step 2"));
    fs::remove_all(s.dir);
}
