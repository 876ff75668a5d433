// `elmsim train` and `elmsim eval`: flags -> workflow::TrainingRun / workflow::evaluate_model.
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/split.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/param_count.hpp"
#include "elmsim/sim/workflow/evaluate.hpp"
#include "elmsim/sim/workflow/training.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"
#include "tools/cli/progress_line.hpp"

namespace elm::tools {

namespace {

struct TrainArgs {
    workflow::TrainRequest request;
    bool quiet = false;
};

struct EvalArgs {
    workflow::EvalRequest request;
    std::string split = "test";
};

extern "C" void on_train_signal(int sig) {
    sim::request_training_stop(sig);
    std::signal(sig, SIG_DFL);
}

const FlagNames kEvalFlags = {{"threads", "--threads"}, {"backend", "--backend"}, {"data_path", "--data"}};

void run_train(TrainArgs& a) {
    auto& r = a.request;
    if (!r.init_path.empty() && !r.resume_path.empty()) throw InputError("train: give --init or --resume, not both");
    r.created_by = created_by();
    // Under mpirun/srun, one process per rank: each checks its own inputs, and a failure on any of them
    // is one line from rank 0 (the others exit 2 without printing).
    const auto comm = sim::world_communicator();
    r.comm = comm.get();
    std::unique_ptr<workflow::TrainingRun> run_ptr;
    sim::run_agreed(*comm, [&] {
        run_ptr = with_flag_names({{"steps", "--max-steps"}, {"threads", "--threads"}, {"backend", "--backend"}},
                                  [&] { return std::make_unique<workflow::TrainingRun>(r); });
    });
    workflow::TrainingRun& run = *run_ptr;
    const bool speaks = comm->rank() == 0;
    const auto& cfg = run.config();
    const auto pc = models::count_params(cfg.model);
    if (!a.quiet && speaks)
        fmt::print(stderr, "train: task {}  N {}  k_e {}  k_c {}  P {}  | steps {} .. {}  batch {}{}{}  {}{}\n",
                   io::to_string(cfg.task.kind), cfg.model.N, pc.k_e, pc.k_c, pc.P, run.first_step(), run.last_step(),
                   cfg.train.batch_size, cfg.train.shards > 0 ? fmt::format(" in {} shards", cfg.train.shards) : "",
                   cfg.train.time == models::TimeBase::clock ? "" : "  | " + io::describe_time_base(cfg),
                   run.backend().describe(), comm->size() > 1 ? "  | " + comm->describe() : "");
    ProgressObserver progress(!a.quiet && speaks);
    run.add_observer(progress);
    // SIGINT (Ctrl-C), SIGTERM and SIGUSR1 (a scheduler's preemption or time-limit warning): stop after
    // the current step and write the checkpoint; a second signal kills at once.
    for (const int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, on_train_signal);
    const auto result = run.run();
    for (const int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, SIG_DFL);
    // No process ends before rank 0 has written the last checkpoint (a launcher may kill the others
    // when one exits with an error code, as a stopped run does).
    comm->barrier();
    if (result.stopped_by_signal) {
        const int sig = sim::training_stop_signal();
        if (speaks) {
            fmt::print("train: stopped by signal {} after step {}: checkpoint {} written; the same command with "
                       "--resume {} continues\n",
                       sig, result.step, result.model_path, result.model_path);
            std::fflush(stdout);
        }
        throw QuietExit(128 + sig);
    }
    if (!speaks) return;
    if (result.final_eval) {
        const auto& s = result.final_eval->stats;
        if (result.final_eval->text)
            fmt::print("final: step {}  valid loss {:.4f}  bpc {:.4f}\n", result.step, s.loss(), s.bpc());
        else
            fmt::print("final: step {}  test loss {:.4f}  test accuracy {:.4f} ({} samples)\n", result.step, s.loss(),
                       s.accuracy(), s.count);
    }
    fmt::print("model:   {}\nmetrics: {}\n", result.model_path, result.metrics_path);
}

void run_eval(EvalArgs& a) {
    a.request.split = with_flag_names({{"split", "--split"}}, [&] { return io::split_from_string(a.split); });
    const auto r = with_flag_names(kEvalFlags, [&] { return workflow::evaluate_model(a.request); });
    const auto& s = r.stats;
    if (r.text)
        fmt::print("{} ({}): loss {:.4f} nats  bpc {:.4f}  next-byte accuracy {:.4f} over {} bytes\n",
                   a.request.data_path, a.split, s.loss(), s.bpc(), s.accuracy(), s.count);
    else
        fmt::print("{}: loss {:.4f}  accuracy {:.4f} over {} samples\n", a.request.data_path, s.loss(), s.accuracy(),
                   s.count);
}

}  // namespace

void register_train(CLI::App& app) {
    auto a = std::make_shared<TrainArgs>();
    auto& r = a->request;
    auto* cmd = app.add_subcommand("train", "Train an ELM Network (BPTT) on the config's task");
    cmd->add_option("--config", r.config_path, "Experiment config (TOML)")->required();
    cmd->add_option("--init", r.init_path, "Start from the parameters of this checkpoint");
    cmd->add_option("--resume", r.resume_path, "Continue this checkpoint's run bit for bit");
    cmd->add_option("--max-steps", r.steps, "Optimizer steps to run now (default: up to train.max_steps)");
    cmd->add_option("--out", r.out_path, "Output checkpoint (default: <train.out_dir>/model.h5)");
    add_engine_options(*cmd, r.backend, r.threads);
    cmd->add_option("--dump-batch", r.dump_batch_path,
                    "Write the first batch (model input x, targets) to this HDF5 file");
    cmd->add_flag("--quiet", a->quiet, "No progress line");
    cmd->callback([a] { run_train(*a); });
}

void register_eval(CLI::App& app) {
    auto a = std::make_shared<EvalArgs>();
    auto& r = a->request;
    auto* cmd = app.add_subcommand("eval", "Evaluate a trained model: accuracy and loss, or bpc for text");
    cmd->add_option("--model", r.model_path, "Model checkpoint (HDF5)")->required();
    cmd->add_option("--data", r.data_path, "SHD-format file, or byte file for text models")->required();
    cmd->add_option("--split", a->split, "Byte files: train, valid or test (default test)");
    add_engine_options(*cmd, r.backend, r.threads);
    cmd->callback([a] { run_eval(*a); });
}

}  // namespace elm::tools
