// Training runs as a library call (`elmsim train`, sweeps, a second process): everything around the
// Trainer that makes a run a run — the experiment config, the model from a seed, an initial
// checkpoint or a run to resume (its structure must fit the task; resuming needs its /train), the
// task's data sources, the backend, the output paths (<train.out_dir>/model.h5 by default, and
// <model>.metrics.jsonl next to it), periodic and final checkpoints, and optionally a dump of the
// first batch.
//
// Two steps, so that a caller can show the plan before any work: the constructor validates and
// loads everything (nothing is trained or written but the output directory), run() trains.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/split.hpp"
#include "elmsim/models/batch.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "elmsim/sim/train_observer.hpp"
#include "elmsim/sim/trainer.hpp"
#include "elmsim/sim/workflow/metrics_log.hpp"

namespace elm::workflow {

struct TrainRequest {
    std::string config_path;                     // the experiment config (TOML) ...
    std::optional<io::ExperimentConfig> config;  // ... or one already parsed (used when set)
    std::string init_path;                       // start from this checkpoint's parameters
    std::string resume_path;                     // continue this checkpoint's run bit for bit
    std::string out_path;                        // default <train.out_dir>/model.h5
    std::optional<std::int64_t> steps;           // optimizer steps now (default: up to train.max_steps)
    std::optional<std::int64_t> threads;         // worker threads (default train.threads; 0 = all cores)
    std::string backend = "cpu";
    std::string dump_batch_path;                 // write the first batch as the network sees it
    std::string created_by = "elmsim";           // provenance recorded in checkpoints
    sim::Communicator* comm = nullptr;           // the processes training together (null: this one);
                                                 // only rank 0 writes the checkpoint and metrics
};

struct TrainResult {
    std::string model_path, metrics_path;
    std::int64_t step = 0;                   // optimizer steps done in total
    std::optional<sim::EvalResult> final_eval;  // the evaluation after the last step (when data exists)
    bool stopped_by_signal = false;            // sim::request_training_stop: checkpointed, not evaluated
};

class TrainingRun {
public:
    // InputError / ParameterError ("steps", "threads", "backend", ...) for anything that would make
    // the run fail: a bad config, missing data, a model that does not fit the task, an unwritable
    // output, a checkpoint without training state to resume.
    explicit TrainingRun(const TrainRequest& request);
    ~TrainingRun();
    TrainingRun(const TrainingRun&) = delete;
    TrainingRun& operator=(const TrainingRun&) = delete;

    const io::ExperimentConfig& config() const { return cfg_; }  // config.model: the model trained
    const sim::Backend& backend() const { return *backend_; }
    std::int64_t first_step() const { return trainer_->step(); }
    std::int64_t last_step() const;
    const std::string& model_path() const { return out_; }
    const std::string& metrics_path() const { return metrics_path_; }

    // Observers besides the run's own metrics log and checkpoint writer (a progress line, a sweep).
    void add_observer(sim::TrainObserver& observer) { trainer_->add_observer(observer); }

    // Trains `steps` more steps (or up to train.max_steps), evaluating and checkpointing on the way.
    TrainResult run();

    // The model as trained so far, scored on one split of the task's data (SHD tasks: test = the
    // test file, valid = the valid file; byte tasks: that part of the byte file). InputError when
    // the config names no file for it.
    sim::EvalResult evaluate(io::Split split);

private:
    class CheckpointWriter;
    class BatchDump;

    io::ExperimentConfig cfg_;
    std::string out_, metrics_path_, created_by_;
    std::int64_t steps_ = 0;
    models::Network<float> net_;  // host copy of the parameters, refreshed for every checkpoint
    std::unique_ptr<sim::Backend> backend_;
    std::unique_ptr<models::BatchSource> train_, eval_;
    std::unique_ptr<MetricsLogObserver> metrics_;
    std::unique_ptr<CheckpointWriter> checkpoints_;
    std::unique_ptr<BatchDump> dump_;
    std::unique_ptr<sim::Trainer> trainer_;
};

}  // namespace elm::workflow
