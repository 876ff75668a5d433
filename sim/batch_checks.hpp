// The shape checks every backend makes on a learning-mode batch (models/batch.hpp) before it computes:
// one set of messages, whichever engine runs the batch.
#pragma once

#include "elmsim/models/batch.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/sim/run_options.hpp"

namespace elm::sim {

// InputError for an empty batch, impossible run options (dropout without a generator is the caller's
// check), or an input that does not fit the model: tokens for T x B with an embedding, else
// T x B x C values on the model's C channels.
void check_batch_input(const models::ModelConfig& cfg, const models::Batch& batch, const RunOptions& opt);
// InputError when the batch holds the wrong number of targets for the loss.
void check_batch_targets(const models::Batch& batch, const RunOptions& opt);

}  // namespace elm::sim
