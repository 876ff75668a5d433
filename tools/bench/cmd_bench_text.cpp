// `elmsim bench-text`: an ELM Network against a plain PyTorch byte LSTM of the same parameter count
// (tools/reference/lstm_reference.py), each trained for the same wall time on the same bytes, with
// the same window, batch, optimiser and threads; one markdown table of training steps and bytes/s,
// evaluation and generation bytes/s, and test bpc after that time.
//
// The elmsim side runs through the library: a TrainingRun of the config (its model, data layout and
// Adam settings), stopped by an observer once the wall-clock budget is spent (the way a time limit or
// Ctrl-C ends a run after a step), then the test part scored with sim::evaluate and text generated
// with workflow::generate_text from the run's checkpoint. The LSTM runs as a child process with the
// elmsim model's P, reading the file with elmsim's byte-task split and stream layout.
//
// Two choices keep the comparison fair in a run of minutes: the learning rate is the config's
// train.lr, constant, on both sides (a config's warm-up and cosine schedule span tens of thousands of
// steps, and a short run would spend its whole budget warming up), and both sides score exactly the
// same test bytes: the first K windows of the evaluation streams (--eval-bytes).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/task_data.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/param_count.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/sim/train_observer.hpp"
#include "elmsim/sim/workflow/evaluate.hpp"
#include "elmsim/sim/workflow/generation.hpp"
#include "elmsim/sim/workflow/model_file.hpp"
#include "elmsim/sim/workflow/training.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"
#include "tools/cli/flag_range.hpp"

namespace elm::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// io/task_data.cpp make_eval_source: a byte task is scored on max(batch_size, 16) parallel streams.
constexpr std::int64_t kEvalMinStreams = 16;
// About this many points of the training curve over the budget (the LSTM script records as many).
constexpr int kCurvePoints = 20;

struct TextArgs {
    std::string config = "configs/enwik8.toml", data, json, python = "/usr/bin/python3", reference;
    double seconds = 200.0;
    int threads = 2, lstm_embed = 64;
    std::int64_t eval_bytes = 65536, gen_bytes = 2000;
    bool no_torch = false;
};

// One side's measurements (NaN: not measured).
struct Side {
    std::string label, note;
    double params = NAN, steps = NAN, train_seconds = NAN, train_bps = NAN, eval_bps = NAN, gen_bps = NAN,
           bpc = NAN, eval_bytes = NAN, hidden = NAN;
    std::string curve_json = "[]";
};

// `rel` under the working directory, else in the source tree above the executable (a build folder
// inside the checkout); `rel` itself when neither has it, so the error names what was looked for.
std::string find_in_tree(const std::string& rel) {
    if (fs::exists(rel)) return rel;
    std::error_code ec;
    fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
    for (int up = 0; up < 5 && !ec && !dir.empty(); ++up, dir = dir.parent_path())
        if (fs::exists(dir / rel)) return (dir / rel).string();
    return rel;
}

// Stops the run after the first step that ends `seconds` after the start; records the training time
// and the mean training bpc of the steps between curve points.
class WallClockBudget final : public sim::TrainObserver {
public:
    explicit WallClockBudget(double seconds) : seconds_(seconds) {}
    void on_start(std::int64_t, std::int64_t) override { t0_ = Clock::now(); }
    void on_step(const sim::StepReport& r) override {
        steps_ = r.step;
        pending_sum_ += r.stats.bpc();
        ++pending_;
        const double now = elapsed();
        if (now - last_point_ >= seconds_ / kCurvePoints) flush(now);
    }
    void on_steps_done() override {
        train_seconds_ = elapsed();
        flush(train_seconds_);
    }
    bool wants_stop() const override { return elapsed() >= seconds_; }

    double train_seconds() const { return train_seconds_; }
    std::int64_t steps() const { return steps_; }
    std::string curve_json() const { return "[" + curve_ + "]"; }

private:
    double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }
    void flush(double now) {
        if (pending_ == 0) return;
        curve_ += fmt::format("{}[{:.3f},{},{:.6g}]", curve_.empty() ? "" : ",", now, steps_, pending_sum_ / pending_);
        pending_sum_ = 0.0;
        pending_ = 0;
        last_point_ = now;
    }

    double seconds_;
    Clock::time_point t0_ = Clock::now();
    double train_seconds_ = 0.0, last_point_ = 0.0, pending_sum_ = 0.0;
    std::int64_t steps_ = 0, pending_ = 0;
    std::string curve_;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The elmsim side: train for the budget, score the test windows, generate.
