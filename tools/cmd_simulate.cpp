// `elmsim simulate` and `elmsim generate` (spec files-and-cli.md "Command line" and "Traces";
// elm-network.md sections 1 and 5): run a trained model one sample at a time in clock or event mode
// while recording a trace, and sample text from a byte model.
//
// simulate: the task comes from the checkpoint's /config, the model from the checkpoint. Samples are
// those of an SHD-format file (SHD-Adding: the evaluator's fixed seeded pairs, sample i = pair i), or
// for a byte model the whole byte file (or standard input) as ONE sample, byte k at time k dt
// (--samples then picks a byte range). Clock mode bins exactly as training does; event mode feeds the
// float64 event times (sim/event_schedule.hpp). Everything is validated before the trace file is
// created; the trace is committed only after the last sample, so a failed run leaves no trace and
// never touches an existing one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <array>
#include <optional>

#include <fmt/format.h>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_binning.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/event_schedule.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/simulator.hpp"
#include "tools/commands.hpp"

namespace elm::tools {

namespace {

namespace fs = std::filesystem;

struct SimulateArgs {
    std::string model, data, samples, mode = "clock", trace, record = "y", neurons = "all";
    std::int64_t decimate = 1;
    std::optional<double> resolution_ms, max_dt_ms;
    std::optional<std::int64_t> threads;
    bool final_logits = false;
};

struct GenerateArgs {
    std::string model, prompt;
    std::int64_t length = 200;
    double temperature = 0.8;
    std::uint64_t seed = 1;
    std::optional<std::int64_t> threads;
};

// The checkpoint's model and the task of its /config (the model's structure wins; it must fit).
struct LoadedModel {
    io::Checkpoint ck;
    io::ExperimentConfig cfg;
};

LoadedModel load_model(const std::string& path) {
    LoadedModel m{io::load_checkpoint(path), {}};
    m.cfg = io::parse_experiment_config(m.ck.config_toml, path + ": /config");
    const auto& net = m.ck.net.cfg;
    if (net.C != m.cfg.model.C || net.n_out != m.cfg.model.n_out)
        throw InputError(
            fmt::format("{}: /model reads C = {} channels into n_out = {} classes, but its /config task "
                        "\"{}\" needs C = {}, n_out = {}",
                        path, net.C, net.n_out, io::to_string(m.cfg.task.kind), m.cfg.model.C, m.cfg.model.n_out));
    m.cfg.model = net;
    return m;
}

int resolve_threads(std::optional<std::int64_t> flag, std::int64_t config) {
    const std::int64_t t = flag.value_or(config);
    if (t < 0 || t > 1024) throw InputError(fmt::format("--threads: expected 0 (all cores) .. 1024, got {}", t));
    return static_cast<int>(t);
}

// "a:b" (half-open), "a:", ":b", "a" (one sample) or "" (all) over [0, size). b is capped at size.
std::pair<std::int64_t, std::int64_t> parse_range(const std::string& text, std::int64_t size, const std::string& what) {
    const auto number = [&](const std::string& s, std::int64_t fallback) -> std::int64_t {
        if (s.empty()) return fallback;
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(s, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != s.size() || v < 0)
            throw InputError(fmt::format("--samples: expected a range a:b of non-negative integers, got \"{}\"", text));
        return v;
    };
    std::int64_t a = 0, b = size;
    const auto colon = text.find(':');
    if (colon == std::string::npos) {
        a = number(text, 0);
        b = text.empty() ? size : a + 1;
    } else {
        a = number(text.substr(0, colon), 0);
        b = number(text.substr(colon + 1), size);
    }
    if (size <= 0) throw InputError(fmt::format("--samples: {} holds no samples", what));
    if (a >= size)
        throw InputError(
            fmt::format("--samples: {} holds {} samples (0..{}), the range starts at {}", what, size, size - 1, a));
    b = std::min(b, size);
    if (a >= b) throw InputError(fmt::format("--samples: the range \"{}\" is empty (expected a < b)", text));
    return {a, b};
}

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec1, ec2;
    const auto pa = fs::weakly_canonical(a, ec1), pb = fs::weakly_canonical(b, ec2);
    return !ec1 && !ec2 && pa == pb;
}

// What kind of data file `path` is, for the model/data check: an HDF5 file with /spikes, another
// HDF5 file, or anything else (bytes).
enum class DataKind { spikes, other_hdf5, bytes };

DataKind data_kind(const std::string& path) {
    if (path == "-") return DataKind::bytes;
    std::error_code ec;
    const auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) throw InputError(fmt::format("--data {}: the file does not exist", path));
    if (fs::is_directory(st)) throw InputError(fmt::format("--data {}: expected a file, found a directory", path));
    io::silence_hdf5_errors();
    if (H5Fis_hdf5(path.c_str()) <= 0) return DataKind::bytes;
    const auto f = io::H5File::open_read(path);
    return io::has_path(f.id(), "/spikes") ? DataKind::spikes : DataKind::other_hdf5;
}

