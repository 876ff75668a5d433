// TrainConfig: the learning-mode settings of one run (spec section 7), read from the [train] table
// of an experiment config (io/experiment_config.hpp) and consumed by the trainer.
#pragma once

#include <cstdint>
#include <string>

#include "elmsim/sim/loss.hpp"

namespace elm::sim {

enum class OptimizerKind { sgd, adam, adamax };
enum class Schedule { constant, cosine };
using LossKind = LossMode;

struct TrainConfig {
    OptimizerKind optimizer = OptimizerKind::adamax;
    double lr = 5e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    Schedule schedule = Schedule::constant;
    std::int64_t warmup_steps = 0;
    double lr_min = 0.0;               // floor of the cosine schedule
    std::int64_t batch_size = 8;
    std::int64_t max_steps = 1000;     // total optimizer steps of the run
    double dropout = 0.0;              // input dropout probability
    double clip_norm = 0.0;            // global gradient-norm clip (0 = off)
    LossKind loss = LossKind::last;    // bytes tasks always use next_byte
    std::int64_t loss_last_k = 10;     // K for mean_last_k
    std::int64_t eval_every = 0;       // steps between evaluations (0 = only at the end)
    std::int64_t log_every = 10;       // steps between metrics-log lines
    std::int64_t checkpoint_every = 0; // steps between checkpoints (0 = only at the end)
    std::int64_t recompute_every = 0;  // keep every K-th state, recompute the rest in backward (0 = keep all)
    std::int64_t threads = 0;          // 0 = all cores
    std::uint64_t seed = 1;            // data order, dropout
    std::string out_dir = "runs/default";  // metrics.jsonl, model.h5
};

}  // namespace elm::sim
