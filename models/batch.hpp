// Batch: one minibatch as the engine consumes it, time-major.
//  - x [T][B][C]: dense raw input (event counts per bin or per update, or one-hot bytes) — used
//    without embedding;
//  - tokens [T][B]: input bytes — used instead of x when the model has an embedding (C_e > 0);
//  - targets: [B] class labels, or [T][B] next bytes for text;
//  - gap_cells [T][B] (learning on the event schedule, spec section 5; empty = clock mode, every
//    update one dt_ms): the length of row b's update t in cells of resolution_ms, 0 for padding. Each
//    row is one sample's own schedule, padded at the START to the longest one (padding holds the
//    initial state, so every sample's last update is the batch's last step and the loss steps are the
//    same for all), and rows are ordered longest first, so the rows that update at a step form a
//    prefix.
// BatchSource is what the trainer pulls batches from; io/ implements it for each task. Plain types,
// shared by io/ (which makes batches) and sim/ (which runs them).
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/rng.hpp"

namespace elm::models {

struct Batch {
    int T = 0;
    int B = 0;
    int C = 0;
    std::vector<float> x;
    std::vector<std::uint8_t> tokens;
    std::vector<std::int32_t> targets;
    std::vector<std::int32_t> gap_cells;
    double resolution_ms = 0.0;
    bool continues = false;  // text: this window continues the previous one (carry the state)
};

class BatchSource {
public:
    virtual ~BatchSource() = default;
    // Next training batch, for optimizer step `step` (0-based); `rng` drives sampling so a resumed run
    // draws the same batches.
    virtual void next_train(Batch& batch, Rng& rng, std::int64_t step) = 0;
    // Evaluation batches of a split, in a fixed order: returns false when the split is exhausted.
    virtual void rewind_eval() = 0;
    virtual bool next_eval(Batch& batch) = 0;
    // Samples (or windows) in one training epoch, for epoch counting and the progress line.
    virtual std::int64_t train_size() const = 0;
    // Resumable position (data cursors) for bit-exact resume.
    virtual std::vector<std::int64_t> cursor() const = 0;
    virtual void set_cursor(const std::vector<std::int64_t>& c) = 0;
};

}  // namespace elm::models
