// `elmsim client --port P --data F [--samples a:b] [--realtime]`: replays a spike dataset (or a byte
// file / standard input) to `elmsim serve` as live streams and reports accuracy or bits per byte,
// latency percentiles and events/s (sim/serve/client.hpp). The samples are those `simulate` runs on
// the same file and range — for SHD-Adding the model's evaluation pairs, whose count and seed the
// server's hello names — so the two commands' results can be compared line by line.
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/serve/client.hpp"
#include "elmsim/sim/serve/replay_samples.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::tools {

namespace {

struct ClientArgs {
    serve::ClientOptions options;
    std::string data, samples, mode, token_file, out;
    int port = 7070;
    double resolution_ms = 0.0, max_dt_ms = 0.0;
};

// [first, end) within `size` (a byte file's bytes), as `simulate` checks it.
std::pair<std::int64_t, std::int64_t> range_in(const SampleRange& r, std::int64_t size, const std::string& what) {
    const std::int64_t a = r.first.value_or(0), b = r.end.value_or(size);
    if (size <= 0) throw InputError(fmt::format("--samples: {} holds no samples", what));
    if (a >= size || b > size || a >= b)
        throw InputError(fmt::format("--samples: {} holds {} samples (0..{}); the range {}:{} is not inside it", what,
                                     size, size - 1, a, b));
    return {a, b};
}

void print_common(const serve::ClientReport& rep, const serve::ClientOptions& o) {
    const double w = rep.wall_s > 0 ? rep.wall_s : 1e-9;
    fmt::print("events {} in {} messages, {:.3f} s: {:.0f} events/s, {:.0f} updates/s ({} session(s) on {} connection(s){})\n",
               rep.events, rep.messages, rep.wall_s, static_cast<double>(rep.events) / w,
               static_cast<double>(rep.updates) / w, o.sessions * o.connections, o.connections,
               o.realtime ? ", real time" : "");
    fmt::print("latency, a message to its last output: p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  max {:.3f} ms "
               "over {} messages\n",
               rep.latency_quantile(0.5), rep.latency_quantile(0.9), rep.latency_quantile(0.99),
               rep.latency_quantile(1.0), rep.latency_ms.size());
    if (!rep.traces.empty())
        fmt::print("traces: {} file(s) in the server's --trace-dir, the first {}\n", rep.traces.size(), rep.traces.front());
}

void write_outcomes(const std::string& path, const serve::ClientReport& rep) {
    io::AtomicOutput out(path);
    {
        std::ofstream f(out.tmp_path(), std::ios::trunc);
        if (!f) throw InputError(fmt::format("--out {}: cannot write there", path));
        for (const auto& s : rep.samples)
            f << nlohmann::json({{"index", s.index},
                                 {"label", s.label},
                                 {"prediction", s.prediction},
                                 {"updates", s.updates},
                                 {"logits", s.logits}})
                     .dump()
              << '\n';
        if (!f.flush()) throw InputError(fmt::format("--out {}: the write failed (disk full?)", path));
    }
    out.commit();
}

void run_client(ClientArgs& a) {
    auto& o = a.options;
    if (a.port < 1 || a.port > 65535) throw InputError(fmt::format("--port: expected 1 to 65535, found {}", a.port));
    o.port = static_cast<std::uint16_t>(a.port);
    if (!a.mode.empty() && a.mode != "clock" && a.mode != "event")
        throw InputError(fmt::format("--mode: expected \"clock\" or \"event\", got \"{}\"", a.mode));
    if (!a.mode.empty()) o.mode = a.mode == "event" ? serve::Mode::event : serve::Mode::clock;
    // Before they reach the client's arithmetic: a chunk end of next + chunk_bytes, a timeout in
    // clock ticks, a chunk count in an int.
    require_flag_range("--chunk-bytes", o.chunk_bytes, std::size_t{1}, std::size_t{1} << 20);
    require_flag_range("--chunk-ms", o.chunk_ms, 0.01, 1e6);
    require_flag_range("--timeout", o.timeout_s, 0.001, 1e6);
    if (a.resolution_ms != 0.0) o.resolution_ms = a.resolution_ms;
    if (a.max_dt_ms != 0.0) o.max_dt_ms = a.max_dt_ms;
    if (!a.token_file.empty()) o.token = read_token_file(a.token_file);
    if (!a.out.empty()) io::ensure_writable_dir(a.out);  // before connecting: a device or FIFO is refused now
    try {
        serve::Client client(o);
        const serve::ServerModel& m = client.model();
        if (m.bytes) {
            if (!a.out.empty()) throw InputError("--out: the per-sample file is for spike samples");
            if (io::data_file_kind(a.data) != io::DataFileKind::other)
                throw InputError(fmt::format("{}: an HDF5 file, but the served model is a byte model (task \"{}\"); "
                                             "give a byte file or - for standard input",
                                             a.data, m.task));
            io::ByteStream stream(a.data, {1.0, 0.0, 0.0}, 1);
            const auto [first, end] =
                range_in(parse_sample_range(a.samples), stream.size(io::Split::train),
                         fmt::format("{} ({} bytes)", a.data, stream.size(io::Split::train)));
            std::vector<std::uint8_t> bytes(static_cast<std::size_t>(end - first));
            stream.read(io::Split::train, first, end - first, bytes.data());
            const serve::ClientReport rep = client.run_bytes(bytes);
            fmt::print("client ({} mode): {} bytes, bpc {:.4f} over {} predicted bytes, next-byte accuracy {:.4f}\n",
                       rep.mode, rep.bytes_sent, rep.byte_stats.bpc(), rep.byte_stats.count, rep.byte_stats.accuracy());
            print_common(rep, o);
            return;
        }
        const SampleRange r = parse_sample_range(a.samples);
        const auto samples = serve::replay_samples(io::read_spike_dataset(a.data), a.data, m, r.first, r.end);
        const serve::ClientReport rep = client.run_samples(samples);
        std::int64_t correct = 0;
        for (const auto& s : rep.samples) correct += s.prediction == s.label;
        fmt::print("client ({} mode{}): {} samples, accuracy {:.4f} ({} of {})\n", rep.mode,
                   rep.mode == "event" ? fmt::format(", resolution {} ms, max dt {} ms", rep.resolution_ms, rep.max_dt_ms)
                                       : "",
                   rep.samples.size(), rep.accuracy(), correct, rep.samples.size());
        print_common(rep, o);
        if (!a.out.empty()) write_outcomes(a.out, rep);
    } catch (const serve::ClientError& e) {
        throw InputError(fmt::format("client: {}", e.what()));
    }
}

}  // namespace

