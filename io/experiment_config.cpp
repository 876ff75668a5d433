// Strict TOML reader for ExperimentConfig (tables [task], [model], [train]; keys = the struct field
// names, see io/experiment_config.hpp): the --config files of files-and-cli.md, with
// the defaults of elm-network.md: the task kind fixes C and n_out (section 1), d_h defaults to 2 d_m
// (section 4), byte tasks default to dt = 1 ms and tau_init 1..1000 ms (section 2).
// Every key is consumed exactly once; anything left over is an unknown key, so a typo such as
// `lrr = 1e-3` is an error instead of a silently ignored setting.
#include "elmsim/io/experiment_config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "elmsim/io/input_file.hpp"
#include "elmsim/io/toml_section.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/event_batch.hpp"
#include "elmsim/models/event_schedule.hpp"

namespace elm::io {

std::string to_string(TaskKind k) {
    for (const auto& [name, v] : kTaskNames)
        if (v == k) return name;
    return "?";
}

namespace {

const auto positive = [](double v) { return v > 0.0; };
const auto non_negative = [](double v) { return v >= 0.0; };
const auto unit_open = [](double v) { return v >= 0.0 && v < 1.0; };
const auto unit_closed = [](double v) { return v >= 0.0 && v <= 1.0; };
const auto any_finite = [](double) { return true; };

std::string resolve_path(const std::string& p, const std::string& base_dir) {
    namespace fs = std::filesystem;
    if (base_dir.empty() || p == "-" || fs::path(p).is_absolute()) return p;
    return (fs::path(base_dir) / p).lexically_normal().string();
}

// Element k of the array `n` of `key` as a number (integers are fine), or one error line.
double array_number(Section& s, std::string_view key, const toml::array& arr, std::size_t k, const toml::node& n) {
    const toml::node& e = *arr.get(k);
    if (const auto* i = e.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = e.as_floating_point()) return f->get();
    s.fail(key, fmt::format("element {}: expected a number, got {}", k, type_name(e)), &n);
}

// Data paths are optional here: `elmsim info` and `budget` need no data, and the data layer
// (io/task_data.cpp) rejects a missing path when it is about to read one.

void read_task(Section& s, TaskConfig& t, const std::string& base_dir) {
    s.read_enum("kind", t.kind, kTaskNames);
    const bool bytes = t.kind == TaskKind::bytes;
    const std::string kind = fmt::format("kind = \"{}\"", to_string(t.kind));
    // Keys of the other task family are rejected rather than ignored: `window` on an SHD task or
    // `train` on a bytes task means the file describes a different experiment than it looks like.
    for (const char* k : {"bytes", "split", "window", "eval_windows"})
        if (!bytes && s.has(k)) s.fail(k, fmt::format("only used by kind = \"bytes\", this task has {}", kind));
    for (const char* k : {"train", "valid", "test", "duration_ms", "max_train_samples", "max_test_samples"})
        if (bytes && s.has(k)) s.fail(k, fmt::format("only used by SHD tasks, this task has {}", kind));
    if (t.kind != TaskKind::shd_adding && s.has("adding_test_pairs"))
        s.fail("adding_test_pairs", fmt::format("only used by kind = \"shd-adding\", this task has {}", kind));

    if (bytes) {
        s.read("bytes", t.bytes_path);
        if (!t.bytes_path.empty()) t.bytes_path = resolve_path(t.bytes_path, base_dir);
        if (const toml::node* n = s.take("split")) {
            const auto* arr = n->as_array();
            const std::string expected = "an array of 3 fractions [train, valid, test] summing to 1";
            if (!arr || arr->size() != 3) s.fail_value("split", expected, *n);
            double sum = 0.0;
            for (std::size_t k = 0; k < 3; ++k) {
                const double v = array_number(s, "split", *arr, k, *n);
                if (!std::isfinite(v) || v < 0.0 || v > 1.0)
                    s.fail("split", fmt::format("element {}: expected a fraction in [0, 1], got {}", k, v), n);
                t.split[k] = v;
                sum += v;
            }
            if (std::abs(sum - 1.0) > 1e-9) s.fail("split", fmt::format("fractions must sum to 1, they sum to {}", sum), n);
            if (t.split[0] <= 0.0) s.fail("split", "the train fraction must be > 0", n);
        }
        s.read("window", t.window, 1);
        s.read("eval_windows", t.eval_windows, 0);
    } else {
        s.read("train", t.train_path);
        s.read("valid", t.valid_path);
        s.read("test", t.test_path);
        for (std::string* p : {&t.train_path, &t.valid_path, &t.test_path})
            if (!p->empty()) *p = resolve_path(*p, base_dir);
        s.read("duration_ms", t.duration_ms, "a duration > 0 ms", positive);
        s.read("max_train_samples", t.max_train_samples, 0);
        s.read("max_test_samples", t.max_test_samples, 0);
        s.read("adding_test_pairs", t.adding_test_pairs, 1);
    }
}

void read_model(Section& s, models::ModelConfig& m) {
    using models::OutputMode;
    using models::Phi;
    s.read("N", m.N, 1);
    s.read("d_m", m.d_m, 1);
    // Spec section 4 default, overridden below when given; a d_m too large to double is left for the
    // size check (ModelConfig::check_size) to refuse, instead of overflowing.
    m.d_h = m.d_m <= std::numeric_limits<int>::max() / 2 ? 2 * m.d_m : std::numeric_limits<int>::max();
    s.read("d_h", m.d_h, 1);
    s.read("n_b", m.n_b, 1);
    s.read("l", m.l, 1);
    s.read("k_c", m.k_c, 1);
    s.read("input_share", m.input_share, "a fraction in [0, 1]", unit_closed);
    s.read("C_e", m.C_e, 0);
    s.read_enum("output_mode", m.output_mode,
                std::array<std::pair<const char*, OutputMode>, 3>{
                    {{"analog", OutputMode::analog}, {"spike", OutputMode::spike}, {"lif", OutputMode::lif}}});
    s.read_enum("phi", m.phi, std::array<std::pair<const char*, Phi>, 2>{{{"relu", Phi::relu}, {"silu", Phi::silu}}});
    s.read("lambda", m.lambda, "a number > 0", positive);
    s.read("tau_b_ms", m.tau_b_ms, "a time constant > 0 ms", positive);
    s.read("tau_min_ms", m.tau_min_ms, "a time >= 0 ms", non_negative);
    s.read("tau_max_ms", m.tau_max_ms, "a time > 0 ms", positive);
    s.read("tau_init_min_ms", m.tau_init_min_ms, "a time > 0 ms", positive);
    s.read("tau_init_max_ms", m.tau_init_max_ms, "a time > 0 ms", positive);
    s.read("theta", m.theta, "a finite number", any_finite);
    s.read("beta", m.beta, "a number > 0", positive);
    s.read("tau_v_ms", m.tau_v_ms, "a time constant > 0 ms", positive);
    s.read("learn_tau_m", m.learn_tau_m);
    s.read_enum("drive", m.drive, models::kDriveRuleNames);
    s.read_enum("memory_gain", m.memory_gain, models::kMemoryGainNames);
    s.read_enum("memory_input", m.memory_input, models::kMemoryInputNames);
    s.read("self_synapse", m.self_synapse);
    s.read("seed", m.seed);
}

// train.resolution_weights: numbers > 0 (their count is checked against the resolutions by the caller).
void read_weights(Section& s, const toml::node& n, std::vector<double>& out) {
    const auto* arr = n.as_array();
    if (!arr || arr->empty()) s.fail_value("resolution_weights", "an array of weights > 0, one per resolution", n);
    out.clear();
    for (std::size_t k = 0; k < arr->size(); ++k) {
        const double v = array_number(s, "resolution_weights", *arr, k, n);
        if (!std::isfinite(v) || v <= 0.0 || v > 1e6)
            s.fail("resolution_weights", fmt::format("element {}: expected a weight in (0, 1e6], got {}", k, v), &n);
        out.push_back(v);
    }
}

// train.resolutions_ms: 1 .. kMaxResolutions distinct numbers > 0. Their mutual fit (multiples of the
// finest, at most max_dt_ms) is checked once the model's dt is known (training_grids).
void read_resolutions(Section& s, const toml::node& n, std::vector<double>& out) {
    const auto* arr = n.as_array();
    const std::string expected = fmt::format("an array of 1 to {} resolutions > 0 ms", kMaxResolutions);
    if (!arr || arr->empty() || arr->size() > kMaxResolutions) s.fail_value("resolutions_ms", expected, n);
    out.clear();
    for (std::size_t k = 0; k < arr->size(); ++k) {
        const double v = array_number(s, "resolutions_ms", *arr, k, n);
        if (!std::isfinite(v) || v <= 0.0)
            s.fail("resolutions_ms", fmt::format("element {}: expected a resolution > 0 ms, got {}", k, v), &n);
        for (double seen : out)
            if (seen == v) s.fail("resolutions_ms", fmt::format("element {}: {} ms is listed twice", k, v), &n);
        out.push_back(v);
    }
}

void read_train(Section& s, models::TrainConfig& t, TaskKind kind) {
    using models::LossMode;
    s.read_enum("optimizer", t.optimizer, models::kOptimizerNames);
    s.read("lr", t.lr, "a learning rate > 0", positive);
    s.read("beta1", t.beta1, "a number in [0, 1)", unit_open);
    s.read("beta2", t.beta2, "a number in [0, 1)", unit_open);
    s.read("eps", t.eps, "a number > 0", positive);
    s.read_enum("schedule", t.schedule, models::kScheduleNames);
    s.read("warmup_steps", t.warmup_steps, 0);
    s.read("lr_min", t.lr_min, "a learning rate >= 0", non_negative);
    if (t.lr_min > t.lr)
        s.fail("lr_min", fmt::format("expected at most train.lr = {}, got {}", t.lr, t.lr_min), s.node("lr_min"));
    s.read("batch_size", t.batch_size, 1);
    s.read("max_steps", t.max_steps, 0);
    s.read("dropout", t.dropout, "a probability in [0, 1)", unit_open);
    s.read("clip_norm", t.clip_norm, "a norm >= 0 (0 = off)", non_negative);
    if (kind == TaskKind::bytes) {
        // Byte tasks predict every next byte; the SHD readouts make no sense there.
        t.loss = LossMode::next_byte;
        if (const auto v = s.string("loss"); v && *v != "next_byte")
            s.fail("loss", fmt::format("bytes tasks always use \"next_byte\", got \"{}\"", *v), s.node("loss"));
    } else {
        // next_byte is the bytes tasks' loss only (set above).
        s.read_enum("loss", t.loss, std::array<std::pair<const char*, LossMode>, 2>{
                                        {{"last", LossMode::last}, {"mean_last_k", LossMode::mean_last_k}}});
    }
    s.read("loss_last_k", t.loss_last_k, 1);
    s.read_enum("time", t.time, models::kTimeBaseNames);
    if (kind == TaskKind::bytes && t.time != models::TimeBase::clock)
        s.fail("time",
               fmt::format("bytes tasks learn on their own clock (one byte per dt); \"{}\" is for spike tasks",
                           to_string(t.time)),
               s.node("time"));
    if (t.time != models::TimeBase::event && s.has("resolution_ms"))
        s.fail("resolution_ms",
               t.time == models::TimeBase::any ? "time = \"any\" draws from train.resolutions_ms"
                                               : "only used with time = \"event\"",
               s.node("resolution_ms"));
    for (const char* k : {"resolutions_ms", "resolution_weights", "resolution_draw", "clock_steps"})
        if (t.time != models::TimeBase::any && s.has(k)) s.fail(k, "only used with time = \"any\"", s.node(k));
    s.read("clock_steps", t.clock_steps, 0);
    s.read_enum("resolution_draw", t.resolution_draw, models::kResolutionDrawNames);
    if (t.time == models::TimeBase::clock && s.has("max_dt_ms"))
        s.fail("max_dt_ms", "only used with time = \"event\" or \"any\"", s.node("max_dt_ms"));
    s.read("resolution_ms", t.resolution_ms, "a resolution > 0 ms", positive);
    s.read("max_dt_ms", t.max_dt_ms, "a time >= 0 ms (0 = the model's dt_ms)", non_negative);
    if (const toml::node* n = s.take("resolutions_ms")) read_resolutions(s, *n, t.resolutions_ms);
    if (const toml::node* n = s.take("resolution_weights")) {
        read_weights(s, *n, t.resolution_weights);
        const std::size_t expected = t.resolutions_ms.empty() ? default_resolutions_ms(1.0).size() : t.resolutions_ms.size();
        if (t.resolution_weights.size() != expected)
            s.fail("resolution_weights",
                   fmt::format("expected one weight per resolution ({}), got {}", expected, t.resolution_weights.size()),
                   n);
    }
    s.read("eval_every", t.eval_every, 0);
    s.read("log_every", t.log_every, 1);
    s.read("checkpoint_every", t.checkpoint_every, 0);
    s.read("recompute_every", t.recompute_every, 0);
    s.read("threads", t.threads, 0);
    s.read("shards", t.shards, 0);
    s.read("seed", t.seed);
    s.read("out_dir", t.out_dir);
}

const toml::table* sub_table(const toml::table& root, const std::string& origin, const char* name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table())
        throw InputError(fmt::format("{}: {}: expected a table [{}], got {}{}", origin, name, name, type_name(*n), line_of(*n)));
    return n->as_table();
}

}  // namespace

