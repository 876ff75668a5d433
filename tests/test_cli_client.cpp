// `elmsim serve` + `elmsim client` end to end on 127.0.0.1, as a user runs them: the client's
// replayed samples give exactly what `simulate` gives on the same file and range — per sample the
// number of updates, the prediction and the final logits bit for bit, and the same accuracy — in
// clock and event mode, with and without micro-batching, over one and many sessions; a byte model's
// bpc likewise; real-time pacing; and bad inputs of the client (no server, wrong data, bad range) and
// of the server (flags) are one line and exit code 2, while SIGINT stops the server.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/trace_reader.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"

using namespace elm;
namespace fs = std::filesystem;
using test::require_ok;
using test::run_elmsim;

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// `elmsim serve --port 0` in the background; its port read from its first line. SIGINT on scope exit.
class ServerProcess {
public:
    ServerProcess(const std::filesystem::path& dir, const std::string& args) : log_(dir / "serve.log") {
        std::filesystem::remove(log_);
        const auto r = test::run_command(
            fmt::format("{} serve --port 0 {} > {} 2>&1 & echo $!", ELMSIM_BINARY, args, log_.string()));
        pid_ = std::stoi(r.output);
        for (int k = 0; k < 200 && port_ == 0; ++k) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const std::string text = read_file(log_);
            const auto at = text.find("127.0.0.1:");
            if (at != std::string::npos) port_ = std::atoi(text.c_str() + at + 10);
            if (text.find("error") != std::string::npos) break;
        }
        INFO(read_file(log_));
        REQUIRE(port_ > 0);
    }
    ~ServerProcess() { stop(); }

    int port() const { return port_; }
    // SIGINT; true once the process has gone (within 10 s).
    bool stop() {
        if (pid_ <= 0) return true;
        kill(pid_, SIGINT);
        for (int k = 0; k < 200; ++k) {
            if (kill(pid_, 0) != 0) {
                pid_ = -1;
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        kill(pid_, SIGKILL);
        pid_ = -1;
        return false;
    }
    std::string log() const { return read_file(log_); }

private:
    std::filesystem::path log_;
    int pid_ = -1, port_ = 0;
};

void fs_copy(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

// The number after `key` in a command's output ("" when absent).
std::string number_after(const std::string& text, const std::string& key) {
    const auto at = text.find(key);
    if (at == std::string::npos) return "";
    std::size_t b = at + key.size(), e = b;
    while (e < text.size() && (std::isdigit(static_cast<unsigned char>(text[e])) || text[e] == '.')) ++e;
    return text.substr(b, e - b);
}

// The client's per-sample lines against simulate's trace (logits of every update recorded).
void check_same_as_simulate(const std::filesystem::path& out, const std::filesystem::path& trace, int first, int count) {
    const auto tr = io::read_trace(trace.string());
    REQUIRE(static_cast<int>(tr.samples.size()) == count);
    std::ifstream f(out);
    std::string line;
    int k = 0;
    while (std::getline(f, line)) {
        INFO("sample " << k);
        REQUIRE(k < count);
        const auto j = nlohmann::json::parse(line);
        const auto& ts = tr.samples[static_cast<std::size_t>(k)];
        CHECK(j["index"] == first + k);
        CHECK(j["index"] == ts.source_index);
        CHECK(j["label"] == ts.label);
        CHECK(j["updates"] == ts.T);
        CHECK(j["prediction"] == ts.prediction);
        const auto n_out = static_cast<std::ptrdiff_t>(tr.n_out);
        const std::vector<float> last(ts.logits.end() - n_out, ts.logits.end());
        CHECK(j["logits"].get<std::vector<float>>() == last);  // bit for bit, through JSON
        ++k;
    }
    CHECK(k == count);
}

}  // namespace

TEST_CASE("cli client: replayed samples equal simulate, clock and event, batched or not", "[cli][client]") {
    const auto dir = test::spike_dir("client");  // SHD-Adding, 50 ms bins, 8 evaluation pairs of test.h5
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", test::spike_config(dir, 0.0));
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)));
    struct Case {
        std::string server, mode_flags, client_flags;
    };
    const Case cases[] = {
        {"", "", ""},                                                          // clock, batched, one session
        {"", "--mode event --resolution-ms 0.5 --max-dt-ms 20", "--connections 2 --sessions 2 --chunk-ms 37"},
        {"--batch-rows 0", "--mode event --resolution-ms 1 --max-dt-ms 50", "--sessions 3 --chunk-ms 500"},
        {"--batch-rows 3 --batch-window-ms 2", "", "--connections 3 --chunk-ms 10"},  // clock, batches of 3
    };
    for (const auto& c : cases) {
        INFO("serve " << c.server << " | " << c.mode_flags << " " << c.client_flags);
        ServerProcess server(dir, fmt::format("--model {}/m.h5 {}", d, c.server));
        const auto client = run_elmsim(fmt::format("client --port {} --data {}/test.h5 --samples 1:7 --out {}/c.jsonl {} {}",
                                                   server.port(), d, d, c.mode_flags, c.client_flags));
        require_ok(client);
        const auto sim = run_elmsim(fmt::format("simulate --model {0}/m.h5 --data {0}/test.h5 --samples 1:7 --record "
                                                "logits --trace {0}/t.h5 {1}",
                                                d, c.mode_flags));
        require_ok(sim);
        INFO(client.output << sim.output);
        check_same_as_simulate(dir / "c.jsonl", dir / "t.h5", 1, 6);
        CHECK(number_after(client.output, "accuracy ") == number_after(sim.output, "accuracy "));
        CHECK_THAT(client.output, Catch::Contains("p99"));
        CHECK_THAT(client.output, Catch::Contains("events/s"));
        CHECK(server.stop());
        CHECK_THAT(server.log(), Catch::Contains("stopped"));
    }
}

