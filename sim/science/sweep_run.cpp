#include "elmsim/sim/science/sweep_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <new>
#include <optional>

#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"
#include "elmsim/sim/workflow/model_file.hpp"
#include "elmsim/sim/workflow/training.hpp"

namespace elm::science {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::atomic<long> g_checkpoints{0};
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_sweep_stop() must be async-signal-safe");

long kill_after_checkpoints() {
    const char* v = std::getenv("ELMSIM_SWEEP_KILL_AFTER_CHECKPOINTS");
    return v ? std::atol(v) : 0;
}

// Keeps only the metrics lines a resumed run will not write again (step <= the checkpoint's).
void cut_metrics_log(const fs::path& path, std::int64_t step) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return;  // none yet (a FIFO or device is refused by the writer)
    std::ifstream in(path);
    if (!in) return;
    std::string line, kept;
    while (std::getline(in, line)) {
        try {
            const json j = json::parse(line);
            if (j.value("step", 0.0) <= static_cast<double>(step)) kept += line + "\n";
        } catch (const json::exception&) {
            // a line torn by the kill: dropped
        }
    }
    in.close();
    write_file_atomically(path, kept);
}

json metrics_of(const sim::EvalResult& r, const std::string& prefix) {
    json j;
    j[prefix + "_loss"] = r.stats.loss();
    if (r.text) j[prefix + "_bpc"] = r.stats.bpc();
    else j[prefix + "_accuracy"] = r.stats.accuracy();
    j[prefix + "_samples"] = r.stats.count;
    return j;
}

// Per-run bookkeeping during training: progress for the ETA, the wall-clock budget, the testing hook.
class RunObserver final : public sim::TrainObserver {
public:
    RunObserver(double budget_s, double spent_s, fs::path elapsed_file, RunContext& ctx)
        : budget_s_(budget_s), spent_s_(spent_s), elapsed_file_(std::move(elapsed_file)), ctx_(ctx) {}

    void on_start(std::int64_t first, std::int64_t last) override {
        start_ = Clock::now();
        first_ = first;
        last_ = last;
    }
    void on_step(const sim::StepReport& r) override {
        double f = last_ > 0 ? static_cast<double>(r.step) / static_cast<double>(last_) : 1.0;
        if (budget_s_ > 0) f = std::max(f, std::min(1.0, seconds() / budget_s_));
        ctx_.fraction.store(f);
        step_ = r.step;
        if (ctx_.on_step) ctx_.on_step();
    }
    void on_steps_done() override { steps_done_ = Clock::now(); }
    // Stop on request (this process's, or this run's: its claim was taken over, or whoever handed it
    // out asks), or on time.
    bool wants_stop() const override {
        return g_stop.load() || ctx_.stop.load() || (budget_s_ > 0 && seconds() >= budget_s_);
    }
    void on_checkpoint(const models::TrainState& st) override {
        write_file_atomically(elapsed_file_, json{{"step", st.step}, {"train_seconds", seconds()}}.dump() + "\n");
        if (st.step < last_ && budget_s_ <= 0) {
            static const long kill_after = kill_after_checkpoints();
            if (kill_after > 0 && ++g_checkpoints >= kill_after) ::kill(::getpid(), SIGKILL);
        }
    }
    double seconds() const { return spent_s_ + seconds_since(start_); }
    // Training time of the run (all attempts), and this attempt's time after the last step (the
    // final evaluation and checkpoint).
    double train_seconds() const { return spent_s_ + std::chrono::duration<double>(steps_done_ - start_).count(); }
    double seconds_after_steps() const { return seconds_since(steps_done_); }
    std::int64_t step() const { return step_; }

private:
    double budget_s_, spent_s_;
    fs::path elapsed_file_;
    RunContext& ctx_;
    Clock::time_point start_ = Clock::now(), steps_done_ = Clock::now();
    std::int64_t first_ = 0, last_ = 0, step_ = 0;
};

