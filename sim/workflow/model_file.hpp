// A trained model as the workflows use it: the checkpoint (network, /config text, optional /train)
// together with the experiment config of its /config, checked to fit each other; and the backend
// that runs it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/backend.hpp"

namespace elm::workflow {

struct LoadedModel {
    std::string path;
    io::Checkpoint checkpoint;
    io::ExperimentConfig config;  // the task of /config; config.model is the checkpoint's structure
};

// InputError (naming `what`) unless the model reads the task's C channels into its n_out classes.
void check_model_fits_task(const models::ModelConfig& model, const models::ModelConfig& task, const std::string& what);

// The checkpoint at `path` and the task of its /config (the model's structure wins; it must fit).
LoadedModel load_model(const std::string& path);

// The backend `name` ("cpu", "cuda", ...) for `net`, with `threads` worker threads where that applies
// (default: train.threads of the run's config, 0 = all cores). ParameterError "threads" outside
// 0 .. 1024, "backend" for a backend this build or machine does not have.
std::unique_ptr<sim::Backend> open_backend(const std::string& name, const models::Network<float>& net,
                                           std::optional<std::int64_t> threads, const models::TrainConfig& cfg);

// <model>.metrics.jsonl next to a model file.
std::string metrics_path_for(const std::string& model_path);

}  // namespace elm::workflow