Side run_elmsim(const io::ExperimentConfig& cfg, const io::ExperimentConfig& eval_cfg, const TextArgs& a,
                const fs::path& scratch) {
    workflow::TrainRequest req;
    req.config = cfg;
    req.out_path = (scratch / "model.h5").string();
    req.threads = a.threads;
    req.created_by = tools::created_by();
    workflow::TrainingRun run = tools::with_flag_names({{"threads", "--threads"}}, [&] { return workflow::TrainingRun(req); });
    WallClockBudget budget(a.seconds);
    run.add_observer(budget);
    fmt::print(stderr, "bench-text: training elmsim for {} s ...\n", a.seconds);
    run.run();

    Side s;
    s.label = fmt::format("elmsim (N {})", cfg.model.N);
    s.params = static_cast<double>(models::count_params(cfg.model).P);
    s.steps = static_cast<double>(budget.steps());
    s.train_seconds = budget.train_seconds();
    s.train_bps = s.steps * static_cast<double>(cfg.train.batch_size * cfg.task.window) / s.train_seconds;
    s.curve_json = budget.curve_json();

    const workflow::LoadedModel m = workflow::load_model(run.model_path());
    const auto backend = workflow::open_backend("cpu", m.checkpoint.net, a.threads, cfg.train);
    const auto source = io::make_eval_source(eval_cfg, eval_cfg.task.bytes_path, io::Split::test);
    const auto t0 = Clock::now();
    const sim::EvalResult r = sim::evaluate(*backend, *source, workflow::scoring_options(eval_cfg));
    const double eval_seconds = seconds_since(t0);
    s.bpc = r.stats.bpc();
    s.eval_bytes = static_cast<double>(r.stats.count);
    s.eval_bps = s.eval_bytes / eval_seconds;

    if (a.gen_bytes > 0) {
        // generate_text loads the checkpoint first: a call that generates nothing times the load alone,
        // which is taken off (unless noise makes the difference meaningless).
        workflow::GenerateRequest g;
        g.model_path = run.model_path();
        g.threads = a.threads;
        g.length = 0;
        const auto discard = [](std::string_view) {};
        auto t = Clock::now();
        workflow::generate_text(g, discard);
        const double load = seconds_since(t);
        g.length = a.gen_bytes;
        t = Clock::now();
        workflow::generate_text(g, discard);
        const double total = seconds_since(t);
        const double gen = total - load > 0.5 * total ? total - load : total;
        s.gen_bps = static_cast<double>(a.gen_bytes) / gen;
    }
    return s;
}