void check_data_fits_model(const std::string& data, const std::string& model, const io::ExperimentConfig& cfg) {
    const DataKind kind = data_kind(data);
    const bool bytes_model = cfg.task.kind == io::TaskKind::bytes;
    if (bytes_model && kind != DataKind::bytes)
        throw InputError(
            fmt::format("--data {}: {} (C = 700 spike channels), but the model {} is a byte model (task "
                        "\"bytes\", C = 256 byte values); give a byte file or - for standard input",
                        data, kind == DataKind::spikes ? "an SHD-format spike file" : "an HDF5 file", model));
    if (!bytes_model && kind == DataKind::bytes)
        throw InputError(
            fmt::format("--data {}: {}, but the model {} reads C = {} spike channels (task \"{}\"); give "
                        "an SHD-format HDF5 file",
                        data,
                        data == "-" ? "standard input is a byte stream (C = 256 byte values)"
                                    : "not an HDF5 file (a byte file: C = 256 byte values)",
                        model, cfg.model.C, io::to_string(cfg.task.kind)));
    if (!bytes_model && kind == DataKind::other_hdf5)
        throw InputError(
            fmt::format("--data {}: /spikes: expected an SHD-format spike file for the model {} (task "
                        "\"{}\"), found an HDF5 file without /spikes",
                        data, model, io::to_string(cfg.task.kind)));
}

int argmax(const float* v, int n) {
    return static_cast<int>(std::max_element(v, v + n) - v);
}

// One simulated sample's events as float64 times (ms) and channels, and its duration.
struct SampleEvents {
    std::vector<double> times_ms;
    std::vector<std::int32_t> channels;
    double duration_ms = 0.0;
};

// SHD-Adding: the first sample cut to the window, then the second cut likewise and shifted by it.
void append_events(const io::SpikeSample& s, double window_ms, double shift_ms, SampleEvents& out) {
    for (std::size_t k = 0; k < s.times_ms.size(); ++k)
        if (s.times_ms[k] < window_ms) {
            out.times_ms.push_back(s.times_ms[k] + shift_ms);
            out.channels.push_back(s.units[k]);
        }
}

struct RunTotals {
    sim::LossStats stats;
    std::int64_t updates = 0;
    std::int64_t samples = 0;
};

