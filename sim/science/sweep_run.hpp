// One run of a sweep, in whichever process trains it (a worker thread of `elmsim sweep`, or another
// process of an MPI sweep): its config.toml written into its folder, resumed from its checkpoint when
// it has one (the metrics log cut back to the checkpoint's step first), trained, scored on the test
// split (and the valid split where the task has one). The outcome is a RunReport — finished with its
// result.json, stopped early at a checkpoint, or failed with one error line — that travels between
// processes as JSON.
//
// Stopping early: request_sweep_stop() (async-signal-safe; `elmsim sweep` calls it on SIGINT, SIGTERM
// and SIGUSR1 — a job scheduler's preemption) makes every running run of this process stop at its
// next step and write its checkpoint; RunContext::stop does the same for one run.
//
// Testing hook: with ELMSIM_SWEEP_KILL_AFTER_CHECKPOINTS=K in the environment the process SIGKILLs
// itself right after its K-th periodic checkpoint — "killed at any moment" made reproducible.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "elmsim/sim/science/sweep_plan.hpp"

namespace elm::science {

struct RunReport {
    enum class Kind { finished, interrupted, failed };
    Kind kind = Kind::failed;
    nlohmann::json result;  // finished: the run's result.json
    bool resumed = false;
    double setup_s = 0.0, train_s = 0.0, eval_s = 0.0;
    std::int64_t step = 0;  // interrupted: the checkpoint's step
    std::string error;      // failed: one line
};

nlohmann::json report_to_json(const RunReport& r);
RunReport report_from_json(const nlohmann::json& j);  // std::runtime_error when it is not a report

// What the process running a run shares with whoever handed it out.
struct RunContext {
    std::atomic<double> fraction{0.0};  // of the run's steps (or time budget) done: the sweep's ETA
    std::atomic<bool> stop{false};      // stop at the next step with a checkpoint (the claim was lost, or asked)
    std::function<void()> on_step;      // after every step (may be empty)
    // An event for DIR/events.jsonl ("resume", "restart").
    std::function<void(const std::string& event, const nlohmann::json& extra)> log_event;
};

// Trains plan.runs[index] in `sweep_dir`/runs/<id> with `threads` threads. Never throws: an error
// becomes a failed report.
RunReport execute_run(const SweepPlan& plan, std::size_t index, const std::filesystem::path& sweep_dir, int threads,
                      const std::string& created_by, RunContext& ctx);

void request_sweep_stop();
bool sweep_stop_requested();

}  // namespace elm::science