TEST_CASE("cli client: a byte model's bpc over the server equals simulate's", "[cli][client]") {
    const auto dir = test::fresh_dir("client_bytes");
    const std::string d = dir.string();
    std::string text;
    for (int k = 0; k < 40; ++k) text += fmt::format("the {} quick brown foxes jump over {} lazy dogs. ", k, k % 7);
    test::write_text(dir / "text.txt", text);
    test::write_text(dir / "b.toml", test::bytes_config(dir));
    require_ok(run_elmsim(fmt::format("init --config {0}/b.toml --out {0}/b.h5", d)));
    ServerProcess server(dir, fmt::format("--model {}/b.h5", d));
    for (const std::string mode : {"", "--mode event --resolution-ms 3 --max-dt-ms 7"}) {
        INFO("mode flags: " << mode);
        const auto client = run_elmsim(fmt::format("client --port {} --data {}/text.txt --samples 5:900 --chunk-bytes 77 {}",
                                                   server.port(), d, mode));
        require_ok(client);
        const auto sim = run_elmsim(
            fmt::format("simulate --model {0}/b.h5 --data {0}/text.txt --samples 5:900 --trace {0}/t.h5 {1}", d, mode));
        require_ok(sim);
        INFO(client.output << sim.output);
        const auto tail = [](const std::string& s) { return s.substr(s.find("bytes, bpc"), s.find('\n') - s.find("bytes, bpc")); };
        CHECK(tail(client.output) == tail(sim.output));  // "bytes, bpc X over Y predicted bytes, next-byte accuracy Z"
    }
    // Spike data to a byte model: one line, exit 2.
    require_ok(run_elmsim(fmt::format("gen-shd --out {}/data.h5 --samples 2 --seed 4", d)));
    const auto wrong = run_elmsim(fmt::format("client --port {} --data {}/data.h5", server.port(), d));
    CHECK(wrong.code == 2);
}

TEST_CASE("cli client: real time, bad inputs, no server", "[cli][client]") {
    const auto dir = test::spike_dir("client_bad");
    const std::string d = dir.string();
    test::write_text(dir / "c.toml", test::spike_config(dir, 0.0));
    require_ok(run_elmsim(fmt::format("init --config {0}/c.toml --out {0}/m.h5", d)));
    fs_copy(dir / "test.h5", dir / "data.h5");
    ServerProcess server(dir, fmt::format("--model {}/m.h5", d));
    // Real time: a pair of 2 x 1 s is sent over at least its own duration.
    const auto t0 = std::chrono::steady_clock::now();
    const auto rt = run_elmsim(fmt::format("client --port {} --data {}/data.h5 --samples 0:1 --realtime --chunk-ms 100",
                                           server.port(), d));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    require_ok(rt);
    CHECK_THAT(rt.output, Catch::Contains("real time"));
    CHECK(wall >= 1.9);
    const std::string bad[] = {
        fmt::format("client --port {} --data {}/data.h5 --samples 5:99", server.port(), d),   // beyond the 8 pairs
        fmt::format("client --port {} --data {}/data.h5 --samples x", server.port(), d),
        fmt::format("client --port {} --data {}/missing.h5", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --mode sideways", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --mode clock --resolution-ms 0.5", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --chunk-ms 0", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --chunk-ms nan", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --chunk-ms inf", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --mode event --resolution-ms nan", server.port(), d),
        fmt::format("client --port {} --data {}/data.h5 --connections 0", server.port(), d),
        fmt::format("client --port 0 --data {}/data.h5", d),
        // The server's own bad flags end before it listens.
        fmt::format("serve --model {0}/m.h5 --port 0 --trace-dir {0}/missing", d),
        fmt::format("serve --model {0}/m.h5 --port 0 --batch-rows -1", d),
        fmt::format("serve --model {0}/m.h5 --port 0 --batch-window-ms nan", d),
        fmt::format("serve --model {0}/m.h5 --port 0 --idle-timeout inf", d),
        fmt::format("serve --model {0}/m.h5 --port 0 --backend cuda --batch-rows 0", d),
        fmt::format("serve --model {0}/m.h5 --port 0 --batch-rows 0 --engine-threads 2", d),
        fmt::format("serve --model {0}/missing.h5 --port 0", d),
    };
    for (const auto& args : bad) {
        const auto r = run_elmsim(args);
        INFO(args << "\n" << r.output);
        CHECK(r.code == 2);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    }
    CHECK(server.stop());
    // Traces: each session's file under the server's --trace-dir, committed as the client closes it.
    fs::create_directories(dir / "traces");
    {
        ServerProcess traced(dir, fmt::format("--model {0}/m.h5 --trace-dir {0}/traces", d));
        const auto r = run_elmsim(fmt::format("client --port {} --data {}/data.h5 --samples 0:4 --sessions 2 --trace",
                                              traced.port(), d));
        require_ok(r);
        CHECK_THAT(r.output, Catch::Contains("traces: 2 file(s)"));
        CHECK(traced.stop());
    }
    int traces = 0;
    for (const auto& f : fs::directory_iterator(dir / "traces")) {
        const auto tr = io::read_trace(f.path().string());
        CHECK(tr.samples.size() == 2);  // two pairs per session, one trace sample per finish
        for (const auto& ts : tr.samples) CHECK(ts.T == 40);
        ++traces;
    }
    CHECK(traces == 2);
    // Nobody listening any more.
    const auto none = run_elmsim(fmt::format("client --port {} --data {}/data.h5", server.port(), d));
    CHECK(none.code == 2);
    CHECK_THAT(none.output, Catch::Contains("cannot connect"));
}
