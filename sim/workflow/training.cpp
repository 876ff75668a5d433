// A training run from a request (training.hpp): config, model, data, backend, observers.
#include "elmsim/sim/workflow/training.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/batch_dump.hpp"
#include "elmsim/io/task_data.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/workflow/model_file.hpp"

namespace elm::workflow {

namespace fs = std::filesystem;

// Periodic and final checkpoints: the backend's parameters, the config text and the resume state.
class TrainingRun::CheckpointWriter final : public sim::TrainObserver {
public:
    explicit CheckpointWriter(TrainingRun& run) : run_(run) {}
    void on_checkpoint(const models::TrainState& st) override {
        run_.backend_->read_params(run_.net_.params);
        io::save_checkpoint(run_.out_, run_.net_, run_.cfg_.toml_text, &st, run_.created_by_);
    }

private:
    TrainingRun& run_;
};

// The first batch as the network sees it, for comparisons with other implementations.
class TrainingRun::BatchDump final : public sim::TrainObserver {
public:
    BatchDump(std::string path, int C) : path_(std::move(path)), C_(C) {}
    bool wants_first_batch() const override { return true; }
    void on_first_batch(const models::Batch& batch, const std::vector<float>& input) override {
        io::write_batch_dump(path_, batch, input, C_);
    }

private:
    std::string path_;
    int C_;
};

TrainingRun::TrainingRun(const TrainRequest& r)
    : cfg_(r.config ? *r.config : io::load_experiment_config(r.config_path)), created_by_(r.created_by),
      net_(cfg_.model) {
    if (!r.init_path.empty() && !r.resume_path.empty())
        throw InputError("train: give an initial model or a run to resume, not both");
    if (r.steps && *r.steps < 0) throw ParameterError("steps", fmt::format("expected >= 0, got {}", *r.steps));
    out_ = r.out_path.empty() ? (fs::path(cfg_.train.out_dir) / "model.h5").string() : r.out_path;
    const fs::path dir = fs::path(out_).parent_path();
    fs::create_directories(dir.empty() ? fs::path(".") : dir);
    // Every output is checked before any work (io/atomic_output.hpp): a directory, FIFO or device
    // given as one is refused now, not after hours of training.
    io::ensure_writable_dir(out_);
    metrics_path_ = metrics_path_for(out_);
    io::ensure_writable_dir(metrics_path_);
    if (!r.dump_batch_path.empty()) io::ensure_writable_dir(r.dump_batch_path);

    std::optional<io::Checkpoint> ck;
    const std::string& from = r.resume_path.empty() ? r.init_path : r.resume_path;
    if (!from.empty()) {
        ck = io::load_checkpoint(from);
        check_model_fits_task(ck->net.cfg, cfg_.model, from);
        // A model from before the rate rule trains on under it: the same on the clock (g = 1), and
        // what its checkpoints will say.
        if (!ck->drive_declared) ck->net.cfg.drive = models::DriveRule::rate;
        cfg_.model = ck->net.cfg;
        net_ = ck->net;
    } else {
        net_ = models::make_network<float>(cfg_.model);
    }
    if (!r.resume_path.empty() && !ck->train)
        throw InputError(fmt::format("{}: /train: the checkpoint holds no training state to resume (start a new run "
                                     "from its parameters instead)", r.resume_path));

    backend_ = open_backend(r.backend, net_, r.threads, cfg_.train);
    train_ = io::make_train_source(cfg_);
    const std::string eval_path = cfg_.task.kind == io::TaskKind::bytes ? cfg_.task.bytes_path
                                  : !cfg_.task.valid_path.empty()       ? cfg_.task.valid_path
                                                                        : cfg_.task.test_path;
    // Samples in memory replace the file of their split: the valid split first, then the test split.
    const auto& t = cfg_.task;
    const auto& in_memory = t.valid_samples ? t.valid_samples : t.valid_path.empty() ? t.test_samples : nullptr;
    eval_ = in_memory && t.kind != io::TaskKind::bytes ? io::make_eval_source(cfg_, *in_memory)
                                                       : io::make_eval_source(cfg_, eval_path, io::Split::valid);
    metrics_ = std::make_unique<MetricsLogObserver>(metrics_path_, cfg_.train.log_every);
    trainer_ = std::make_unique<sim::Trainer>(*backend_, cfg_.train, *train_, eval_.get(), r.comm);
    if (!r.resume_path.empty()) trainer_->restore(*ck->train);
    steps_ = r.steps.value_or(cfg_.train.max_steps);
    checkpoints_ = std::make_unique<CheckpointWriter>(*this);
    if (r.comm && r.comm->rank() != 0) return;  // the other processes compute; rank 0 writes
    trainer_->add_observer(*metrics_);
    trainer_->add_observer(*checkpoints_);
    if (!r.dump_batch_path.empty()) {
        dump_ = std::make_unique<BatchDump>(r.dump_batch_path, cfg_.model.input_width());
        trainer_->add_observer(*dump_);
    }
}

TrainingRun::~TrainingRun() = default;

std::int64_t TrainingRun::last_step() const { return sim::last_step_of(trainer_->step(), steps_, cfg_.train.max_steps); }

TrainResult TrainingRun::run() {
    TrainResult result;
    result.final_eval = trainer_->run(steps_);
    result.model_path = out_;
    result.metrics_path = metrics_path_;
    result.step = trainer_->step();
    result.stopped_by_signal = trainer_->stopped_by_signal();
    return result;
}

sim::EvalResult TrainingRun::evaluate(io::Split split) {
    const auto& t = cfg_.task;
    const auto& in_memory = split == io::Split::valid ? t.valid_samples
                            : split == io::Split::test ? t.test_samples
                                                       : t.train_samples;
    if (in_memory && t.kind != io::TaskKind::bytes) return trainer_->evaluate(*io::make_eval_source(cfg_, *in_memory));
    const std::string path = t.kind == io::TaskKind::bytes ? t.bytes_path
                             : split == io::Split::valid    ? t.valid_path
                             : split == io::Split::test     ? t.test_path
                                                            : t.train_path;
    if (path.empty())
        throw InputError(fmt::format("{}: task: no data file for the {} split", cfg_.origin, io::to_string(split)));
    const auto source = io::make_eval_source(cfg_, path, split);
    return trainer_->evaluate(*source);
}

}  // namespace elm::workflow