std::string read_file(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// The LSTM child's thread settings. OpenMP threads spin while they wait by default; on a machine shared
// with other work (the load in the header) a spinning thread holds a core that the thread it waits for
// needs, and torch's small per-step matrix products on 2 threads ran 10x slower than with passive
// waiting. Passive, unless the caller's environment chose a policy.
std::vector<std::string> lstm_environment(int threads) {
    const std::string k = std::to_string(threads);
    std::vector<std::string> env = {"OMP_NUM_THREADS=" + k, "MKL_NUM_THREADS=" + k, "OPENBLAS_NUM_THREADS=" + k};
    if (!std::getenv("OMP_WAIT_POLICY")) env.push_back("OMP_WAIT_POLICY=PASSIVE");
    return env;
}

// The LSTM side: lstm_reference.py as a child with the elmsim model's size and the run's settings.
Side run_lstm(const io::ExperimentConfig& cfg, const TextArgs& a, const std::string& script, std::int64_t params,
              std::int64_t eval_bytes, const fs::path& scratch, std::string* raw_json) {
    const fs::path out = scratch / "lstm.json";
    const std::string k = std::to_string(a.threads);
    const auto& sp = cfg.task.split;
    const std::vector<std::string> argv = {
        a.python, script, "--data", cfg.task.bytes_path, "--params", std::to_string(params),
        "--embed", std::to_string(a.lstm_embed), "--window", std::to_string(cfg.task.window),
        "--batch", std::to_string(cfg.train.batch_size), "--split", fmt::format("{:.17g},{:.17g},{:.17g}", sp[0], sp[1], sp[2]),
        "--seconds", fmt::format("{:.17g}", a.seconds), "--eval-bytes", std::to_string(eval_bytes),
        "--gen-bytes", std::to_string(a.gen_bytes), "--lr", fmt::format("{:.17g}", cfg.train.lr),
        "--clip", fmt::format("{:.17g}", cfg.train.clip_norm), "--threads", k,
        "--seed", std::to_string(cfg.train.seed), "--json", out.string()};
    fmt::print(stderr, "bench-text: training the PyTorch LSTM for {} s ...\n", a.seconds);
    const ChildResult r = run_child(argv, lstm_environment(a.threads));
    Side s;
    s.label = "LSTM";
    if (r.exit_code != 0 || !fs::exists(out)) {
        s.note = fmt::format("failed with exit code {}", r.exit_code);
        return s;
    }
    const std::string text = read_file(out);
    *raw_json = text;
    const auto num = [&](const char* key) { return json_number(text, key).value_or(NAN); };
    s.hidden = num("hidden");
    s.label = fmt::format("LSTM (E {}, H {:.0f})", a.lstm_embed, s.hidden);
    s.params = num("params");
    s.steps = num("steps");
    s.train_seconds = num("train_seconds");
    s.train_bps = num("train_bytes_per_s");
    s.eval_bps = num("eval_bytes_per_s");
    s.gen_bps = a.gen_bytes > 0 ? num("gen_bytes_per_s") : NAN;
    s.bpc = num("test_bpc");
    s.eval_bytes = num("eval_bytes");
    return s;
}

std::string cell(double v, int precision) { return std::isnan(v) ? "-" : fmt::format("{:.{}f}", v, precision); }
std::string ratio(double x, double y) { return std::isnan(x) || std::isnan(y) || y == 0 ? "-" : fmt::format("{:.2f}x", x / y); }
std::string jnum(double v) { return std::isnan(v) ? "null" : fmt::format("{:.6g}", v); }
// A JSON string: quotes, backslashes and control characters escaped (paths may hold any of them).
std::string jstr(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += fmt::format("\\{}", c);
        else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else out += c;
    }
    return out + "\"";
}

std::string side_json(const Side& s) {
    return fmt::format("{{\"params\":{},\"steps\":{},\"train_seconds\":{},\"train_bytes_per_s\":{},\"eval_bytes\":{},"
                       "\"eval_bytes_per_s\":{},\"gen_bytes_per_s\":{},\"test_bpc\":{},\"bpc_curve\":{}}}",
                       jnum(s.params), jnum(s.steps), jnum(s.train_seconds), jnum(s.train_bps), jnum(s.eval_bytes),
                       jnum(s.eval_bps), jnum(s.gen_bps), jnum(s.bpc), s.curve_json);
}

