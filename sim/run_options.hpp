// RunOptions: how one batch goes through a backend (sim/backend.hpp): which loss, input dropout,
// which logits to compute, recomputation, and what to keep for inspection.
#pragma once

#include "elmsim/models/train_config.hpp"

namespace elm::sim {

struct RunOptions {
    models::LossMode loss = models::LossMode::last;
    int last_k = 1;            // K for mean_last_k
    double dropout = 0.0;      // input dropout probability (training only)
    bool all_logits = false;   // compute logits at every step (traces), not only the loss steps
    // Recomputation (checkpointing): with K > 0, training keeps the full tape of only K steps at a
    // time plus the state at every K-th step, and recomputes each stretch's forward during backward.
    // Activation memory ~ T/K states + K tape steps instead of T tape steps, for one extra forward.
    int recompute_every = 0;
    // Forward spikes through soft_spike (whose derivative is the surrogate) instead of H: lets a
    // finite-difference check test the surrogate backward. Never used for training or simulation.
    bool soft_spikes = false;
    // Without gradients, the forward keeps only two state slots and the outputs of the logit steps;
    // keep_tape records every step's state anyway (for tests and tools that inspect every step).
    bool keep_tape = false;
};

}  // namespace elm::sim
