// Evaluation of a trained model on a dataset as a library call (`elmsim eval`): the model's task and
// loss mode come from its checkpoint, batches from the task's data layer, the work from a backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/split.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/sim/run_options.hpp"

namespace elm::workflow {

// How a model of this experiment is scored (eval, simulate, sessions): its loss mode (next_byte for
// byte tasks) and its K.
sim::RunOptions scoring_options(const io::ExperimentConfig& cfg);

struct EvalRequest {
    std::string model_path;
    std::string data_path;               // SHD-format file, or the byte file of a byte model
    io::Split split = io::Split::test;   // byte files: which part (the whole of it)
    std::optional<std::int64_t> threads;
    std::string backend = "cpu";
};

// InputError for a bad model or data file, or data with nothing to evaluate.
sim::EvalResult evaluate_model(const EvalRequest& request);

}  // namespace elm::workflow
