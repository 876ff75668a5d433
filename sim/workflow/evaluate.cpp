#include "elmsim/sim/workflow/evaluate.hpp"

#include <fmt/format.h>

#include "elmsim/io/task_data.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/workflow/model_file.hpp"

namespace elm::workflow {

sim::RunOptions scoring_options(const io::ExperimentConfig& cfg) {
    sim::RunOptions opt;
    opt.loss = cfg.task.kind == io::TaskKind::bytes ? models::LossMode::next_byte : cfg.train.loss;
    opt.last_k = static_cast<int>(cfg.train.loss_last_k);
    return opt;
}

sim::EvalResult evaluate_model(const EvalRequest& r) {
    LoadedModel m = load_model(r.model_path);
    auto backend = open_backend(r.backend, m.checkpoint.net, r.threads, m.config.train);
    if (m.config.task.kind == io::TaskKind::bytes) m.config.task.eval_windows = 0;  // the whole split
    auto source = io::make_eval_source(m.config, r.data_path, r.split);
    if (!source) throw ParameterError("data_path", "expected a dataset to evaluate on, got none");
    const sim::EvalResult result = sim::evaluate(*backend, *source, scoring_options(m.config));
    if (result.stats.count == 0) throw InputError(fmt::format("{}: nothing to evaluate", r.data_path));
    return result;
}

}  // namespace elm::workflow
