// Evaluation of a model over every batch of a source (spec elm-network.md section 3), on any
// backend: the loss of the run's loss mode, accuracy (classes) or bits per byte (text, with the state
// carried across windows as in training).
#pragma once

#include "elmsim/models/batch.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "elmsim/sim/run_options.hpp"

namespace elm::sim {

struct EvalResult {
    LossStats stats;
    bool text = false;
    // The number a run tries to improve: accuracy (classes) or -bpc (text); higher is better.
    double metric() const { return text ? -stats.bpc() : stats.accuracy(); }
};

// Evaluate over every batch of `source` from its start (text: state carried across windows). With a
// communicator of several processes, class tasks share the batches (batch i on process i mod R) and
// add every batch's statistics in batch order: exactly the single-process result. Text, whose windows
// carry state from batch to batch, is evaluated whole by every process.
EvalResult evaluate(Backend& backend, models::BatchSource& source, const RunOptions& opt,
                    Communicator* comm = nullptr);

}  // namespace elm::sim
