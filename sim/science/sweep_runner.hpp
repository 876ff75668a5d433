// Running a sweep (`elmsim sweep`): `workers` runs at once in this process, each a library training
// run (sweep_run.hpp) with `threads` threads, claimed through the SweepDirectory so that any number of
// processes can share one directory. A run that has a checkpoint resumes from it bit for bit; a
// finished run is skipped; a run that fails is recorded in error.json and the sweep goes on. After
// each run its result.json is written (test metrics, and valid ones where the task has a valid split,
// timings) and results.jsonl is rebuilt.
//
// An MPI sweep (`mpirun -n R elmsim sweep`; SweepOptions::comm with R > 1): rank 0 calls run_sweep and
// every other rank serve_sweep_runs (remote_runs.hpp). Rank 0 hands out the runs, largest first, one
// at a time to each rank and to itself, and alone writes the directory's shared files (claims,
// results, errors, events, results.jsonl); a rank writes only the folder of the run it was handed.
// Rank 0 still claims each run, so an MPI sweep and array jobs may share one directory.
//
// Stopping early: request_sweep_stop() makes every running run stop at its next step, write its
// checkpoint and give its claim back at once, and no new run starts: run the sweep again (here or on
// any machine) and those runs resume from there, bit for bit. In an MPI sweep a stop on any rank
// stops every rank.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "elmsim/sim/science/sweep_plan.hpp"
#include "elmsim/sim/science/sweep_run.hpp"

namespace elm::sim {
class Communicator;
}

namespace elm::science {

struct SweepProgress {
    int total = 0;
    int finished = 0;   // result.json exists (this process or another, now or before)
    int failed = 0;
    int running = 0;    // in this process
    int elsewhere = 0;  // claimed by another live process when last looked at
    int left = 0;
    double elapsed_s = 0.0;
    std::optional<double> eta_s;  // from this process's finished runs' seconds per estimated GFLOP
};

struct SweepOptions {
    int workers = 1;                      // runs at once in this process (1 in an MPI sweep)
    sim::Communicator* comm = nullptr;    // an MPI sweep's ranks (rank 0 calls run_sweep); null: this process alone
    int threads = 1;
    bool retry_failed = false;
    std::string created_by = "elmsim";
    std::function<void(const SweepProgress&)> on_progress;  // about once a second, and at every change
    std::function<void(const std::string&)> on_message;     // a line: a run finished or failed
};

struct SweepSummary {
    int finished_now = 0, failed_now = 0, resumed = 0;
    int interrupted = 0;          // stopped by request_sweep_stop(): checkpointed, claim released
    int already_finished = 0, already_failed = 0;
    int elsewhere = 0;            // left running in another process
    double wall_s = 0.0;
    double setup_s = 0.0;         // summed over the runs of this process: config, data, model
    double train_s = 0.0;         // training steps and checkpoints
    double eval_s = 0.0;          // final evaluations
};

SweepSummary run_sweep(const SweepPlan& plan, const std::string& dir, const SweepOptions& options);

}  // namespace elm::science
