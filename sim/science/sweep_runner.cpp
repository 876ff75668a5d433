#include "elmsim/sim/science/sweep_runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/lock_file.hpp"
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

// A run stopped by request_sweep_stop() before its end: checkpointed, not finished.
struct Interrupted {
    std::int64_t step;
};

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
    RunObserver(double budget_s, double spent_s, fs::path elapsed_file, std::atomic<double>& fraction,
                const std::atomic<bool>& lost)
        : budget_s_(budget_s), spent_s_(spent_s), elapsed_file_(std::move(elapsed_file)), fraction_(fraction), lost_(lost) {}

    void on_start(std::int64_t first, std::int64_t last) override {
        start_ = Clock::now();
        first_ = first;
        last_ = last;
    }
    void on_step(const sim::StepReport& r) override {
        double f = last_ > 0 ? static_cast<double>(r.step) / static_cast<double>(last_) : 1.0;
        if (budget_s_ > 0) f = std::max(f, std::min(1.0, seconds() / budget_s_));
        fraction_.store(f);
        step_ = r.step;
    }
    void on_steps_done() override { steps_done_ = Clock::now(); }
    // Stop on request, when the claim was taken over (another process runs this run now), or on time.
    bool wants_stop() const override {
        return g_stop.load() || lost_.load() || (budget_s_ > 0 && seconds() >= budget_s_);
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
    std::atomic<double>& fraction_;
    const std::atomic<bool>& lost_;
    Clock::time_point start_ = Clock::now(), steps_done_ = Clock::now();
    std::int64_t first_ = 0, last_ = 0, step_ = 0;
};

struct RunOutcome {
    json result;
    bool resumed = false;
    double setup_s = 0.0, train_s = 0.0, eval_s = 0.0;
};