ExperimentConfig parse_experiment_config(const std::string& toml_text, const std::string& origin,
                                         const std::string& base_dir) {
    const toml::table root = parse_toml(toml_text, origin);
    for (const auto& [k, node] : root)
        if (k.str() != "task" && k.str() != "model" && k.str() != "train")
            throw InputError(fmt::format("{}: unknown key '{}'{} (expected the tables [task], [model], [train])",
                                         origin, k.str(), line_of(node)));

    ExperimentConfig cfg;
    cfg.toml_text = toml_text;
    cfg.origin = origin;
    Section task(origin, "task", sub_table(root, origin, "task"));
    Section model(origin, "model", sub_table(root, origin, "model"));
    Section train(origin, "train", sub_table(root, origin, "train"));

    read_task(task, cfg.task, base_dir);
    // The task fixes what the network sees and predicts (spec section 1) and the byte defaults.
    auto& m = cfg.model;
    switch (cfg.task.kind) {
        case TaskKind::shd: m.C = 700; m.n_out = 20; break;
        case TaskKind::shd_adding: m.C = 700; m.n_out = 19; break;
        case TaskKind::bytes:
            m.C = 256;
            m.n_out = 256;
            m.dt_ms = 1.0;
            m.tau_init_min_ms = 1.0;
            m.tau_init_max_ms = 1000.0;
            break;
    }
    // dt belongs to the task (bin width) but is a model attribute in checkpoints: accept either key.
    if (task.has("dt_ms") && model.has("dt_ms"))
        task.fail("dt_ms", "given together with model.dt_ms; set the bin width in one place");
    task.read("dt_ms", m.dt_ms, "a bin width > 0 ms", positive);
    model.read("dt_ms", m.dt_ms, "a bin width > 0 ms", positive);
    read_model(model, m);
    read_train(train, cfg.train, cfg.task.kind);

    task.reject_unknown();
    model.reject_unknown();
    train.reject_unknown();
    try {
        m.validate();
    } catch (const InputError& e) {
        throw InputError(fmt::format("{}: {}", origin, e.what()));
    }
    if (cfg.train.time == models::TimeBase::any && cfg.train.resolutions_ms.empty())
        cfg.train.resolutions_ms = default_resolutions_ms(m.dt_ms);
    if (cfg.train.time != models::TimeBase::clock) {
        // Every grid must be valid, and a loss over the last K updates needs K updates in every sample.
        std::vector<models::EventGrid> grids;
        try {
            grids = training_grids(cfg);
        } catch (const ParameterError& e) {
            const std::string key = cfg.train.time == models::TimeBase::any && e.parameter() == "resolution_ms"
                                        ? "resolutions_ms"
                                        : e.parameter();
            train.fail(key, e.problem(), train.node(key));
        }
        for (const models::EventGrid& grid : grids) {
            // A sample so long that the grid cuts it into more cells than the schedule can count.
            try {
                models::check_grid_horizon(grid, sample_duration_ms(cfg.task));
            } catch (const ParameterError& e) {
                task.fail("duration_ms", e.problem(), task.node("duration_ms"));
            }
            const std::int64_t fewest = models::fewest_updates(grid, sample_duration_ms(cfg.task));
            if (cfg.train.loss == models::LossMode::mean_last_k && cfg.train.loss_last_k > fewest)
                train.fail("loss_last_k",
                           fmt::format("expected at most {}: a {} ms sample has as few updates on the event grid "
                                       "of {} ms",
                                       fewest, sample_duration_ms(cfg.task), grid.resolution_ms),
                           train.node("loss_last_k"));
        }
    }
    return cfg;
}

