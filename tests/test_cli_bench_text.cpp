// `elmsim bench-text` end to end on a tiny byte model (the elmsim row of the table, its JSON, bad
// flags exiting 2), and the PyTorch byte LSTM it runs against (tools/reference/lstm_reference.py):
// its parameter match, its split and evaluation bytes against elmsim's, and the full table with
// both rows. The [torch] cases fail when /usr/bin/python3 cannot import torch (tools/setup.sh test
// installs it).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/param_count.hpp"
#include "tests/cli_runner.hpp"
#include "tools/bench/bench_support.hpp"
#include "tests/temp_dir.hpp"
#include "tests/system_python.hpp"

using elm::test::run_command;
using elm::test::run_elmsim;
using elm::test::TempDir;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

// Window 16, batch 4: the 12000-byte file below gives train / valid / test 10800 / 600 / 600 bytes, and
// the 16 evaluation streams of 37 test bytes each hold two 16-byte windows.
constexpr const char* kTinyConfig = R"([task]
kind = "bytes"
bytes = "text.txt"
window = 16
eval_windows = 2

[model]
N = 8
d_m = 4
n_b = 2
k_c = 8
C_e = 8
seed = 1

[train]
optimizer = "adam"
lr = 2e-3
batch_size = 4
clip_norm = 1.0
max_steps = 100
out_dir = "run"
)";

// Learnable bytes: sentences from a small vocabulary, drawn by a fixed linear congruential generator.
std::string tiny_text(std::size_t n) {
    const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"};
    std::string s;
    std::uint32_t x = 12345;
    while (s.size() < n) {
        x = x * 1664525u + 1013904223u;
        s += words[(x >> 16) % 10];
        s += (x >> 8) % 7 == 0 ? ".\n" : " ";
    }
    s.resize(n);
    return s;
}

struct TinyTask {
    TempDir dir{"bench_text"};
    std::string config = dir.file("tiny.toml"), data = dir.file("text.txt");
    TinyTask() {
        elm::test::write_text(config, kTinyConfig);
        elm::test::write_text(data, tiny_text(12000));
    }
};

// The cells of the markdown table row that starts with "| <label>", without the label.
std::vector<std::string> row_cells(const std::string& out, const std::string& label) {
    const std::size_t at = out.find("\n| " + label);
    REQUIRE(at != std::string::npos);
    const std::string line = out.substr(at + 1, out.find('\n', at + 1) - at - 1);
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, '|');) {
        const auto b = c.find_first_not_of(' '), e = c.find_last_not_of(' ');
        if (b != std::string::npos) cells.push_back(c.substr(b, e - b + 1));
    }
    REQUIRE(cells.size() == 7);
    cells.erase(cells.begin());
    return cells;
}

double number(const std::string& cell) {
    char* end = nullptr;
    const double v = std::strtod(cell.c_str(), &end);
    INFO(cell);
    REQUIRE(end != cell.c_str());
    return v;
}

std::string read_all(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// A number field of a flat JSON object ("key": value), or NaN.
double json_field(const std::string& json, const std::string& key) {
    const std::size_t k = json.find("\"" + key + "\"");
    if (k == std::string::npos) return NAN;
    return std::strtod(json.c_str() + json.find(':', k) + 1, nullptr);
}

std::int64_t tiny_params(const std::string& config) {
    return elm::models::count_params(elm::io::load_experiment_config(config).model).P;
}

}  // namespace

TEST_CASE("cli bench-text: the elmsim row of a tiny byte model, no LSTM row with --no-torch", "[cli][bench]") {
    const TinyTask task;
    const std::string json = task.dir.file("out.json");
    const auto r = run_elmsim(fmt::format("bench-text --no-torch --config {} --seconds 1 --gen-bytes 500 --json {}",
                                          task.config, json));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, Catch::Contains("| model | params | steps | train bytes/s | eval bytes/s | generation bytes/s | "
                                         "test bpc after 1 s |"));
    CHECK_THAT(r.output, Catch::Contains("test: the first 2 windows of 16 streams = 512 bytes"));
    const auto elm = row_cells(r.output, "elmsim");
    CHECK(number(elm[0]) == static_cast<double>(tiny_params(task.config)));
    CHECK(number(elm[1]) >= 1);                          // steps
    CHECK(number(elm[2]) > 0);                           // train bytes/s
    CHECK(number(elm[3]) > 0);                           // eval bytes/s
    CHECK(number(elm[4]) > 0);                           // generation bytes/s
    CHECK(number(elm[5]) > 0);                           // test bpc: a real number of bits per byte ...
    CHECK(number(elm[5]) < 9);                           // ... near or below the 8 of a uniform guess
    const auto lstm = row_cells(r.output, "LSTM");
    for (const auto& c : lstm) CHECK(c == "-");
    CHECK_THAT(r.output, Catch::Contains("LSTM: skipped (--no-torch)"));

    const std::string j = read_all(json);
    CHECK_THAT(j, Catch::Contains("\"lstm\":null"));
    CHECK(json_field(j, "eval_bytes") == 512);
    CHECK(json_field(j, "steps") == number(elm[1]));
}