RunOutcome train_and_score(const SweepPlan& plan, const PlannedRun& run, SweepDirectory& dir, const SweepOptions& opt,
                           std::atomic<double>& fraction, const std::atomic<bool>& lost) {
    RunOutcome out;
    const auto t0 = Clock::now();
    const fs::path rd = dir.run_dir(run.id);
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
    req.threads = opt.threads;
    req.created_by = opt.created_by;
    double spent = 0.0;
    const fs::path metrics = workflow::metrics_path_for(model_path.string());
    std::error_code ec;
    if (fs::exists(model_path)) {
        std::optional<io::Checkpoint> ck;
        try {
            ck = io::load_checkpoint(model_path.string());
        } catch (const InputError& e) {
            // Checkpoints are written atomically, so this is damage from outside: start the run over.
            dir.log_event("restart", run.id, json{{"reason", e.what()}});
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
            dir.log_event("resume", run.id, json{{"step", ck->train->step}});
        }
    }
    if (!out.resumed) {
        fs::remove(metrics, ec);
        fs::remove(model_path, ec);
    }
    workflow::TrainingRun training(req);
    RunObserver observer(plan.sweep.minutes * 60.0, spent, elapsed_path, fraction, lost);
    training.add_observer(observer);
    out.setup_s = seconds_since(t0);
    const std::int64_t last = training.last_step();
    const auto t1 = Clock::now();
    const workflow::TrainResult tr = training.run();
    // Stopped on request (or by losing the claim) before the end — its last step or its time budget:
    // the checkpoint is there to resume from; no result.
    const bool done = tr.step >= last || (plan.sweep.minutes > 0 && observer.seconds() >= plan.sweep.minutes * 60.0);
    if ((g_stop.load() || lost.load()) && !done) throw Interrupted{tr.step};
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

SweepSummary run_sweep(const SweepPlan& plan, const std::string& dir_path, const SweepOptions& opt) {
    SweepDirectory dir(dir_path, plan.sweep.stale_minutes);
    dir.adopt_plan(plan_to_json(plan));
    if (const std::string note = local_locking_note(dir_path); !note.empty() && opt.on_message)
        opt.on_message(fmt::format("{} is on {}: flock() there is local to each machine, so the sweep locks with "
                                   "lock files (DIR/lock), which hold across machines", dir_path, note));
    const auto start = Clock::now();
    SweepSummary summary;
    std::vector<std::string> ids;
    for (const auto& r : plan.runs) ids.push_back(r.id);

    // Largest estimated work first: with several workers the long runs do not end up last.
    std::vector<std::size_t> order(plan.runs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return plan.runs[a].est_gflop > plan.runs[b].est_gflop; });

    std::mutex mu;
    std::condition_variable cv;
    std::vector<RunState> states(plan.runs.size());
    std::vector<bool> tried(plan.runs.size(), false);
    for (std::size_t i = 0; i < plan.runs.size(); ++i) {
        states[i] = dir.state(plan.runs[i].id);
        if (states[i] == RunState::finished) ++summary.already_finished;
        if (states[i] == RunState::failed) ++summary.already_failed;
    }
    if (opt.retry_failed)
        for (auto& s : states)
            if (s == RunState::failed) s = RunState::open;
    struct Active {
        std::size_t index;
        std::optional<RunClaim> claim;
        std::atomic<double> fraction{0.0};
        std::atomic<bool> lost{false};  // the claim was taken over: stop, the result is not ours
    };
    std::vector<std::unique_ptr<Active>> active;
    double done_seconds = 0.0, done_gflop = 0.0;
    int workers_left = std::max(1, opt.workers);

    const auto progress = [&]() {  // with mu held
        SweepProgress p;
        p.total = static_cast<int>(plan.runs.size());
        double remaining = 0.0;
        for (std::size_t i = 0; i < states.size(); ++i) {
            switch (states[i]) {
                case RunState::finished: ++p.finished; break;
                case RunState::failed: ++p.failed; break;
                case RunState::claimed: ++p.elsewhere; break;
                case RunState::open: remaining += plan.runs[i].est_gflop; break;
            }
        }
        for (const auto& a : active) {
            ++p.running;
            remaining += plan.runs[a->index].est_gflop * (1.0 - a->fraction.load());
        }
        p.elsewhere -= p.running;  // this process's own runs are "claimed" too
        p.left = p.total - p.finished - p.failed - p.running - p.elsewhere;
        p.elapsed_s = seconds_since(start);
        if (done_gflop > 0) p.eta_s = remaining * (done_seconds / done_gflop) / std::max(1, opt.workers);
        return p;
    };
    const auto report = [&](const std::string& line) {
        if (opt.on_message) opt.on_message(line);
    };

    const auto worker = [&]() {
        for (;;) {
            std::unique_lock lk(mu);
            std::optional<std::size_t> pick;
            std::optional<RunClaim> claim;
            for (std::size_t i : order) {
                if (g_stop.load()) break;  // stopping: no new run
                if (tried[i] || states[i] == RunState::finished || states[i] == RunState::failed) continue;
                tried[i] = true;
                lk.unlock();
                auto c = dir.try_claim(plan.runs[i].id, opt.retry_failed);
                const RunState now = c ? RunState::claimed : dir.state(plan.runs[i].id);
                lk.lock();
                states[i] = now;
                if (c) {
                    pick = i;
                    claim = std::move(c);
                    break;
                }
            }
            if (!pick) break;
            auto a = std::make_unique<Active>();
            a->index = *pick;
            a->claim = std::move(claim);
            Active* me = a.get();
            active.push_back(std::move(a));
            if (opt.on_progress) opt.on_progress(progress());
            lk.unlock();

            const PlannedRun& run = plan.runs[*pick];
            const auto t = Clock::now();
            std::optional<RunOutcome> outcome;
            std::optional<Interrupted> interrupted;
            std::string error;
            try {
                outcome = train_and_score(plan, run, dir, opt, me->fraction, me->lost);
            } catch (const Interrupted& i) {
                interrupted = i;
            } catch (const std::bad_alloc&) {
                error = "out of memory";
            } catch (const std::exception& e) {
                error = e.what();
            }
            const double wall = seconds_since(t);
            const bool ours = me->claim->still_ours();
            if (ours && interrupted) {
                dir.log_event("interrupted", run.id, json{{"step", interrupted->step}});
                me->claim->release();
            } else if (ours) {
                if (outcome) {
                    dir.write_result(run.id, outcome->result);
                    dir.log_event("finish", run.id, json{{"seconds", wall}});
                } else {
                    dir.write_error(run.id, error);
                    dir.log_event("fail", run.id, json{{"error", error}});
                }
                me->claim->release();
                dir.rebuild_results(ids);
            }

            lk.lock();
            if (!ours) {
                states[*pick] = dir.state(run.id);
                report(fmt::format("sweep: {}: taken over by another process while it ran; its result is theirs", run.id));
            } else if (interrupted) {
                states[*pick] = RunState::open;
                ++summary.interrupted;
                report(fmt::format("sweep: {}: stopped at step {}, checkpointed; the next sweep resumes it", run.id,
                                   interrupted->step));
            } else if (outcome) {
                states[*pick] = RunState::finished;
                ++summary.finished_now;
                summary.resumed += outcome->resumed ? 1 : 0;
                summary.setup_s += outcome->setup_s;
                summary.train_s += outcome->train_s;
                summary.eval_s += outcome->eval_s;
                if (!outcome->resumed) {  // a resumed run did only part of its work here
                    done_seconds += wall;
                    done_gflop += run.est_gflop;
                }
                const auto& r = outcome->result;
                std::string score = fmt::format("test loss {:.4f}", r.value("test_loss", NAN));
                if (r.contains("test_accuracy")) score += fmt::format("  accuracy {:.4f}", r.value("test_accuracy", NAN));
                if (r.contains("test_bpc")) score += fmt::format("  bpc {:.4f}", r.value("test_bpc", NAN));
                report(fmt::format("sweep: done {}  P {}  {}  ({:.1f} s{})", run.id, run.count.P, score, wall,
                                   outcome->resumed ? ", resumed" : ""));
            } else {
                states[*pick] = RunState::failed;
                ++summary.failed_now;
                report(fmt::format("sweep: FAILED {}: {}", run.id, error));
            }
            active.erase(std::find_if(active.begin(), active.end(), [&](const auto& x) { return x.get() == me; }));
            if (opt.on_progress) opt.on_progress(progress());
        }
        std::lock_guard lk(mu);
        --workers_left;
        cv.notify_all();
    };

    std::vector<std::thread> threads;
    for (int w = 0; w < std::max(1, opt.workers); ++w) threads.emplace_back(worker);
    {
        // Heartbeats (claims of running runs touched about four times per stale interval, at most
        // once a minute) and the progress line, until every worker is done.
        const double beat = std::min(60.0, plan.sweep.stale_minutes * 60.0 / 4.0);
        auto last_beat = Clock::now();
        std::unique_lock lk(mu);
        const auto tick = std::chrono::duration<double>(std::min(1.0, beat));
        while (workers_left > 0) {
            cv.wait_for(lk, tick);
            if (seconds_since(last_beat) >= beat) {
                for (const auto& a : active) {
                    if (a->claim->still_ours()) a->claim->touch();
                    else a->lost = true;
                }
                last_beat = Clock::now();
            }
            if (opt.on_progress && workers_left > 0) opt.on_progress(progress());
        }
    }
    for (auto& t : threads) t.join();
    dir.rebuild_results(ids);
    for (std::size_t i = 0; i < states.size(); ++i)
        if (dir.state(plan.runs[i].id) == RunState::claimed) ++summary.elsewhere;
    summary.wall_s = seconds_since(start);
    return summary;
}

void request_sweep_stop() { g_stop.store(true); }
bool sweep_stop_requested() { return g_stop.load(); }

}  // namespace elm::science