RunReport train_and_score(const SweepPlan& plan, const PlannedRun& run, const fs::path& rd, int threads,
                          const std::string& created_by, RunContext& ctx) {
    RunReport out;
    out.kind = RunReport::Kind::finished;
    const auto t0 = Clock::now();
    const auto log_event = [&](const std::string& event, const json& extra) {
        if (ctx.log_event) ctx.log_event(event, extra);
    };
    const fs::path config_path = rd / "config.toml", model_path = rd / "model.h5", elapsed_path = rd / "elapsed.json";
    const std::string text = run_config_text(plan, run, rd.string());
    // A run folder written before (a resume, or another machine) must hold the plan's run; its paths
    // are rewritten for this machine.
    if (fs::exists(config_path) && !same_run_config(read_file(config_path), text))
        throw InputError(fmt::format("{}: differs from what the plan would write (was the base config edited?); remove "
                                     "the run's folder to rerun it", config_path.string()));
    write_file_atomically(config_path, text);
    workflow::TrainRequest req;
    req.config = io::parse_experiment_config(text, config_path.string());
    req.out_path = model_path.string();
    req.threads = threads;
    req.created_by = created_by;
    double spent = 0.0;
    const fs::path metrics = workflow::metrics_path_for(model_path.string());
    std::error_code ec;
    if (fs::exists(model_path)) {
        std::optional<io::Checkpoint> ck;
        try {
            ck = io::load_checkpoint(model_path.string());
        } catch (const InputError& e) {
            // Checkpoints are written atomically, so this is damage from outside: start the run over.
            log_event("restart", json{{"reason", e.what()}});
        }
        if (ck && ck->train) {
            req.resume_path = model_path.string();
            out.resumed = true;
            cut_metrics_log(metrics, ck->train->step);
            std::ifstream e;
            if (fs::is_regular_file(elapsed_path, ec)) e.open(elapsed_path);
            try {
                if (e.is_open()) spent = json::parse(e).value("train_seconds", 0.0);
            } catch (const json::exception&) {
            }
            log_event("resume", json{{"step", ck->train->step}});
        }
    }
    if (!out.resumed) {
        fs::remove(metrics, ec);
        fs::remove(model_path, ec);
    }
    workflow::TrainingRun training(req);
    RunObserver observer(plan.sweep.minutes * 60.0, spent, elapsed_path, ctx);
    training.add_observer(observer);
    out.setup_s = seconds_since(t0);
    const std::int64_t last = training.last_step();
    const auto t1 = Clock::now();
    const workflow::TrainResult tr = training.run();
    // Stopped on request (or by losing the claim) before the end — its last step or its time budget:
    // the checkpoint is there to resume from; no result.
    const bool done = tr.step >= last || (plan.sweep.minutes > 0 && observer.seconds() >= plan.sweep.minutes * 60.0);
    if ((g_stop.load() || ctx.stop.load()) && !done) {
        out.kind = RunReport::Kind::interrupted;
        out.step = tr.step;
        return out;
    }
    out.train_s = std::chrono::duration<double>(Clock::now() - t1).count() - observer.seconds_after_steps();
    const double final_eval_s = observer.seconds_after_steps();
    const auto t2 = Clock::now();
    const auto& task = training.config().task;
    json scores;
    if (task.kind == io::TaskKind::bytes || !task.valid_path.empty()) {
        if (tr.final_eval) scores.update(metrics_of(*tr.final_eval, "valid"));
        scores.update(metrics_of(training.evaluate(io::Split::test), "test"));
    } else if (tr.final_eval) {
        scores.update(metrics_of(*tr.final_eval, "test"));
    }
    // The final evaluation of TrainingRun::run() (and its last checkpoint) plus the test split's.
    out.eval_s = final_eval_s + seconds_since(t2);
    const RunGroup& g0 = run.groups.front();
    json r = {{"id", run.id},
              {"seed", run.seed},
              {"N", run.model.N},
              {"k_e", run.count.k_e},
              {"k_c", run.count.k_c},
              {"P", run.count.P},
              {"d_m", run.model.d_m},
              {"d_h", run.model.d_h},
              {"n_b", run.model.n_b},
              {"l", run.model.l},
              {"budget", g0.scan >= 0 ? json(nullptr) : json(g0.budget)},
              {"axis", g0.scan >= 0 ? "scan:" + g0.axis : g0.axis},
              {"groups", groups_to_json(run.groups)},
              {"steps", tr.step},
              {"train_seconds", observer.train_seconds()},
              {"setup_seconds", out.setup_s},
              {"eval_seconds", out.eval_s},
              {"resumed", out.resumed},
              {"host", SweepDirectory::host_name()}};
    r.update(scores);
    out.result = r;
    return out;
}

}  // namespace

RunReport execute_run(const SweepPlan& plan, std::size_t index, const fs::path& sweep_dir, int threads,
                      const std::string& created_by, RunContext& ctx) {
    const PlannedRun& run = plan.runs.at(index);
    RunReport failed;
    try {
        return train_and_score(plan, run, sweep_dir / "runs" / run.id, threads, created_by, ctx);
    } catch (const std::bad_alloc&) {
        failed.error = "out of memory";
    } catch (const std::exception& e) {
        failed.error = e.what();
    }
    return failed;
}

json report_to_json(const RunReport& r) {
    switch (r.kind) {
        case RunReport::Kind::finished:
            return json{{"kind", "finished"}, {"result", r.result},   {"resumed", r.resumed},
                        {"setup_s", r.setup_s}, {"train_s", r.train_s}, {"eval_s", r.eval_s}};
        case RunReport::Kind::interrupted: return json{{"kind", "interrupted"}, {"step", r.step}};
        case RunReport::Kind::failed: break;
    }
    return json{{"kind", "failed"}, {"error", r.error}};
}

RunReport report_from_json(const json& j) {
    RunReport r;
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "finished") {
        r.kind = RunReport::Kind::finished;
        r.result = j.at("result");
        r.resumed = j.at("resumed").get<bool>();
        r.setup_s = j.at("setup_s").get<double>();
        r.train_s = j.at("train_s").get<double>();
        r.eval_s = j.at("eval_s").get<double>();
    } else if (kind == "interrupted") {
        r.kind = RunReport::Kind::interrupted;
        r.step = j.at("step").get<std::int64_t>();
    } else if (kind == "failed") {
        r.error = j.at("error").get<std::string>();
    } else {
        throw std::runtime_error("not a run report: kind " + kind);
    }
    return r;
}

void request_sweep_stop() { g_stop.store(true); }
bool sweep_stop_requested() { return g_stop.load(); }

}  // namespace elm::science
