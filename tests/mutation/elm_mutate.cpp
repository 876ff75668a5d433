// The byte-mutation test (docs/reliability.md), as a program anyone can rerun:
//     elm_mutate SOURCE_DIR KIND|all TRIALS [SEED [HELPER]]
// KIND: checkpoint, checkpoint-legacy, trace, trace-legacy, shd, shd-legacy, experiment-config,
// sweep-config. HELPER: the elmsim binary, which then reads files without checksums (the legacy
// kinds) in an isolated process first, as the elmsim command line does (io/isolated_read.hpp);
// without it they are read in-process only, as by a program that embeds the library.
// Each trial takes the original file of its kind (written by the project's own writers, or the legacy
// fixtures of tests/data/legacy/, or a shipped config), XORs 1 to 3 random bytes with random non-zero
// bytes and loads the result with elmsim's reader in a forked child under a 20 s alarm. The outcome
// is one of: refused (one InputError), loaded identical, loaded different, other error (an exception
// that is not an InputError: the CLI would not give its one line and exit 2), crashed, hung.
// Prints one Markdown row per kind. Exit 1 when any trial crashed, hung or ended in another error, or
// a checksummed file (checkpoint, trace) loaded different; 2 on bad arguments.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/sweep_config.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "tests/file_mutation.hpp"

namespace fs = std::filesystem;
using namespace elm;

