// Losses of spec section 3 on readout logits (models::LossMode), with their gradients:
//  - last:        cross-entropy on the last step's logits, one target per sample;
//  - mean_last_k: mean of the per-step cross-entropies over the last K steps (prediction: argmax of
//                 the summed log-probabilities over those steps);
//  - next_byte:   per-step cross-entropy against the next byte, mean over B x T (bpc = nats / ln 2).
// Host code shared by every backend and by the simulation drivers, so all of them score alike.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/train_config.hpp"

namespace elm::sim {

// Statistics of the predictions scored so far. The loss is the mean over every scored term — one per
// sample for "last" and "mean_last_k" (whose per-sample loss is already the mean over its K steps),
// one per predicted byte for "next_byte" — so batches of different sizes (the last batch of an
// evaluation) weigh by what they hold, and `eval` of a dataset gives the loss `simulate` gives it
// sample by sample.
struct LossStats {
    double loss_sum = 0.0;    // summed loss (nats) of the terms scored
    double terms = 0.0;       // terms scored (samples, or predicted bytes), each of weight 1
    std::int64_t correct = 0; // correct predictions (classes or next bytes)
    std::int64_t count = 0;   // predictions made
    double loss() const { return terms > 0 ? loss_sum / terms : 0.0; }
    double accuracy() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0; }
    double bpc() const { return loss() / 0.6931471805599453; }
    void add(const LossStats& o) {
        loss_sum += o.loss_sum;
        terms += o.terms;
        correct += o.correct;
        count += o.count;
    }
};

// Number of trailing steps the loss reads (the readout runs only on those).
int loss_steps(models::LossMode mode, int T, int k);

// logits [steps][B][n_out] for the last `steps` steps; targets: [B] (last, mean_last_k) or
// [steps][B] (next_byte). Writes g_logits (same shape) when not null, and the predictions ([B], or
// [steps][B] for next_byte) when `predictions` is not null. Returns this batch's stats.
template <class Real>
LossStats compute_loss(models::LossMode mode, const Real* logits, int steps, int B, int n_out, const std::int32_t* targets,
                       Real* g_logits, std::int32_t* predictions = nullptr);

}  // namespace elm::sim