void run_bench_text(const TextArgs& a) {
    using tools::require_flag_range;
    require_flag_range("--seconds", a.seconds, 0.001, 1e6);
    require_flag_range("--threads", a.threads, 1, 1024);
    require_flag_range("--lstm-embed", a.lstm_embed, 1, 65536);
    require_flag_range<std::int64_t>("--eval-bytes", a.eval_bytes, 0, std::int64_t{1} << 40);
    require_flag_range<std::int64_t>("--gen-bytes", a.gen_bytes, 0, 1'000'000'000);
    if (!a.json.empty()) io::ensure_writable_dir(a.json);

    const std::string config_path = find_in_tree(a.config);
    if (!fs::exists(config_path)) throw InputError(fmt::format("--config: {}: no such file", a.config));
    io::ExperimentConfig cfg = io::load_experiment_config(config_path);
    if (cfg.task.kind != io::TaskKind::bytes)
        throw InputError(fmt::format("--config: {}: task.kind: expected \"bytes\", got \"{}\"", config_path,
                                     io::to_string(cfg.task.kind)));
    if (!a.data.empty()) {
        if (!fs::exists(a.data)) throw InputError(fmt::format("--data: {}: no such file", a.data));
        cfg.task.bytes_path = a.data;
    } else if (cfg.task.bytes_path.empty() || !fs::is_regular_file(cfg.task.bytes_path)) {
        throw InputError(fmt::format("--data: required: the byte file of {} ({}) does not exist", config_path,
                                     cfg.task.bytes_path.empty() ? "none given" : cfg.task.bytes_path));
    }

    // The run: the config's model, data layout and optimiser; a constant learning rate (file comment);
    // no periodic evaluation or checkpoint inside the budget; the end-of-run evaluation on one window.
    auto& t = cfg.train;
    t.schedule = models::Schedule::constant;
    t.warmup_steps = 0;
    t.max_steps = std::numeric_limits<std::int64_t>::max();
    t.eval_every = 0;
    t.checkpoint_every = 0;
    t.log_every = 1000;
    cfg.task.eval_windows = 1;

    // The test windows both sides score: the first K windows of the evaluation streams.
    const io::ByteStream stream(cfg.task.bytes_path, cfg.task.split);
    const std::int64_t T = cfg.task.window, streams = std::max(t.batch_size, kEvalMinStreams);
    io::ExperimentConfig eval_cfg = cfg;
    {
        const auto probe = io::make_eval_source(eval_cfg, cfg.task.bytes_path, io::Split::test);  // too small: InputError
        const std::int64_t available = (stream.size(io::Split::test) / streams - 1) / T;
        eval_cfg.task.eval_windows =
            a.eval_bytes == 0 ? available : std::min(available, std::max<std::int64_t>(1, a.eval_bytes / (streams * T)));
    }
    const std::int64_t eval_bytes = eval_cfg.task.eval_windows * streams * T;
    const std::int64_t P = models::count_params(cfg.model).P;

    const std::string script = a.reference.empty() ? find_in_tree("tools/reference/lstm_reference.py") : a.reference;
    std::string torch_note;
    TorchProbe probe;
    if (a.no_torch) {
        torch_note = "skipped (--no-torch)";
    } else if (!fs::is_regular_file(script)) {
        torch_note = fmt::format("skipped: {} not found (give --reference)", script);
    } else {
        probe = probe_torch(a.python, "torch");
        if (probe.version.empty())
            torch_note = fmt::format("skipped: {} cannot import torch; install it with tools/install_bench_deps.sh", a.python);
    }
    const std::string& torch_version = probe.version;
    const bool torch = !torch_version.empty();

    const ScratchDir scratch("elmsim-bench-text");
    const std::string commit = commit_or_unknown(), date = local_time_minutes(), load = load_average();
    fmt::print("elmsim bench-text: an ELM Network against a PyTorch byte LSTM of the same size, {} s of training each\n",
               a.seconds);
    fmt::print("machine {} ({} hardware threads), load {} | commit {} | {} | elmsim GEMM kernels: {}{}\n", cpu_model(),
               std::thread::hardware_concurrency(), load, commit, date, sim::cpu::gemm_kernels(),
#ifdef NDEBUG
               "");
#else
               " | WARNING: unoptimised (Debug) build, times are not meaningful");
#endif
    fmt::print("config {} | data {} ({} bytes: train {}, valid {}, test {})\n", config_path, cfg.task.bytes_path,
               stream.total_size(), stream.size(io::Split::train), stream.size(io::Split::valid),
               stream.size(io::Split::test));
    fmt::print("both: window {}, batch {}, {} threads, Adam lr {:g} constant, clip {:g}, seed {} | test: the first {} "
               "windows of {} streams = {} bytes | generation: {} bytes at temperature 0.8\n",
               T, t.batch_size, a.threads, t.lr, t.clip_norm, t.seed, eval_cfg.task.eval_windows, streams, eval_bytes,
               a.gen_bytes);
    std::string env;
    for (const auto& e : lstm_environment(a.threads)) env += " " + e;
    const std::string blas = probe.blas.empty() ? "(none mapped)" : probe.blas;
    fmt::print("torch: {}\n",
               torch ? fmt::format("{} on BLAS {} ({} {},{})", torch_version, blas, a.python, script, env) : torch_note);
    if (torch && probe.reference_blas) fmt::print("{}\n", reference_blas_warning(probe));
    std::fflush(stdout);

    const Side ours = run_elmsim(cfg, eval_cfg, a, scratch.path());
    Side lstm;
    lstm.label = "LSTM";
    lstm.note = torch_note;
    std::string lstm_raw;
    if (torch) lstm = run_lstm(cfg, a, script, P, eval_bytes, scratch.path(), &lstm_raw);

    fmt::print("\n| model | params | steps | train bytes/s | eval bytes/s | generation bytes/s | test bpc after {:g} s |\n",
               a.seconds);
    fmt::print("|:--|--:|--:|--:|--:|--:|--:|\n");
    for (const Side* s : std::array<const Side*, 2>{&ours, &lstm})
        fmt::print("| {} | {} | {} | {} | {} | {} | {} |\n", s->label, cell(s->params, 0), cell(s->steps, 0),
                   cell(s->train_bps, 0), cell(s->eval_bps, 0), cell(s->gen_bps, 0), cell(s->bpc, 4));
    fmt::print("| elmsim / LSTM | {} | {} | {} | {} | {} | {} |\n", ratio(ours.params, lstm.params),
               ratio(ours.steps, lstm.steps), ratio(ours.train_bps, lstm.train_bps), ratio(ours.eval_bps, lstm.eval_bps),
               ratio(ours.gen_bps, lstm.gen_bps),
               std::isnan(ours.bpc - lstm.bpc) ? "-" : fmt::format("{:+.4f}", ours.bpc - lstm.bpc));
    fmt::print("\n(bytes/s: predicted bytes per wall second, training = steps x batch x window / training time; eval "
               "and generation without gradients; last row: ratios, and the bpc difference elmsim - LSTM)\n");
    if (!lstm.note.empty()) fmt::print("LSTM: {}\n", lstm.note);
    // One hidden unit more or less changes the LSTM's count by 4 E + 8 H + 268 (its P(H), lstm_reference.py).
    const double unit = 4.0 * a.lstm_embed + 8.0 * lstm.hidden + 268.0;
    if (!std::isnan(lstm.params) && std::fabs(lstm.params - ours.params) > unit)
        fmt::print("WARNING: no LSTM with embedding {} has about {} parameters (the embedding alone has {}); "
                   "compare with care or lower --lstm-embed\n", a.lstm_embed, P, 256 * a.lstm_embed);
    if (torch && probe.reference_blas) fmt::print("{}\n", reference_blas_warning(probe));
    if (torch && !std::isnan(lstm.eval_bytes) && lstm.eval_bytes != ours.eval_bytes)
        fmt::print("WARNING: the two sides scored different test bytes (elmsim {:.0f}, LSTM {:.0f})\n", ours.eval_bytes,
                   lstm.eval_bytes);

    if (a.json.empty()) return;
    io::AtomicOutput out(a.json);
    {
        std::ofstream f(out.tmp_path());
        f << fmt::format("{{\"config\":{},\"data\":{},\"seconds\":{},\"threads\":{},\"window\":{},\"batch\":{},"
                         "\"lr\":{},\"eval_bytes\":{},\"gen_bytes\":{},\"elmsim\":{},\"lstm\":{},\"torch_blas\":{},"
                         "\"machine\":{},"
                         "\"commit\":\"{}\",\"date\":\"{}\",\"load\":\"{}\"}}\n",
                         jstr(config_path), jstr(cfg.task.bytes_path), jnum(a.seconds), a.threads, T, t.batch_size, jnum(t.lr),
                         eval_bytes, a.gen_bytes, side_json(ours), lstm_raw.empty() ? "null" : lstm_raw,
                         torch ? jstr(probe.blas) : "null", jstr(cpu_model()),
                         commit, date, load);
        if (!f.flush()) throw InputError(fmt::format("{}: could not write the results", a.json));
    }
    out.commit();
    fmt::print("results: {}\n", a.json);
}

}  // namespace

