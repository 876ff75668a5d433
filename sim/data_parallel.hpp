// Data-parallel training (spec files-and-cli.md, "train.shards"): every global batch of B rows is cut
// into S shards of B / S rows; each shard's gradients are computed as one backend step, and the
// shards' gradients are summed in the fixed tree of sim/parallel/communicator.hpp and scaled by 1 / S.
// The processes of a job (R ranks) each compute S / R consecutive shards, so the floats depend on S
// alone: 1, 2 or 4 processes give the same parameters bit for bit. S = 1 on one process is exactly
// the plain step (Trainer's path without this class).
//
// Per shard, dropout draws from its own generator (seeded from the trainer's, shard index as stream)
// and text keeps its own carried state, so nothing depends on which process ran the shard.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/sim/parallel/communicator.hpp"

namespace elm::sim {

struct ShardPlan {
    int shards = 1;  // S: the batch's shards (train.shards; 0 there = one per process)
    int ranks = 1;   // R: processes
    int rank = 0;
    int rows = 0;    // B / S
    int local() const { return shards / ranks; }
    int first() const { return rank * local(); }
    bool parallel() const { return shards > 1 || ranks > 1; }
};

// Checks and plans: S divides B, R divides S, and each process's block of shards is one node of the
// sum tree (README "Many processes": which process counts a config admits). ParameterError("shards").
ShardPlan plan_shards(std::int64_t configured_shards, std::int64_t batch_size, int ranks, int rank);

// Rows [b0, b1) of a batch (targets per row, or per step and row for text). On the event schedule the
// leading steps where none of these rows updates (start padding) are left out.
void slice_batch_rows(const models::Batch& in, int b0, int b1, bool targets_per_step, models::Batch& out);

class DataParallelStep {
public:
    DataParallelStep(Backend& backend, Communicator& comm, const ShardPlan& plan);

    // One global batch: this process's shards forward and backward, every shard's gradients summed
    // (tree over shards, then 1 / S) into backend.gradients() on every process; returns the batch's
    // loss statistics (shards added in shard order). `carry`: text, each shard starts from its
    // carried state (cleared when the batch does not continue the previous one). A failure on any
    // process is agreed (agree_or_throw) before the next collective. `stop` (may be null): in, this
    // process wants to stop after this step; out, some process does (so all stop at the same step).
    LossStats run(const models::Batch& batch, const RunOptions& opt, std::uint64_t dropout_seed, bool carry,
                  bool* stop = nullptr);

    void clear_carries();
    // The carried state of all B rows (gathered from every process; B == 0 when nothing is carried),
    // and its inverse for resume (each process keeps its shards' rows).
    NetworkState<float> carried_state();
    void restore_carried_state(const NetworkState<float>& global);

private:
    Backend& backend_;
    Communicator& comm_;
    ShardPlan plan_;
    std::vector<std::unique_ptr<Carry>> carries_;
    std::vector<std::vector<float>> shard_grads_;
    std::vector<float> partials_;
    RankSumBuffers exchange_buffers_;
    models::Batch shard_;
};

}  // namespace elm::sim