double sample_duration_ms(const TaskConfig& task) {
    return task.kind == TaskKind::shd_adding ? 2.0 * task.duration_ms : task.duration_ms;
}

double event_max_dt_ms(const ExperimentConfig& cfg) {
    return cfg.train.max_dt_ms > 0.0 ? cfg.train.max_dt_ms : cfg.model.dt_ms;
}

std::string describe_time_base(const ExperimentConfig& cfg) {
    const auto& t = cfg.train;
    switch (t.time) {
        case models::TimeBase::clock: return fmt::format("clock {:g} ms", cfg.model.dt_ms);
        case models::TimeBase::event:
            return fmt::format("event {:g} ms (max_dt {:g} ms)", t.resolution_ms, event_max_dt_ms(cfg));
        case models::TimeBase::any: break;
    }
    std::string list;
    for (const double r : t.resolutions_ms) list += fmt::format("{}{:g}", list.empty() ? "" : ", ", r);
    std::string weights;
    if (!t.resolution_weights.empty()) {
        for (const double w : t.resolution_weights) weights += fmt::format("{}{:g}", weights.empty() ? "" : ":", w);
        weights = " weighted " + weights;
    }
    return fmt::format("any of {} ms{}{} (max_dt {:g} ms){}", list, weights,
                       t.resolution_draw == models::ResolutionDraw::batch ? " per batch" : "", event_max_dt_ms(cfg),
                       t.clock_steps > 0 ? fmt::format(" after {} clock steps", t.clock_steps) : "");
}