TEST_CASE("cli bench-text: bad flags, missing files and a task that is not bytes exit 2", "[cli][bench][errors]") {
    const TinyTask task;
    const std::string base = "bench-text --no-torch --config " + task.config;
    const std::string shd = task.dir.file("shd.toml");
    elm::test::write_text(shd, "[task]\nkind = \"shd\"\n");
    const std::string no_data = task.dir.file("no_data.toml");
    elm::test::write_text(no_data, std::string(kTinyConfig).replace(std::string(kTinyConfig).find("text.txt"), 8, "gone.txt"));
    const std::vector<std::pair<std::string, std::string>> cases = {
        {base + " --seconds 0", "--seconds: expected"},
        {base + " --seconds nan", "--seconds"},
        {base + " --seconds abc", "--seconds"},
        {base + " --threads 0", "--threads: expected 1 to 1024"},
        {base + " --eval-bytes -1", "--eval-bytes"},
        {base + " --gen-bytes 2000000000", "--gen-bytes"},
        {base + " --lstm-embed 0", "--lstm-embed"},
        {base + " --data " + task.dir.file("missing.bin"), "missing.bin: no such file"},
        {"bench-text --no-torch --config " + task.dir.file("missing.toml"), "missing.toml: no such file"},
        {"bench-text --no-torch --config " + shd, "task.kind: expected \"bytes\""},
        {"bench-text --no-torch --config " + no_data, "--data: required"},
    };
    for (const auto& [args, message] : cases) {
        const auto r = run_elmsim(args);
        INFO(args << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, Catch::Contains(message));
        CHECK_THAT(r.output, !Catch::Contains("| model |"));
    }
    // A file too small for the evaluation streams is refused before any training.
    const std::string small = task.dir.file("small.txt");
    elm::test::write_text(small, tiny_text(2000));
    const auto r = run_elmsim(base + " --data " + small);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Catch::Contains("too few"));
    const auto h = run_elmsim("bench-text --help");
    CHECK(h.code == 0);
    CHECK_THAT(h.output, !Catch::Contains("issue") && !Catch::Contains("Issue"));
}