void register_client(CLI::App& app) {
    auto a = std::make_shared<ClientArgs>();
    auto& o = a->options;
    auto* cmd = app.add_subcommand("client", "Replay a dataset to `elmsim serve` as live streams; report accuracy, latency");
    cmd->add_option("--data", a->data, "SHD-format file, or for a byte model a byte file or - (standard input)")->required();
    cmd->add_option("--port", a->port, "The server's port (default 7070)");
    cmd->add_option("--host", o.host, "The server's address (default 127.0.0.1)");
    cmd->add_option("--samples", a->samples, "Half-open range a:b of samples (pairs for SHD-Adding, bytes for text)");
    cmd->add_flag("--realtime", o.realtime, "Send each chunk once its time has passed (the stream's own speed)");
    cmd->add_option("--mode", a->mode, "clock or event sessions (default: the model's time base)");
    cmd->add_option("--resolution-ms", a->resolution_ms, "Event sessions: their resolution (default: the server's)");
    cmd->add_option("--max-dt-ms", a->max_dt_ms, "Event sessions: their longest step (default: the server's)");
    cmd->add_option("--connections", o.connections, "Connections to open (default 1)");
    cmd->add_option("--sessions", o.sessions, "Sessions per connection (default 1); samples spread over all");
    cmd->add_option("--chunk-ms", o.chunk_ms, "Sample time per message of events (default 50)");
    cmd->add_option("--chunk-bytes", o.chunk_bytes, "Bytes per message of a byte stream (default 256)");
    cmd->add_option("--token-file", a->token_file, "File with the server's shared secret");
    cmd->add_flag("--trace", o.trace, "Ask the server to trace every session (it needs --trace-dir)");
    cmd->add_option("--timeout", o.timeout_s, "Seconds to wait for a reply (default 60)");
    cmd->add_option("--out", a->out, "Spike samples: one JSON line per sample (index, label, prediction, logits)");
    cmd->callback([a] { run_client(*a); });
}

}  // namespace elm::tools