// Spike tasks: every selected sample (or pair) through the simulator, traced.
RunTotals simulate_spikes(const LoadedModel& lm, const io::SpikeDataset& ds, const std::vector<io::AddingPair>& pairs,
                          std::int64_t first, std::int64_t end, const sim::EventGrid* grid, io::TraceWriter& writer,
                          sim::Executor& ex) {
    const auto& cfg = lm.cfg;
    const auto& net = lm.ck.net;
    const int C = net.cfg.C, n_out = net.cfg.n_out;
    const bool adding = cfg.task.kind == io::TaskKind::shd_adding;
    const double window = cfg.task.duration_ms, dt = net.cfg.dt_ms;
    const std::int64_t T1 = models::num_steps(window, dt), T = adding ? 2 * T1 : T1;
    sim::Simulator<float> sim(net, ex);
    std::vector<float> x;
    SampleEvents ev;
    sim::EventSchedule sched;
    const auto observer = [&](const sim::UpdateView<float>& v) { writer.append(v.time_ms, v.y, v.m, v.b, v.logits); };
    RunTotals tot;
    for (std::int64_t i = first; i < end; ++i) {
        const int label = adding ? pairs[i].label : ds.samples[i].label;
        writer.begin_sample(i, label);
        sim.reset();
        if (!grid) {
            x.assign(static_cast<std::size_t>(T) * C, 0.0f);
            if (adding)
                io::bin_adding_pair(ds, pairs[i], dt, window, x.data(), T, 1, 0, C);
            else
                io::bin_sample(ds.samples[i], dt, window, 0, x.data(), T, 1, 0, C);
            sim.run_clock(x.data(), T, observer);
        } else {
            ev.times_ms.clear();
            ev.channels.clear();
            if (adding) {
                append_events(ds.samples[pairs[i].a], window, 0.0, ev);
                append_events(ds.samples[pairs[i].b], window, window, ev);
            } else {
                append_events(ds.samples[i], window, 0.0, ev);
            }
            sim::EventScheduleBuilder builder(*grid, adding ? 2 * window : window);
            builder.next_slice(ev.times_ms.data(), ev.channels.data(), ev.times_ms.size(), true, sched);
            sim.run_event(sched, observer);
        }
        const float* logits = sim.logits();
        const int prediction = argmax(logits, n_out);
        const std::int32_t target = label;
        tot.stats.add(sim::compute_loss<float>(models::LossMode::last, logits, 1, 1, n_out, &target, nullptr));
        writer.end_sample(logits, prediction);
        tot.updates += sim.updates();
        ++tot.samples;
    }
    return tot;
}

// Bytes: one sample, bytes [first, end) of the file; after each update that delivered bytes, the
// logits predict the next byte not yet delivered (bpc over those predictions).
RunTotals simulate_bytes(const LoadedModel& lm, const io::ByteStream& stream, std::int64_t first, std::int64_t end,
                         const sim::EventGrid* grid, io::TraceWriter& writer, sim::Executor& ex) {
    const auto& net = lm.ck.net;
    const int n_out = net.cfg.n_out;
    const double dt = net.cfg.dt_ms;
    const std::int64_t n = end - first;
    constexpr std::int64_t kChunk = 1 << 16;  // bytes read (and scheduled) at a time: memory stays bounded
    sim::Simulator<float> sim(net, ex);
    RunTotals tot;
    std::vector<std::uint8_t> buf;
    std::vector<double> times;
    std::vector<std::int32_t> channels;
    sim::EventSchedule sched;
    std::optional<sim::EventScheduleBuilder> builder;
    if (grid) builder.emplace(*grid, static_cast<double>(n) * dt);
    std::int64_t delivered = 0;  // bytes of the sample delivered so far
    std::int64_t k0 = 0;         // sample index of buf[0]
    const float one = 1.0f;
    // After an update: predict the next undelivered byte (in buf: each chunk is read with one byte of
    // look-ahead), then trace.
    const auto after_update = [&](std::int64_t delivered_now) {
        delivered += delivered_now;
        if (delivered_now > 0 && delivered < n) {
            const std::int32_t target = buf[static_cast<std::size_t>(delivered - k0)];
            tot.stats.add(
                sim::compute_loss<float>(models::LossMode::next_byte, sim.logits(), 1, 1, n_out, &target, nullptr));
        }
        const auto v = sim.view();
        writer.append(v.time_ms, v.y, v.m, v.b, v.logits);
    };
    writer.begin_sample(first, -1);
    while (k0 < n) {
        std::int64_t k1 = std::min(n, k0 + kChunk);
        // Event mode: a slice must end between cells (bytes sharing a cell are delivered together).
        if (builder)
            while (k1 < n &&
                   builder->cell_of(static_cast<double>(k1) * dt) == builder->cell_of(static_cast<double>(k1 - 1) * dt))
                ++k1;
        const std::int64_t len = k1 - k0, ahead = k1 < n ? 1 : 0;
        buf.resize(static_cast<std::size_t>(len + ahead));
        stream.read(io::Split::train, first + k0, len + ahead, buf.data());
        if (!builder) {
            for (std::int64_t k = k0; k < k1; ++k) {
                const std::int32_t ch = buf[static_cast<std::size_t>(k - k0)];
                sim.step(static_cast<double>(k + 1) * dt, dt, &ch, &one, 1);
                after_update(1);
            }
        } else {
            times.resize(static_cast<std::size_t>(len));
            channels.resize(static_cast<std::size_t>(len));
            for (std::size_t j = 0; j < times.size(); ++j) {
                times[j] = static_cast<double>(k0 + static_cast<std::int64_t>(j)) * dt;
                channels[j] = buf[j];
            }
            builder->next_slice(times.data(), channels.data(), times.size(), k1 == n, sched);
            for (std::int64_t u = 0; u < sched.updates(); ++u) {
                const std::int64_t s0 = sched.start[u], s1 = sched.start[u + 1];
                sim.step(sched.time_ms[u], sched.dt_ms[u], sched.channel.data() + s0, sched.count.data() + s0,
                         static_cast<std::size_t>(s1 - s0));
                std::int64_t got = 0;
                for (std::int64_t e = s0; e < s1; ++e) got += static_cast<std::int64_t>(sched.count[e]);
                after_update(got);
            }
        }
        k0 = k1;
    }
    writer.end_sample(sim.logits(), argmax(sim.logits(), n_out));
    tot.updates = sim.updates();
    tot.samples = 1;
    return tot;
}

