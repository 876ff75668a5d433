// TrainConfig: the learning-mode settings of one run (spec elm-network.md section 7), read from the
// [train] table of an experiment config (io/experiment_config.hpp) and consumed by the trainer and
// the backends. Plain data, shared by every layer. The name tables below are the only place where
// optimizer, schedule and loss names are spelled: configs, checkpoints and messages all use them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>
#include <utility>

namespace elm::models {

enum class OptimizerKind { sgd, adam, adamax };
enum class Schedule { constant, cosine };
// Losses of spec section 3 on readout logits:
//  - last:        cross-entropy on the last step's logits, one target per sample;
//  - mean_last_k: mean of the per-step cross-entropies over the last K steps;
//  - next_byte:   per-step cross-entropy against the next byte (text), mean over B x T.
enum class LossMode { last, mean_last_k, next_byte };
// The time base of learning mode (spec section 5): the clock grid of dt_ms; each sample's own event
// schedule (merged events and ticks on a grid of resolution_ms, no gap over max_dt_ms); or `any`: each
// row of each batch on the event schedule of a resolution drawn from resolutions_ms (schedule-robust
// training: one network for every time base it may be simulated on).
enum class TimeBase { clock, event, any };
// Time base "any": a grid drawn for each row of a training batch, or one for the whole batch (its rows
// then have equal lengths, so the batch carries no padding).
enum class ResolutionDraw { row, batch };

inline constexpr std::array<std::pair<const char*, OptimizerKind>, 3> kOptimizerNames{
    {{"sgd", OptimizerKind::sgd}, {"adam", OptimizerKind::adam}, {"adamax", OptimizerKind::adamax}}};
inline constexpr std::array<std::pair<const char*, Schedule>, 2> kScheduleNames{
    {{"constant", Schedule::constant}, {"cosine", Schedule::cosine}}};
inline constexpr std::array<std::pair<const char*, LossMode>, 3> kLossNames{
    {{"last", LossMode::last}, {"mean_last_k", LossMode::mean_last_k}, {"next_byte", LossMode::next_byte}}};
inline constexpr std::array<std::pair<const char*, ResolutionDraw>, 2> kResolutionDrawNames{
    {{"row", ResolutionDraw::row}, {"batch", ResolutionDraw::batch}}};
inline constexpr std::array<std::pair<const char*, TimeBase>, 3> kTimeBaseNames{
    {{"clock", TimeBase::clock}, {"event", TimeBase::event}, {"any", TimeBase::any}}};

std::string to_string(OptimizerKind k);
std::string to_string(Schedule s);
std::string to_string(LossMode m);
std::string to_string(TimeBase t);
// The kind named `name`; false when no entry of kOptimizerNames has that name.
bool optimizer_from_string(const std::string& name, OptimizerKind* out);

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
    LossMode loss = LossMode::last;    // bytes tasks always use next_byte
    std::int64_t loss_last_k = 10;     // K for mean_last_k: the last K updates of each sample
    TimeBase time = TimeBase::clock;   // spike tasks may learn on their event schedule
    double resolution_ms = 1.0;        // event time base: events closer than this merge
    double max_dt_ms = 0.0;            // event and any time bases: longest gap between updates (0 = the model's dt_ms)
    std::vector<double> resolutions_ms;  // any time base: the resolutions a row is drawn from (uniformly)
    std::vector<double> resolution_weights;  // any time base: relative draw weights (empty = uniform)
    ResolutionDraw resolution_draw = ResolutionDraw::row;  // any time base: a grid per row or per batch
    std::int64_t clock_steps = 0;      // any time base: the first steps run on the clock before the draws begin
    std::int64_t eval_every = 0;       // steps between evaluations (0 = only at the end)
    std::int64_t log_every = 10;       // steps between metrics-log lines
    std::int64_t checkpoint_every = 0; // steps between checkpoints (0 = only at the end)
    std::int64_t recompute_every = 0;  // keep every K-th state, recompute the rest in backward (0 = keep all)
    std::int64_t threads = 0;          // 0 = all cores
    std::int64_t shards = 0;           // data parallelism: the batch's shards (0 = one per process; sim/data_parallel.hpp)
    std::uint64_t seed = 1;            // data order, dropout
    std::string out_dir = "runs/default";  // metrics.jsonl, model.h5
};

// Learning rate at optimizer step `step` (0-based): linear warm-up, then constant or cosine decay to
// lr_min at max_steps.
double learning_rate(const TrainConfig& cfg, std::int64_t step);

}  // namespace elm::models
