#include "elmsim/sim/workflow/model_file.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"

namespace elm::workflow {

void check_model_fits_task(const models::ModelConfig& model, const models::ModelConfig& task, const std::string& what) {
    if (model.C != task.C || model.n_out != task.n_out)
        throw InputError(fmt::format("{}: the model reads C = {} channels into n_out = {} classes, the task needs C = {}, "
                                     "n_out = {}", what, model.C, model.n_out, task.C, task.n_out));
}

LoadedModel load_model(const std::string& path) {
    LoadedModel m{path, io::load_checkpoint(path), {}};
    m.config = io::parse_experiment_config(m.checkpoint.config_toml, path + ": /config");
    check_model_fits_task(m.checkpoint.net.cfg, m.config.model, path + ": /model and its /config task");
    m.config.model = m.checkpoint.net.cfg;
    return m;
}

std::unique_ptr<sim::Backend> open_backend(const std::string& name, const models::Network<float>& net,
                                           std::optional<std::int64_t> threads, const models::TrainConfig& cfg) {
    const std::int64_t t = threads ? *threads : cfg.threads;
    if (t < 0 || t > 1024) throw ParameterError("threads", fmt::format("expected 0 (all cores) .. 1024, got {}", t));
    sim::BackendOptions o;
    o.threads = static_cast<int>(t);
    return sim::make_backend(name, net, o);
}

std::string metrics_path_for(const std::string& model_path) {
    std::filesystem::path p(model_path);
    p.replace_extension(".metrics.jsonl");
    return p.string();
}

}  // namespace elm::workflow