void register_bench_text(CLI::App& app) {
    auto a = std::make_shared<TextArgs>();
    auto* cmd = app.add_subcommand("bench-text", "A byte model against a PyTorch byte LSTM of the same size, same time");
    cmd->add_option("--config", a->config, "Experiment config of a bytes task (default configs/enwik8.toml)");
    cmd->add_option("--data", a->data, "The byte file (default: the config's)");
    cmd->add_option("--seconds", a->seconds, "Wall-clock training time of each side (default 200)");
    cmd->add_option("--threads", a->threads, "Threads for elmsim and torch (default 2)");
    cmd->add_option("--eval-bytes", a->eval_bytes,
                    "Test bytes both sides score, in whole windows of the evaluation streams (default 65536; "
                    "0 = the whole test part)");
    cmd->add_option("--gen-bytes", a->gen_bytes, "Bytes each side generates for the generation speed (default 2000)");
    cmd->add_flag("--no-torch", a->no_torch, "Do not run the PyTorch LSTM");
    cmd->add_option("--json", a->json, "Also write the results as one JSON object to this file");
    cmd->add_option("--python", a->python, "Python with torch (default /usr/bin/python3)");
    cmd->add_option("--reference", a->reference, "Path of tools/reference/lstm_reference.py");
    cmd->add_option("--lstm-embed", a->lstm_embed, "Embedding width of the LSTM (default 64)");
    cmd->callback([a] { run_bench_text(*a); });
}

}  // namespace elm::bench