std::vector<double> default_resolutions_ms(double dt_ms) { return {dt_ms / 8.0, dt_ms / 4.0, dt_ms / 2.0, dt_ms}; }

std::vector<models::EventGrid> training_grids(const ExperimentConfig& cfg) {
    const auto& t = cfg.train;
    if (t.time == models::TimeBase::clock) return {};
    if (t.time == models::TimeBase::event) return {models::make_event_grid(t.resolution_ms, event_max_dt_ms(cfg))};
    if (t.resolutions_ms.empty()) throw ParameterError("resolution_ms", "time = \"any\" needs at least one resolution");
    const double finest = *std::min_element(t.resolutions_ms.begin(), t.resolutions_ms.end());
    std::vector<models::EventGrid> grids;
    for (double r : t.resolutions_ms) {
        if (r > event_max_dt_ms(cfg))
            throw ParameterError("resolution_ms",
                                 fmt::format("{} ms is coarser than max_dt_ms = {} ms, the longest gap between updates",
                                             r, event_max_dt_ms(cfg)));
        grids.push_back(models::make_event_grid(r, event_max_dt_ms(cfg)));
        // The rows of one batch share the finest grid: a row at r updates every r / finest of its cells,
        // and its dt = (gap x r / finest) x finest must be the float `simulate --resolution-ms r` computes,
        // gap x r. That holds when r is exactly a whole multiple of the finest (0.25 / 0.5 / 1 / 2 are;
        // 0.1 / 0.3 is not: 3 x 0.1 != 0.3 in floating point).
        const double ratio = std::round(r / finest);
        if (ratio * finest != r || ratio > static_cast<double>(std::numeric_limits<std::int32_t>::max()))
            throw ParameterError("resolution_ms",
                                 fmt::format("{} ms is not an exact whole multiple of the finest resolution {} ms "
                                             "(use resolutions such as the finest times 1, 2, 4, ...)",
                                             r, finest));
    }
    return grids;
}

ExperimentConfig load_experiment_config(const std::string& path) {
    require_regular_input(path, "config file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open config file ({})", path, std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw InputError(fmt::format("{}: cannot read config file", path));
    const std::string base_dir = std::filesystem::path(path).parent_path().string();
    return parse_experiment_config(text.str(), path, base_dir);
}

}  // namespace elm::io
