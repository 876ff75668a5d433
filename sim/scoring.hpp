// SampleScorer: the score of one sample that is simulated update by update (Simulator, Session), by
// the rule evaluation uses for a batch (the run's loss mode, sim/loss.hpp): the cross-entropy of the
// last update's readout ("last"), or the mean over the last K updates' readouts with the prediction
// from their summed log-probabilities ("mean_last_k"). So `simulate`, `eval` and a live session give
// a clock-mode sample the same loss and prediction. In event mode "the last K updates" are the last
// K of the sample's own schedule.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/train_config.hpp"
#include "elmsim/sim/loss.hpp"

namespace elm::sim {

// Index of the largest of v[0..n) (the first one on ties): the predicted class or byte of one readout.
int argmax(const float* v, int n);

class SampleScorer {
public:
    // mode: last or mean_last_k (next_byte scores every update instead: see compute_loss).
    SampleScorer(models::LossMode mode, int last_k, int n_out);

    void reset();
    // The logits [n_out] after an update.
    void push(const float* logits);
    // Loss and correctness of the sample so far against `target` (at least one update pushed).
    LossStats score(std::int32_t target) const;
    // The predicted class (at least one update pushed).
    int prediction() const;

private:
    // The kept rows, oldest first, into rows_ordered_.
    int ordered_rows() const;

    models::LossMode mode_;
    int keep_, n_out_;
    std::vector<float> ring_;  // [keep][n_out]
    std::int64_t pushed_ = 0;
    mutable std::vector<float> rows_ordered_;
};

}  // namespace elm::sim