namespace {

enum Outcome { kIdentical = 0, kRefused = 1, kDifferent = 3, kOtherError = 4 };

using test::read_bytes;
using test::write_bytes;

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Every field of the model's config (models/model_config.hpp), reals bit for bit.
bool same(const models::ModelConfig& a, const models::ModelConfig& b) {
    const auto real = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
    return a.N == b.N && a.C == b.C && a.n_out == b.n_out && a.d_m == b.d_m && a.d_h == b.d_h && a.n_b == b.n_b &&
           a.l == b.l && a.k_c == b.k_c && real(a.input_share, b.input_share) && a.C_e == b.C_e &&
           a.output_mode == b.output_mode && a.phi == b.phi && real(a.dt_ms, b.dt_ms) && real(a.lambda, b.lambda) &&
           real(a.tau_b_ms, b.tau_b_ms) && real(a.tau_min_ms, b.tau_min_ms) && real(a.tau_max_ms, b.tau_max_ms) &&
           real(a.tau_init_min_ms, b.tau_init_min_ms) && real(a.tau_init_max_ms, b.tau_init_max_ms) &&
           real(a.theta, b.theta) && real(a.beta, b.beta) && real(a.tau_v_ms, b.tau_v_ms) &&
           a.learn_tau_m == b.learn_tau_m && a.self_synapse == b.self_synapse && a.drive == b.drive &&
           a.memory_gain == b.memory_gain && a.memory_input == b.memory_input && a.seed == b.seed;
}

bool same(const io::Checkpoint& a, const io::Checkpoint& b) {
    if (!same(a.net.cfg, b.net.cfg) || !same_bits(a.net.params, b.net.params) || a.net.src != b.net.src ||
        a.config_toml != b.config_toml || a.drive_declared != b.drive_declared || a.train.has_value() != b.train.has_value())
        return false;
    if (!a.train) return true;
    const auto &s = *a.train, &t = *b.train;
    if (s.step != t.step || s.epoch != t.epoch || std::memcmp(&s.best_metric, &t.best_metric, sizeof(double)) != 0 ||
        s.optimizer != t.optimizer || s.optimizer_t != t.optimizer_t || !same_bits(s.moment1, t.moment1) ||
        !same_bits(s.moment2, t.moment2) || s.rng != t.rng || s.int_arrays != t.int_arrays ||
        s.float_arrays.size() != t.float_arrays.size())
        return false;
    for (std::size_t k = 0; k < s.float_arrays.size(); ++k)
        if (s.float_arrays[k].first != t.float_arrays[k].first || !same_bits(s.float_arrays[k].second, t.float_arrays[k].second))
            return false;
    return true;
}

bool same(const io::TraceFile& a, const io::TraceFile& b) {
    if (a.format_version != b.format_version || a.model != b.model || a.mode != b.mode || a.created_by != b.created_by ||
        a.N != b.N || a.n_sel != b.n_sel || a.d_m != b.d_m || a.n_b != b.n_b || a.n_out != b.n_out ||
        a.recorded.neurons != b.recorded.neurons || a.recorded.decimate != b.recorded.decimate ||
        a.recorded.y != b.recorded.y || a.recorded.m != b.recorded.m || a.recorded.b != b.recorded.b ||
        a.recorded.logits != b.recorded.logits || a.recorded.spikes != b.recorded.spikes ||
        a.recorded.final_logits_only != b.recorded.final_logits_only || a.samples.size() != b.samples.size())
        return false;
    for (std::size_t k = 0; k < a.samples.size(); ++k) {
        const auto &s = a.samples[k], &t = b.samples[k];
        if (s.source_index != t.source_index || s.label != t.label || s.prediction != t.prediction || s.T != t.T ||
            s.logits_rows != t.logits_rows || !same_bits(s.time_ms, t.time_ms) || !same_bits(s.y, t.y) ||
            !same_bits(s.m, t.m) || !same_bits(s.b, t.b) || !same_bits(s.logits, t.logits) ||
            !same_bits(s.spike_times, t.spike_times) || s.spike_neurons != t.spike_neurons)
            return false;
    }
    return true;
}

bool same(const io::SpikeDataset& a, const io::SpikeDataset& b) {
    if (a.num_channels != b.num_channels || a.num_classes != b.num_classes || a.keys != b.keys ||
        a.samples.size() != b.samples.size())
        return false;
    for (std::size_t k = 0; k < a.samples.size(); ++k) {
        const auto &s = a.samples[k], &t = b.samples[k];
        if (s.label != t.label || s.speaker != t.speaker || !same_bits(s.times_ms, t.times_ms) || s.units != t.units)
            return false;
    }
    return true;
}

// A file kind: its original files (trial t damages original t % count), and a loader that says
// whether the damaged file at `path` loads the same as the original it came from (an InputError
// propagates).
struct Kind {
    std::string name;
    std::vector<std::pair<std::string, std::string>> originals;  // file name, bytes
    bool checksummed = false;                                    // loaded different counts as a failure
    std::function<bool(const fs::path&)> load_same;
};

// Loaders that compare what the damaged file loads with `original`.
std::function<bool(const fs::path&)> same_checkpoint_as(const fs::path& original) {
    auto o = std::make_shared<io::Checkpoint>(io::load_checkpoint(original.string()));
    return [o](const fs::path& f) { return same(io::load_checkpoint(f.string()), *o); };
}
std::function<bool(const fs::path&)> same_trace_as(const fs::path& original) {
    auto o = std::make_shared<io::TraceFile>(io::read_trace(original.string()));
    return [o](const fs::path& f) {
        io::TraceFile t = io::read_trace(f.string());
        t.path = o->path;
        return same(t, *o);
    };
}
std::function<bool(const fs::path&)> same_spikes_as(const fs::path& original) {
    auto o = std::make_shared<io::SpikeDataset>(io::read_spike_dataset(original.string()));
    return [o](const fs::path& f) { return same(io::read_spike_dataset(f.string()), *o); };
}

models::Network<float> small_network() {
    models::ModelConfig cfg;
    cfg.N = 12;
    cfg.C = 16;
    cfg.n_out = 4;
    cfg.d_m = 3;
    cfg.d_h = 6;
    cfg.n_b = 2;
    cfg.k_c = 6;
    auto net = models::make_network<float>(cfg);
    Rng rng(3, 7);
    for (auto& p : net.params) p = static_cast<float>(rng.uniform(-1.0, 1.0));
    return net;
}

Kind checkpoint_kind(const fs::path& work) {
    const auto net = small_network();
    models::TrainState t;
    t.step = 41;
    t.epoch = 2;
    t.best_metric = 0.625;
    t.optimizer = "adamax";
    t.optimizer_t = 41;
    Rng rng(5, 1);
    for (std::size_t k = 0; k < net.params.size(); ++k) {
        t.moment1.push_back(static_cast<float>(rng.uniform(-0.1, 0.1)));
        t.moment2.push_back(static_cast<float>(rng.uniform(0.0, 0.1)));
    }
    t.rng = rng.state();
    t.int_arrays = {{"order", {3, 1, 2, 0}}};
    t.float_arrays = {{"curve", {0.5f, 0.25f}}};
    const fs::path p = work / "original_checkpoint.h5";
    io::save_checkpoint(p.string(), net, "[model]\nN = 12\n", &t, "elm_mutate");
    return {"checkpoint", {{"checkpoint.h5", read_bytes(p)}}, true, same_checkpoint_as(p)};
}

Kind trace_kind(const fs::path& work) {
    const fs::path p = work / "original_trace.h5";
    io::TraceOptions what;
    what.m = what.b = what.logits = what.spikes = true;
    const int N = 12, d_m = 3, n_b = 2, n_out = 4;
    io::TraceWriter w(p.string(), "model.h5", "event", what, N, d_m, n_b, n_out, "elm_mutate");
    Rng rng(9, 2);
    std::vector<float> y(N), m(N * d_m), b(N * n_b), l(n_out);
    w.begin_sample(0, 1);
    for (int k = 0; k < 10; ++k) {
        for (auto* v : {&y, &m, &b, &l})
            for (auto& x : *v) x = static_cast<float>(rng.uniform(-1.0, 1.0));
        w.write(0.5 * (k + 1), y.data(), m.data(), b.data(), l.data());
    }
    w.end_sample(l.data(), 2);
    w.commit();
    return {"trace", {{"trace.h5", read_bytes(p)}}, true, same_trace_as(p)};
}

// The fixtures of tests/data/legacy/, written before checksums.
Kind legacy_kind(const fs::path& src, const std::string& name, const std::string& file) {
    const fs::path p = src / "tests/data/legacy" / file;
    if (!fs::exists(p)) throw InputError(p.string() + ": the legacy fixture is missing");
    const auto load = name == "checkpoint-legacy" ? same_checkpoint_as(p)
                      : name == "trace-legacy"    ? same_trace_as(p)
                                                  : same_spikes_as(p);
    return {name, {{file, read_bytes(p)}}, false, load};
}

Kind shd_kind(const fs::path& work) {
    const fs::path p = work / "original_shd.h5";
    io::write_spike_dataset(p.string(), io::generate_shd(8, 4));
    return {"shd", {{"shd.h5", read_bytes(p)}}, false, same_spikes_as(p)};
}

// The configs the project ships, in turn; "loaded identical" is a damaged config that still parses.
Kind config_kind(const fs::path& src, bool sweep) {
    Kind k{sweep ? "sweep-config" : "experiment-config", {}, false, {}};
    for (const auto& e : fs::directory_iterator(src / "configs")) {
        if (e.path().extension() != ".toml") continue;
        if ((e.path().filename().string().rfind("sweep", 0) == 0) == sweep)
            k.originals.emplace_back(e.path().filename().string(), read_bytes(e.path()));
    }
    if (k.originals.empty()) throw InputError((src / "configs").string() + ": no configs");
    std::sort(k.originals.begin(), k.originals.end());
    const std::string base = (src / "configs").string();  // sweep configs name their base config
    k.load_same = [sweep, base](const fs::path& f) {
        const std::string text = read_bytes(f);
        if (sweep)
            io::parse_sweep_config(text, f.string(), base);
        else
            io::parse_experiment_config(text, f.string());
        return true;
    };
    return k;
}

}  // namespace

