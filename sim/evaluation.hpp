// Evaluation of a model over every batch of a source (spec elm-network.md section 3), on any
// backend: the loss of the run's loss mode, accuracy (classes) or bits per byte (text, with the state
// carried across windows as in training).
#pragma once

#include "elmsim/models/batch.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/run_options.hpp"

namespace elm::sim {

struct EvalResult {
    LossStats stats;
    bool text = false;
    // The number a run tries to improve: accuracy (classes) or -bpc (text); higher is better.
    double metric() const { return text ? -stats.bpc() : stats.accuracy(); }
};

// Evaluate over every batch of `source` from its start (text: state carried across windows).
EvalResult evaluate(Backend& backend, models::BatchSource& source, const RunOptions& opt);

}  // namespace elm::sim