void run_simulate(const SimulateArgs& a) {
    const LoadedModel lm = load_model(a.model);
    const auto& cfg = lm.cfg;
    const auto& mc = lm.ck.net.cfg;
    if (a.mode != "clock" && a.mode != "event")
        throw InputError(fmt::format("--mode: expected \"clock\" or \"event\", got \"{}\"", a.mode));
    const bool event = a.mode == "event";
    std::optional<sim::EventGrid> grid;
    if (event) {
        grid = sim::make_event_grid(a.resolution_ms.value_or(0.1), a.max_dt_ms.value_or(mc.dt_ms));
    } else if (a.resolution_ms || a.max_dt_ms) {
        throw InputError(fmt::format("{}: only used with --mode event (clock mode steps by the model's dt = {} ms)",
                                     a.resolution_ms ? "--resolution-ms" : "--max-dt-ms", mc.dt_ms));
    }
    io::TraceOptions opt = io::parse_trace_options(a.record, a.neurons, a.decimate, mc.N);
    if (a.final_logits) {
        opt.logits = true;
        opt.final_logits_only = true;
    }
    if (mc.output_mode == models::OutputMode::lif && (opt.m || opt.b))
        throw InputError(
            fmt::format("--record {}: the model {} is a LIF network, which has no memory units or branch "
                        "traces (record y, logits or spikes)",
                        a.record, a.model));
    if (same_file(a.trace, a.model) || (a.data != "-" && same_file(a.trace, a.data)))
        throw InputError(fmt::format("--trace {}: is the model or data file; choose another path", a.trace));
    check_data_fits_model(a.data, a.model, cfg);
    sim::Executor ex(resolve_threads(a.threads, cfg.train.threads));

    // Load and select the data before the trace file exists.
    const bool bytes = cfg.task.kind == io::TaskKind::bytes;
    std::optional<io::ByteStream> stream;
    io::SpikeDataset ds;
    std::vector<io::AddingPair> pairs;
    std::pair<std::int64_t, std::int64_t> range;
    if (bytes) {
        stream.emplace(a.data, std::array<double, 3>{1.0, 0.0, 0.0}, 1);
        range = parse_range(a.samples, stream->size(io::Split::train),
                            fmt::format("{} ({} bytes)", a.data, stream->size(io::Split::train)));
    } else {
        ds = io::read_spike_dataset(a.data);
        if (ds.num_channels != mc.C)
            throw InputError(fmt::format("--data {}: {} input channels, the model {} reads C = {}", a.data,
                                         ds.num_channels, a.model, mc.C));
        const bool adding = cfg.task.kind == io::TaskKind::shd_adding;
        const int classes = adding ? 20 : mc.n_out;
        for (std::size_t i = 0; i < ds.samples.size(); ++i)
            if (ds.samples[i].label < 0 || ds.samples[i].label >= classes)
                throw InputError(fmt::format("{}: /labels[{}]: expected a class 0..{} of task \"{}\", found {}", a.data,
                                             i, classes - 1, io::to_string(cfg.task.kind), ds.samples[i].label));
        if (adding) {
            const std::int64_t count = cfg.task.adding_test_pairs;
            range =
                parse_range(a.samples, count,
                            fmt::format("the model's evaluation set ({} fixed SHD-Adding pairs of {})", count, a.data));
            if (ds.samples.empty()) throw InputError(fmt::format("{}: the dataset holds no samples", a.data));
            // The evaluator's pairs (io/task_data.cpp): the first `range.second` of that seeded sequence.
            pairs = io::fixed_adding_pairs(ds, range.second, cfg.train.seed + 7919);
        } else {
            range = parse_range(a.samples, static_cast<std::int64_t>(ds.samples.size()), a.data);
        }
    }

    io::TraceWriter writer(a.trace, a.model, a.mode, opt, mc.N, mc.d_m, mc.n_b, mc.n_out, created_by());
    const auto t0 = std::chrono::steady_clock::now();
    const RunTotals tot =
        bytes ? simulate_bytes(lm, *stream, range.first, range.second, grid ? &*grid : nullptr, writer, ex)
              : simulate_spikes(lm, ds, pairs, range.first, range.second, grid ? &*grid : nullptr, writer, ex);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    writer.commit();

    if (bytes)
        fmt::print("simulate ({} mode): {} bytes, bpc {:.4f} over {} predicted bytes, next-byte accuracy {:.4f}\n",
                   a.mode, range.second - range.first, tot.stats.bpc(), tot.stats.count, tot.stats.accuracy());
    else
        fmt::print("simulate ({} mode): {} samples, accuracy {:.4f}, loss {:.4f}\n", a.mode, tot.samples,
                   tot.stats.accuracy(), tot.stats.loss());
    fmt::print("updates {}  wall {:.3f} s  {:.0f} updates/s  threads {}\ntrace: {}\n", tot.updates, wall,
               wall > 0 ? static_cast<double>(tot.updates) / wall : 0.0, ex.threads(), a.trace);
}