namespace {

struct Tally {
    long refused = 0, identical = 0, different = 0, other = 0, crashed = 0, hung = 0;
    double slowest_ms = 0;
    std::vector<std::string> examples;  // the first few failures: trial and what happened
};

// One damaged copy loaded in a child: its outcome, from the child's exit or its signal.
void run_trial(const Kind& kind, const fs::path& work, long trial, Rng& rng, Tally& tally) {
    const auto& [file_name, bytes] = kind.originals[static_cast<std::size_t>(trial) % kind.originals.size()];
    std::string b = bytes;
    const int flips = 1 + static_cast<int>(rng.below(3));
    for (int k = 0; k < flips && !b.empty(); ++k) {
        const auto at = static_cast<std::size_t>(rng.below(b.size()));
        b[at] = static_cast<char>(b[at] ^ static_cast<char>(1 + rng.below(255)));
    }
    const fs::path path = work / file_name;
    write_bytes(path, b);
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        alarm(20);
        int code = kOtherError;
        try {
            code = kind.load_same(path) ? kIdentical : kDifferent;
        } catch (const InputError&) {
            code = kRefused;
        } catch (...) {
            code = kOtherError;
        }
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    tally.slowest_ms = std::max(
        tally.slowest_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    std::string failure;
    if (WIFSIGNALED(status)) {
        if (WTERMSIG(status) == SIGALRM) {
            ++tally.hung;
            failure = "hung over 20 s";
        } else {
            ++tally.crashed;
            failure = fmt::format("died of signal {}", WTERMSIG(status));
        }
    } else {
        switch (WEXITSTATUS(status)) {
            case kIdentical: ++tally.identical; break;
            case kRefused: ++tally.refused; break;
            case kDifferent:
                ++tally.different;
                if (kind.checksummed) failure = "loaded different";
                break;
            default:
                ++tally.other;
                failure = fmt::format("exit {}: an error that is not an InputError", WEXITSTATUS(status));
        }
    }
    if (!failure.empty() && tally.examples.size() < 10) {
        const fs::path keep = work / fmt::format("failure-{}-{}", trial, file_name);
        write_bytes(keep, b);
        tally.examples.push_back(fmt::format("trial {} ({}): {}; kept as {}", trial, file_name, failure, keep.string()));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> kinds = {"checkpoint", "checkpoint-legacy", "trace", "trace-legacy",
                                            "shd", "shd-legacy", "experiment-config", "sweep-config"};
    if (argc < 4 || argc > 6) {
        std::cerr << "usage: elm_mutate SOURCE_DIR KIND|all TRIALS [SEED [HELPER]]   (kinds:";
        for (const auto& k : kinds) std::cerr << " " << k;
        std::cerr << ")\n";
        return 2;
    }
    const fs::path src = argv[1];
    const std::string which = argv[2];
    long trials = 0;
    std::uint64_t seed = 1;
    try {
        trials = std::stol(argv[3]);
        if (argc >= 5) seed = std::stoull(argv[4]);
    } catch (const std::exception&) {
        trials = 0;
    }
    if (trials <= 0 || (which != "all" && std::find(kinds.begin(), kinds.end(), which) == kinds.end())) {
        std::cerr << "elm_mutate: expected a kind (or all) and a positive number of trials\n";
        return 2;
    }
    if (argc == 6) io::set_isolation_helper(argv[5]);
    const fs::path work = fs::temp_directory_path() / fmt::format("elm_mutate_{}", getpid());
    fs::create_directories(work);
    bool failed = false;
    try {
        std::cout << (io::isolation_helper().empty() ? "in-process reads only\n"
                                                 : "files without checksums read in an isolated process first\n");
    std::cout << "| file kind | trials | refused | loaded identical | loaded different | other error | crashed | hung | slowest load |\n"
                  << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
        for (std::size_t n = 0; n < kinds.size(); ++n) {
            const std::string& name = kinds[n];
            if (which != "all" && which != name) continue;
            const Kind kind = name == "checkpoint"          ? checkpoint_kind(work)
                              : name == "trace"             ? trace_kind(work)
                              : name == "checkpoint-legacy" ? legacy_kind(src, name, "model.h5")
                              : name == "trace-legacy"      ? legacy_kind(src, name, "trace.h5")
                              : name == "shd"               ? shd_kind(work)
                              : name == "shd-legacy"        ? legacy_kind(src, name, "data.h5")
                                                            : config_kind(src, name == "sweep-config");
            Rng rng(seed, 100 + n);
            Tally t;
            for (long k = 0; k < trials; ++k) run_trial(kind, work, k, rng, t);
            std::cout << fmt::format("| {} ({} file{}) | {} | {} | {} | {} | {} | {} | {} | {:.0f} ms |\n", name,
                                     kind.originals.size(), kind.originals.size() == 1 ? "" : "s", trials, t.refused,
                                     t.identical, t.different, t.other, t.crashed, t.hung, t.slowest_ms)
                      << std::flush;
            for (const auto& e : t.examples) std::cout << "  " << name << ": " << e << "\n";
            failed = failed || t.crashed || t.hung || t.other || (kind.checksummed && t.different);
        }
    } catch (const std::exception& e) {
        std::cerr << "elm_mutate: " << e.what() << "\n";
        return 2;
    }
    if (!failed) fs::remove_all(work);
    return failed ? 1 : 0;
}