TEST_CASE("lstm_reference.py: parameter match, elmsim's split and evaluation bytes, JSON fields", "[torch][bench]") {
    elm::test::require_system_python("torch", "python3-torch");
    const TinyTask task;
    const std::string script = std::string(ELM_SOURCE_DIR) + "/tools/reference/lstm_reference.py";
    const std::string json = task.dir.file("lstm.json");
    constexpr int kEmbed = 16;
    constexpr std::int64_t kTarget = 20000;
    const auto r = run_command(fmt::format("{} {} --data {} --params {} --embed {} --window 16 --batch 4 --max-steps 2 "
                                           "--eval-bytes 300 --gen-bytes 50 --threads 1 --json {}",
                                           kPython, script, task.data, kTarget, kEmbed, json));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const std::string j = read_all(json);
    INFO(j);
    for (const char* key : {"params", "embed", "hidden", "threads", "steps", "train_seconds", "train_bytes_per_s",
                            "eval_bytes_per_s", "test_bpc", "bpc_curve", "torch", "eval_bytes", "gen_bytes_per_s"})
        CHECK_THAT(j, Catch::Contains(fmt::format("\"{}\"", key)));
    const double params = json_field(j, "params"), hidden = json_field(j, "hidden");
    // P(H) = 256 E + 4 H (E + H) + 8 H + 256 H + 256, so one hidden unit is worth 4 E + 8 H + 268.
    CHECK(params == 256.0 * kEmbed + 4 * hidden * (kEmbed + hidden) + 8 * hidden + 256 * hidden + 256);
    CHECK(std::fabs(params - kTarget) <= 4.0 * kEmbed + 8 * hidden + 268);
    CHECK(json_field(j, "embed") == kEmbed);
    CHECK(json_field(j, "steps") == 2);
    CHECK(json_field(j, "threads") == 1);
    CHECK(json_field(j, "train_bytes_per_s") > 0);
    CHECK(json_field(j, "eval_bytes_per_s") > 0);
    const double bpc = json_field(j, "test_bpc");
    CHECK((bpc > 0 && bpc < 10));
    // 300 bytes round down to one window of the 16 evaluation streams: 16 x 16 bytes.
    CHECK(json_field(j, "eval_bytes") == 256);
    // The split is elmsim's, byte for byte.
    const elm::io::ByteStream stream(task.data);
    CHECK_THAT(j, Catch::Contains(fmt::format("\"split_bytes\": [{}, {}, {}]", stream.size(elm::io::Split::train),
                                              stream.size(elm::io::Split::valid), stream.size(elm::io::Split::test))));

    const auto bad = run_command(fmt::format("{} {} --data {} --params 1000 --max-steps 1", kPython, script,
                                             task.dir.file("missing.bin")));
    CHECK(bad.code == 2);
    CHECK_THAT(bad.output, Catch::Contains("lstm_reference.py: ") && Catch::Contains("missing.bin"));
}

TEST_CASE("cli bench-text: elmsim and the LSTM side by side score the same test bytes", "[cli][bench][torch]") {
    elm::test::require_system_python("torch", "python3-torch");
    const TinyTask task;
    const std::string json = task.dir.file("out.json");
    const auto r = run_elmsim(fmt::format("bench-text --config {} --seconds 1 --threads 1 --lstm-embed 4 --gen-bytes 100 "
                                          "--reference {}/tools/reference/lstm_reference.py --json {}",
                                          task.config, ELM_SOURCE_DIR, json));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const auto lstm = row_cells(r.output, "LSTM (E 4, H ");
    CHECK(number(lstm[1]) >= 1);
    for (int k = 2; k <= 4; ++k) CHECK(number(lstm[k]) > 0);
    CHECK(number(lstm[5]) > 0);
    const auto ratio = row_cells(r.output, "elmsim / LSTM");
    CHECK_THAT(ratio[2], Catch::EndsWith("x"));
    // torch runs on a tuned BLAS (tools/setup.sh installs OpenBLAS), which the header names; on the
    // reference BLAS the run would warn that its ratios mislead.
    CHECK_THAT(r.output, Catch::Contains(" on BLAS /") && Catch::Contains("openblas"));
    CHECK_THAT(r.output, !Catch::Contains("WARNING"));
    const std::string j = read_all(json);
    CHECK_THAT(j, Catch::Contains("\"eval_bytes\": 512"));  // the LSTM's own count, as elmsim scored
    CHECK_THAT(j, Catch::Contains("\"torch_blas\":\"/") && Catch::Contains("openblas"));
}

TEST_CASE("bench: the reference BLAS is told apart from tuned ones", "[bench]") {
    using elm::bench::is_reference_blas;
    CHECK(is_reference_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"));
    CHECK(is_reference_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0;/usr/lib/x86_64-linux-gnu/libcblas.so"));
    CHECK_FALSE(is_reference_blas("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"));
    // OpenBLAS's LAPACK beside the reference BLAS: the products still run on the reference BLAS
    CHECK(is_reference_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0;/usr/lib/x86_64-linux-gnu/"
                            "openblas-openmp/liblapack.so.3;/usr/lib/x86_64-linux-gnu/openblas-openmp/"
                            "libopenblasp-r0.3.21.so"));
    CHECK_FALSE(is_reference_blas("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3;/usr/lib/x86_64-linux-gnu/"
                                  "openblas-openmp/libopenblasp-r0.3.21.so"));
    CHECK_FALSE(is_reference_blas("/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3"));
    CHECK_FALSE(is_reference_blas("/opt/intel/oneapi/mkl/lib/libmkl_rt.so.2"));
    CHECK_FALSE(is_reference_blas(""));  // torch built with its own kernels maps no BLAS library
}