// softmax(logits / temperature) sampled with rng; temperature 0 = argmax.
int sample_byte(const float* logits, int n, double temperature, Rng& rng) {
    const int best = argmax(logits, n);
    if (temperature == 0.0) return best;
    double sum = 0.0;
    for (int k = 0; k < n; ++k) sum += std::exp((static_cast<double>(logits[k]) - logits[best]) / temperature);
    double r = rng.uniform() * sum;
    for (int k = 0; k < n; ++k) {
        r -= std::exp((static_cast<double>(logits[k]) - logits[best]) / temperature);
        if (r < 0.0) return k;
    }
    return best;  // r rounded past the end: the mass there is the top byte's
}

void run_generate(const GenerateArgs& a) {
    if (!(a.temperature >= 0.0) || !std::isfinite(a.temperature))
        throw InputError(fmt::format("--temperature: expected a finite number >= 0, got {}", a.temperature));
    if (a.length < 0 || a.length > 1'000'000'000)
        throw InputError(fmt::format("--length: expected 0 .. 1000000000 bytes, got {}", a.length));
    const LoadedModel lm = load_model(a.model);
    if (lm.cfg.task.kind != io::TaskKind::bytes)
        throw InputError(
            fmt::format("--model {}: a model of task \"{}\" (C = {} spike channels); generate needs a byte "
                        "model (task \"bytes\")",
                        a.model, io::to_string(lm.cfg.task.kind), lm.ck.net.cfg.C));
    const auto& mc = lm.ck.net.cfg;
    sim::Executor ex(resolve_threads(a.threads, lm.cfg.train.threads));
    sim::Simulator<float> sim(lm.ck.net, ex);
    const double dt = mc.dt_ms;
    const float one = 1.0f;
    const auto feed = [&](std::uint8_t byte) {
        const std::int32_t ch = byte;
        sim.step(static_cast<double>(sim.updates() + 1) * dt, dt, &ch, &one, 1);
    };
    for (const char c : a.prompt) feed(static_cast<std::uint8_t>(c));
    Rng rng(a.seed);
    std::string out;
    out.reserve(static_cast<std::size_t>(std::min<std::int64_t>(a.length, 1 << 20)));
    for (std::int64_t k = 0; k < a.length; ++k) {
        const auto byte = static_cast<std::uint8_t>(sample_byte(sim.logits(), mc.n_out, a.temperature, rng));
        out.push_back(static_cast<char>(byte));
        if (out.size() >= (1u << 16)) {
            std::fwrite(out.data(), 1, out.size(), stdout);
            out.clear();
        }
        feed(byte);
    }
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
}

}  // namespace

