#include "elmsim/sim/science/sweep_runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "elmsim/sim/science/lock_file.hpp"
#include "elmsim/sim/science/remote_runs.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"

namespace elm::science {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

SweepSummary run_sweep(const SweepPlan& plan, const std::string& dir_path, const SweepOptions& opt) {
    SweepDirectory dir(dir_path, plan.sweep.stale_minutes);
    dir.adopt_plan(plan_to_json(plan));
    if (const std::string note = local_locking_note(dir_path); !note.empty() && opt.on_message)
        opt.on_message(fmt::format("{} is on {}: flock() there is local to each machine, so the sweep locks with "
                                   "lock files (DIR/lock), which hold across machines", dir_path, note));
    const auto start = Clock::now();
    SweepSummary summary;
    // An MPI sweep: slot 0 runs in this process, slot r on rank r. Otherwise `workers` local slots.
    std::mutex mu;
    std::condition_variable cv;
    std::unique_ptr<RemoteRuns> remote;
    if (opt.comm && opt.comm->size() > 1) remote = std::make_unique<RemoteRuns>(*opt.comm, [&cv] { cv.notify_all(); });
    const int slots = remote ? opt.comm->size() : std::max(1, opt.workers);
    std::vector<std::string> ids;
    for (const auto& r : plan.runs) ids.push_back(r.id);

    // Largest estimated work first: with several workers the long runs do not end up last.
    std::vector<std::size_t> order(plan.runs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return plan.runs[a].est_gflop > plan.runs[b].est_gflop; });

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
        RunContext ctx;  // ctx.stop also when the claim was taken over: the result is not ours
    };
    std::vector<std::unique_ptr<Active>> active;
    double done_seconds = 0.0, done_gflop = 0.0;
    int workers_left = slots;

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
            remaining += plan.runs[a->index].est_gflop * (1.0 - a->ctx.fraction.load());
        }
        p.elsewhere -= p.running;  // this process's own runs are "claimed" too
        p.left = p.total - p.finished - p.failed - p.running - p.elsewhere;
        p.elapsed_s = seconds_since(start);
        if (done_gflop > 0) p.eta_s = remaining * (done_seconds / done_gflop) / slots;
        return p;
    };
    const auto report = [&](const std::string& line) {
        if (opt.on_message) opt.on_message(line);
    };

    // The sweep's own files could not be written (results.jsonl, a claim, a result): every running
    // run stops at a checkpoint, no new one starts, and run_sweep throws the first such error.
    std::exception_ptr failure;
    const auto work = [&](int slot) {
        for (;;) {
            std::unique_lock lk(mu);
            std::optional<std::size_t> pick;
            std::optional<RunClaim> claim;
            for (std::size_t i : order) {
                if (sweep_stop_requested() || failure) break;  // stopping: no new run
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
            me->ctx.log_event = [&dir, &run](const std::string& event, const json& extra) { dir.log_event(event, run.id, extra); };
            const RunReport outcome = remote && slot > 0
                                          ? remote->run(slot, *pick, me->ctx)
                                          : execute_run(plan, *pick, dir.root(), opt.threads, opt.created_by, me->ctx);
            const double wall = seconds_since(t);
            const bool ours = me->claim->still_ours();
            if (ours) {
                if (outcome.kind == RunReport::Kind::interrupted) {
                    dir.log_event("interrupted", run.id, json{{"step", outcome.step}});
                } else if (outcome.kind == RunReport::Kind::finished) {
                    dir.write_result(run.id, outcome.result);
                    json extra{{"seconds", wall}};
                    if (remote) extra["rank"] = slot;  // which process of the MPI sweep trained it
                    dir.log_event("finish", run.id, extra);
                } else {
                    dir.write_error(run.id, outcome.error);
                    dir.log_event("fail", run.id, json{{"error", outcome.error}});
                }
                me->claim->release();
                if (outcome.kind != RunReport::Kind::interrupted) dir.rebuild_results(ids);
            }

            lk.lock();
            if (!ours) {
                states[*pick] = dir.state(run.id);
                report(fmt::format("sweep: {}: taken over by another process while it ran; its result is theirs", run.id));
            } else if (outcome.kind == RunReport::Kind::interrupted) {
                states[*pick] = RunState::open;
                ++summary.interrupted;
                report(fmt::format("sweep: {}: stopped at step {}, checkpointed; the next sweep resumes it", run.id,
                                   outcome.step));
            } else if (outcome.kind == RunReport::Kind::finished) {
                states[*pick] = RunState::finished;
                ++summary.finished_now;
                summary.resumed += outcome.resumed ? 1 : 0;
                summary.setup_s += outcome.setup_s;
                summary.train_s += outcome.train_s;
                summary.eval_s += outcome.eval_s;
                if (!outcome.resumed) {  // a resumed run did only part of its work here
                    done_seconds += wall;
                    done_gflop += run.est_gflop;
                }
                const auto& r = outcome.result;
                std::string score = fmt::format("test loss {:.4f}", r.value("test_loss", NAN));
                if (r.contains("test_accuracy")) score += fmt::format("  accuracy {:.4f}", r.value("test_accuracy", NAN));
                if (r.contains("test_bpc")) score += fmt::format("  bpc {:.4f}", r.value("test_bpc", NAN));
                report(fmt::format("sweep: done {}  P {}  {}  ({:.1f} s{})", run.id, run.count.P, score, wall,
                                   outcome.resumed ? ", resumed" : ""));
            } else {
                states[*pick] = RunState::failed;
                ++summary.failed_now;
                report(fmt::format("sweep: FAILED {}: {}", run.id, outcome.error));
            }
            active.erase(std::find_if(active.begin(), active.end(), [&](const auto& x) { return x.get() == me; }));
            if (opt.on_progress) opt.on_progress(progress());
        }
    };
    const auto worker = [&](int slot) {
        try {
            work(slot);
        } catch (...) {
            std::lock_guard lk(mu);
            if (!failure) failure = std::current_exception();
            for (const auto& a : active) a->ctx.stop = true;
        }
        std::lock_guard lk(mu);
        --workers_left;
        cv.notify_all();
    };

    std::vector<std::thread> threads;
    for (int w = 0; w < slots; ++w) threads.emplace_back(worker, w);
    std::exception_ptr lost_contact;
    {
        // Heartbeats (claims of running runs touched about four times per stale interval, at most
        // once a minute) and the progress line, until every worker is done.
        const double beat = std::min(60.0, plan.sweep.stale_minutes * 60.0 / 4.0);
        auto last_beat = Clock::now();
        // An MPI sweep also carries the other ranks' messages here, every 20 ms (a look costs the
        // transport's progress engine; a run is handed out at most that much later): this thread is
        // the one that talks to them.
        std::unique_lock lk(mu);
        const auto tick = std::chrono::duration<double>(remote ? 0.02 : std::min(1.0, beat));
        auto last_progress = Clock::now();
        while (workers_left > 0) {
            cv.wait_for(lk, tick);
            if (remote && !lost_contact) {
                lk.unlock();
                try {
                    remote->pump();
                } catch (const std::exception& e) {
                    lost_contact = std::current_exception();
                    remote->fail_all(e.what());  // every slot waiting on another rank returns
                }
                lk.lock();
            }
            if (seconds_since(last_beat) >= beat) {
                for (const auto& a : active) {
                    if (a->claim->still_ours()) a->claim->touch();
                    else a->ctx.stop = true;
                }
                last_beat = Clock::now();
            }
            if (opt.on_progress && workers_left > 0 && (!remote || seconds_since(last_progress) >= 1.0)) {
                opt.on_progress(progress());
                last_progress = Clock::now();
            }
        }
    }
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);  // (an MPI sweep's other ranks are told to abort)
    if (lost_contact) std::rethrow_exception(lost_contact);
    if (remote) remote->finish();  // the other ranks leave their loops
    dir.rebuild_results(ids);
    for (std::size_t i = 0; i < states.size(); ++i)
        if (dir.state(plan.runs[i].id) == RunState::claimed) ++summary.elsewhere;
    summary.wall_s = seconds_since(start);
    return summary;
}

}  // namespace elm::science
