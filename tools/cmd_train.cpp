// `elmsim train` and `elmsim eval`: learning mode and evaluation on the CPU backend.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/task_data.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/param_count.hpp"
#include "elmsim/sim/small_gemm.hpp"
#include "elmsim/sim/trainer.hpp"
#include "tools/commands.hpp"

namespace elm::tools {

namespace {

struct TrainArgs {
    std::string config, init, resume, out, backend = "cpu", dump_batch;
    std::optional<std::int64_t> max_steps, threads;
    bool quiet = false;
};

struct EvalArgs {
    std::string model, data, split = "test";
    std::optional<std::int64_t> threads;
};

// A checkpoint's model must fit the task it is trained or evaluated on.
void check_model_fits_task(const models::ModelConfig& model, const models::ModelConfig& task, const std::string& what) {
    if (model.C != task.C || model.n_out != task.n_out)
        throw InputError(fmt::format("{}: the model reads C = {} channels into n_out = {} classes, the task needs C = {}, "
                                     "n_out = {}", what, model.C, model.n_out, task.C, task.n_out));
}

void write_batch_dump(const std::string& path, const models::Batch& batch, const std::vector<float>& input, int C) {
    io::AtomicOutput out(path);
    auto f = io::H5File::create(out.tmp_path());
    const std::vector<hsize_t> xshape{static_cast<hsize_t>(batch.T), static_cast<hsize_t>(batch.B),
                                      static_cast<hsize_t>(C)};
    io::write_dataset<float>(f.id(), "x", input.data(), xshape);
    io::write_dataset<std::int32_t>(f.id(), "targets", batch.targets.data(), {static_cast<hsize_t>(batch.targets.size())});
    if (!batch.tokens.empty())
        io::write_dataset<std::uint8_t>(f.id(), "tokens", batch.tokens.data(),
                                        {static_cast<hsize_t>(batch.T), static_cast<hsize_t>(batch.B)});
    f.close();
    out.commit();
}

std::string metrics_path_for(const std::string& model_path) {
    std::filesystem::path p(model_path);
    p.replace_extension(".metrics.jsonl");
    return p.string();
}

int resolve_threads(std::optional<std::int64_t> flag, std::int64_t config) {
    const std::int64_t t = flag.value_or(config);
    if (t < 0 || t > 1024) throw InputError(fmt::format("--threads: expected 0 (all cores) .. 1024, got {}", t));
    return static_cast<int>(t);
}

void run_train(const TrainArgs& a) {
    if (a.backend != "cpu" && a.backend != "cuda")
        throw InputError(fmt::format("--backend: expected \"cpu\" or \"cuda\", got \"{}\"", a.backend));
    if (a.backend == "cuda")
        throw InputError("--backend cuda: this build of elmsim has no CUDA training backend yet; use --backend cpu");
    if (!a.init.empty() && !a.resume.empty()) throw InputError("train: give --init or --resume, not both");
    auto cfg = io::load_experiment_config(a.config);
    const std::string out = a.out.empty() ? (std::filesystem::path(cfg.train.out_dir) / "model.h5").string() : a.out;
    std::filesystem::create_directories(std::filesystem::path(out).parent_path().empty()
                                            ? std::filesystem::path(".")
                                            : std::filesystem::path(out).parent_path());
    io::ensure_writable_dir(out);

    std::optional<io::Checkpoint> ck;
    if (!a.resume.empty()) ck = io::load_checkpoint(a.resume);
    if (!a.init.empty()) ck = io::load_checkpoint(a.init);
    models::Network<float> net = ck ? ck->net : models::make_network<float>(cfg.model);
    if (ck) {
        check_model_fits_task(net.cfg, cfg.model, a.resume.empty() ? a.init : a.resume);
        cfg.model = net.cfg;
    }
    if (!a.resume.empty() && !ck->train)
        throw InputError(fmt::format("{}: /train: the checkpoint holds no training state to resume (use --init)", a.resume));

    sim::Executor ex(resolve_threads(a.threads, cfg.train.threads));
    auto train = io::make_train_source(cfg);
    const std::string eval_path = cfg.task.kind == io::TaskKind::bytes ? cfg.task.bytes_path
                                  : !cfg.task.valid_path.empty()       ? cfg.task.valid_path
                                                                       : cfg.task.test_path;
    auto eval = io::make_eval_source(cfg, eval_path, io::Split::valid);
    sim::MetricsLog log(metrics_path_for(out));
    sim::Trainer trainer(net, cfg.train, *train, eval.get(), ex, &log);
    if (!a.resume.empty()) trainer.restore(*ck->train);

    const auto pc = models::count_params(cfg.model);
    if (a.max_steps && *a.max_steps < 0) throw InputError(fmt::format("--max-steps: expected >= 0, got {}", *a.max_steps));
    const std::int64_t steps = a.max_steps.value_or(cfg.train.max_steps);
    if (!a.quiet)
        fmt::print(stderr,
                   "train: task {}  N {}  k_e {}  k_c {}  P {}  | steps {} .. {}  batch {}  threads {}  kernels {}\n",
                   io::to_string(cfg.task.kind), cfg.model.N, pc.k_e, pc.k_c, pc.P, trainer.step(),
                   std::min(cfg.train.max_steps, trainer.step() + steps), cfg.train.batch_size, ex.threads(),
                   sim::gemm_kernels());
    sim::TrainHooks hooks;
    hooks.checkpoint = [&](const models::TrainState& st) {
        io::save_checkpoint(out, net, cfg.toml_text, &st, created_by());
    };
    if (!a.dump_batch.empty())
        hooks.first_batch = [&](const models::Batch& b, const std::vector<float>& input) {
            write_batch_dump(a.dump_batch, b, input, net.cfg.input_width());
        };
    const auto result = trainer.run(steps, hooks, !a.quiet);
    if (result) {
        const auto& s = result->stats;
        if (result->text)
            fmt::print("final: step {}  valid loss {:.4f}  bpc {:.4f}\n", trainer.step(), s.loss(), s.bpc());
        else
            fmt::print("final: step {}  test loss {:.4f}  test accuracy {:.4f} ({} samples)\n", trainer.step(), s.loss(),
                       s.accuracy(), s.count);
    }
    fmt::print("model:   {}\nmetrics: {}\n", out, metrics_path_for(out));
}

void run_eval(const EvalArgs& a) {
    const auto ck = io::load_checkpoint(a.model);
    auto cfg = io::parse_experiment_config(ck.config_toml, a.model + ": /config");
    check_model_fits_task(ck.net.cfg, cfg.model, a.model);
    cfg.model = ck.net.cfg;
    sim::Executor ex(resolve_threads(a.threads, cfg.train.threads));
    const auto split = io::split_from_string(a.split);
    if (cfg.task.kind == io::TaskKind::bytes) cfg.task.eval_windows = 0;  // the whole split
    auto source = io::make_eval_source(cfg, a.data, split);
    sim::Learner<float> learner(ck.net, ex);
    sim::RunOptions opt;
    opt.loss = cfg.task.kind == io::TaskKind::bytes ? models::LossMode::next_byte : cfg.train.loss;
    opt.last_k = static_cast<int>(cfg.train.loss_last_k);
    const auto r = sim::evaluate(learner, *source, opt);
    if (r.stats.count == 0) throw InputError(fmt::format("{}: nothing to evaluate", a.data));
    if (r.text)
        fmt::print("{} ({}): loss {:.4f} nats  bpc {:.4f}  next-byte accuracy {:.4f} over {} bytes\n", a.data, a.split,
                   r.stats.loss(), r.stats.bpc(), r.stats.accuracy(), r.stats.count);
    else
        fmt::print("{}: loss {:.4f}  accuracy {:.4f} over {} samples\n", a.data, r.stats.loss(), r.stats.accuracy(),
                   r.stats.count);
}

}  // namespace

void register_train(CLI::App& app) {
    auto a = std::make_shared<TrainArgs>();
    auto* cmd = app.add_subcommand("train", "Train an ELM Network (BPTT) on the config's task");
    cmd->add_option("--config", a->config, "Experiment config (TOML)")->required();
    cmd->add_option("--init", a->init, "Start from the parameters of this checkpoint");
    cmd->add_option("--resume", a->resume, "Continue this checkpoint's run bit for bit");
    cmd->add_option("--max-steps", a->max_steps, "Optimizer steps to run now (default: up to train.max_steps)");
    cmd->add_option("--out", a->out, "Output checkpoint (default: <train.out_dir>/model.h5)");
    cmd->add_option("--backend", a->backend, "cpu or cuda");
    cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores; default: train.threads)");
    cmd->add_option("--dump-batch", a->dump_batch, "Write the first batch (model input x, targets) to this HDF5 file");
    cmd->add_flag("--quiet", a->quiet, "No progress line");
    cmd->callback([a] { run_train(*a); });
}

void register_eval(CLI::App& app) {
    auto a = std::make_shared<EvalArgs>();
    auto* cmd = app.add_subcommand("eval", "Evaluate a trained model: accuracy and loss, or bpc for text");
    cmd->add_option("--model", a->model, "Model checkpoint (HDF5)")->required();
    cmd->add_option("--data", a->data, "SHD-format file, or byte file for text models")->required();
    cmd->add_option("--split", a->split, "Byte files: valid or test (default test)");
    cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores)");
    cmd->callback([a] { run_eval(*a); });
}

}  // namespace elm::tools