void register_simulate(CLI::App& app) {
    auto a = std::make_shared<SimulateArgs>();
    auto* cmd = app.add_subcommand("simulate", "Run a model sample by sample (clock or event mode) and record a trace");
    cmd->add_option("--model", a->model, "Model checkpoint (HDF5)")->required();
    cmd->add_option("--data", a->data, "SHD-format file, or for byte models a byte file or - (standard input)")
        ->required();
    cmd->add_option("--samples", a->samples, "Half-open range a:b of samples (pairs for SHD-Adding, bytes for text)");
    cmd->add_option("--mode", a->mode, "clock (fixed dt, as training) or event (updates only when needed)");
    cmd->add_option("--trace", a->trace, "Output trace (HDF5)")->required();
    cmd->add_option("--record", a->record, "Variables to record: comma list of y, m, b, logits, spikes (default y)");
    cmd->add_option("--neurons", a->neurons, "Neurons to record: all, ids and ranges, e.g. 0:64 or 3,5,9");
    cmd->add_option("--decimate", a->decimate, "Keep every K-th update in the trace");
    cmd->add_option("--resolution-ms", a->resolution_ms, "Event mode: events closer than this merge (default 0.1)");
    cmd->add_option("--max-dt-ms", a->max_dt_ms, "Event mode: longest step between updates (default: the model's dt)");
    cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores)");
    cmd->add_flag("--final-logits", a->final_logits, "Record only the final readout of each sample ([1, n_out])");
    cmd->callback([a] { run_simulate(*a); });
}

void register_generate(CLI::App& app) {
    auto a = std::make_shared<GenerateArgs>();
    auto* cmd = app.add_subcommand("generate", "Sample text from a byte model (prompt, then one byte per update)");
    cmd->add_option("--model", a->model, "Byte-model checkpoint (HDF5)")->required();
    cmd->add_option("--prompt", a->prompt, "Text fed before sampling (default: none)");
    cmd->add_option("--length", a->length, "Bytes to generate (default 200)");
    cmd->add_option("--temperature", a->temperature, "Softmax temperature (0 = argmax; default 0.8)");
    cmd->add_option("--seed", a->seed, "Sampling seed (default 1)");
    cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores)");
    cmd->callback([a] { run_generate(*a); });
}

}  // namespace elm::tools
