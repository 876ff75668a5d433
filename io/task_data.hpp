// Task data as the trainer and evaluator consume it: BatchSource implementations for the three
// tasks of spec section 1, built from an ExperimentConfig.
//  - shd:        one SHD-format file, one sample per batch row, label = class (20);
//  - shd-adding: pairs of samples back to back, label = sum of the digits (19);
//  - bytes:      B parallel streams over a split of a byte file, windows of T + 1 bytes, the network
//                state carried from one window to the next (truncated BPTT).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/split.hpp"
#include "elmsim/models/batch.hpp"

namespace elm::io {

// Training batches from the task's training data.
std::unique_ptr<models::BatchSource> make_train_source(const ExperimentConfig& cfg);

// Evaluation batches. For spike tasks `path` is the SHD-format file to evaluate (the split is the
// file); for bytes it is the byte file and `split` picks the part. Returns nullptr for a spike task
// with an empty path.
std::unique_ptr<models::BatchSource> make_eval_source(const ExperimentConfig& cfg, const std::string& path,
                                                      Split split);

// Evaluation batches of a spike task from samples in memory (their first max_test_samples).
std::unique_ptr<models::BatchSource> make_eval_source(const ExperimentConfig& cfg, const SpikeDataset& samples);

}  // namespace elm::io
