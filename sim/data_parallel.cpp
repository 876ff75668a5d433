#include "elmsim/sim/data_parallel.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

ShardPlan plan_shards(std::int64_t configured_shards, std::int64_t batch_size, int ranks, int rank) {
    if (configured_shards < 0) throw ParameterError("train.shards", fmt::format("expected >= 0, got {}", configured_shards));
    const std::int64_t S = configured_shards == 0 ? ranks : configured_shards;
    if (S > batch_size || batch_size % S != 0)
        throw ParameterError("train.shards", fmt::format("{} shards{} do not divide the batch of {} rows", S,
                                                   configured_shards == 0 ? " (one per process)" : "", batch_size));
    if (S % ranks != 0)
        throw ParameterError("train.shards", fmt::format("{} shards cannot be shared by {} processes (the process count "
                                                   "must divide the shards)", S, ranks));
    if (!blocks_are_subtrees(static_cast<int>(S), static_cast<int>(S / ranks)))
        throw ParameterError("train.shards", fmt::format("{} shards over {} processes: each process's {} shards would not "
                                                   "be one part of the fixed sum order (use a power of two of shards "
                                                   "and of processes)", S, ranks, S / ranks));
    ShardPlan p;
    p.shards = static_cast<int>(S);
    p.ranks = ranks;
    p.rank = rank;
    p.rows = static_cast<int>(batch_size / S);
    return p;
}

void slice_batch_rows(const models::Batch& in, int b0, int b1, bool targets_per_step, models::Batch& out) {
    const int B = in.B, C = in.C, n = b1 - b0;
    // An event-schedule batch pads its shorter rows at the start: steps where none of these rows
    // updates (they all hold their initial state) are left out, so that every step updates a row.
    int t0 = 0;
    if (!in.gap_cells.empty())
        while (t0 < in.T - 1 &&
               std::all_of(in.gap_cells.begin() + static_cast<std::ptrdiff_t>(t0) * B + b0,
                           in.gap_cells.begin() + static_cast<std::ptrdiff_t>(t0) * B + b1,
                           [](std::int32_t g) { return g == 0; }))
            ++t0;
    const int T = in.T - t0;
    out.T = T;
    out.B = n;
    out.C = C;
    out.resolution_ms = in.resolution_ms;
    out.continues = in.continues;
    const auto rows = [&](const auto& src, auto& dst, int width) {
        dst.resize(src.empty() ? 0 : static_cast<std::size_t>(T) * n * width);
        if (src.empty()) return;
        for (int t = 0; t < T; ++t)
            std::copy_n(src.begin() + (static_cast<std::ptrdiff_t>(t0 + t) * B + b0) * width, static_cast<std::ptrdiff_t>(n) * width,
                        dst.begin() + static_cast<std::ptrdiff_t>(t) * n * width);
    };
    rows(in.x, out.x, C);
    rows(in.tokens, out.tokens, 1);
    rows(in.gap_cells, out.gap_cells, 1);
    if (targets_per_step) {
        rows(in.targets, out.targets, 1);
    } else {
        out.targets.assign(in.targets.begin() + b0, in.targets.begin() + b1);
    }
}

DataParallelStep::DataParallelStep(Backend& backend, Communicator& comm, const ShardPlan& plan)
    : backend_(backend), comm_(comm), plan_(plan) {
    for (int j = 0; j < plan_.local(); ++j) carries_.push_back(backend_.make_carry());
    shard_grads_.resize(static_cast<std::size_t>(plan_.local()));
}

LossStats DataParallelStep::run(const models::Batch& batch, const RunOptions& opt, std::uint64_t dropout_seed,
                                bool carry, bool* stop) {
    const std::size_t P = backend_.layout().total_size();
    const bool per_step = opt.loss == models::LossMode::next_byte;
    // Per local shard: loss sum, terms, correct, count; then this process's stop request.
    const std::size_t per_rank = static_cast<std::size_t>(plan_.local()) * 4 + 1;
    std::vector<double> stats(per_rank, 0.0);
    stats.back() = stop && *stop ? 1.0 : 0.0;
    run_agreed(comm_, [&] {
        if (batch.B != plan_.shards * plan_.rows)
            throw InputError(fmt::format("batch: {} rows, expected {} shards of {}", batch.B, plan_.shards, plan_.rows));
        for (int j = 0; j < plan_.local(); ++j) {
            const int s = plan_.first() + j;
            slice_batch_rows(batch, s * plan_.rows, (s + 1) * plan_.rows, per_step, shard_);
            Rng rng(dropout_seed, static_cast<std::uint64_t>(s));
            Carry* c = carry ? carries_[static_cast<std::size_t>(j)].get() : nullptr;
            if (c && !batch.continues) c->clear();
            backend_.zero_gradients();
            const LossStats st = backend_.step(shard_, opt, c, true, &rng);
            const auto g = backend_.gradients();
            shard_grads_[static_cast<std::size_t>(j)].assign(g.begin(), g.end());
            double* out = stats.data() + static_cast<std::size_t>(j) * 4;
            out[0] = st.loss_sum;
            out[1] = st.terms;
            out[2] = static_cast<double>(st.correct);
            out[3] = static_cast<double>(st.count);
        }
    });

    // This process's block of shards, summed as its subtree of the shard tree.
    std::vector<const float*> leaves;
    for (const auto& g : shard_grads_) leaves.push_back(g.data());
    partials_.resize(P);
    tree_sum(leaves, P, partials_.data());
    // ... and the processes' blocks summed as the tree's upper part.
    tree_sum_over_ranks(comm_, partials_, exchange_buffers_);
    const auto g = backend_.gradients();
    const float scale = 1.0f / static_cast<float>(plan_.shards);
    for (std::size_t i = 0; i < P; ++i) g[i] = plan_.shards > 1 ? partials_[i] * scale : partials_[i];

    std::vector<double> all_stats(per_rank * static_cast<std::size_t>(plan_.ranks));
    comm_.all_gather(std::span<const double>(stats), std::span<double>(all_stats));
    LossStats total;
    bool any_stop = false;
    for (int r = 0; r < plan_.ranks; ++r) {
        const double* block = all_stats.data() + static_cast<std::size_t>(r) * per_rank;
        for (int j = 0; j < plan_.local(); ++j) {
            const double* in = block + static_cast<std::size_t>(j) * 4;
            total.add(LossStats{in[0], in[1], static_cast<std::int64_t>(in[2]), static_cast<std::int64_t>(in[3])});
        }
        any_stop = any_stop || block[per_rank - 1] != 0.0;
    }
    if (stop) *stop = any_stop;
    return total;
}

void DataParallelStep::clear_carries() {
    for (auto& c : carries_) c->clear();
}

namespace {

// The fields of a state in a fixed order, and one state's rows [b0, b0 + n) of another's B rows.
std::vector<std::vector<float>*> fields(NetworkState<float>& s) { return {&s.b, &s.m, &s.v, &s.y}; }

void copy_rows(const NetworkState<float>& from, int from_row, NetworkState<float>& to, int to_row, int n, int N) {
    const std::vector<const std::vector<float>*> src = {&from.b, &from.m, &from.v, &from.y};
    const auto dst = fields(to);
    for (std::size_t f = 0; f < src.size(); ++f) {
        if (src[f]->empty()) continue;
        const std::size_t width = src[f]->size() / (static_cast<std::size_t>(N) * from.B);
        for (int i = 0; i < N; ++i)
            std::copy_n(src[f]->begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(i) * from.B + from_row) * width),
                        static_cast<std::ptrdiff_t>(n * width),
                        dst[f]->begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(i) * to.B + to_row) * width));
    }
}

}  // namespace

NetworkState<float> DataParallelStep::carried_state() {
    const auto& cfg = backend_.config();
    NetworkState<float> global;
    // Every process carries (or not) alike: whether a batch continues is the same for all.
    if (carries_.empty() || carries_[0]->batch() == 0) return global;
    const SlotSizes sz = slot_sizes(cfg, plan_.rows);
    const std::size_t per_shard = sz.b + sz.m + 2 * sz.y;
    std::vector<float> mine;
    mine.reserve(per_shard * carries_.size());
    for (const auto& c : carries_) {
        NetworkState<float> s = c->read();
        for (auto* f : fields(s)) mine.insert(mine.end(), f->begin(), f->end());
    }
    std::vector<float> all(mine.size() * static_cast<std::size_t>(plan_.ranks));
    comm_.all_gather(std::span<const float>(mine), std::span<float>(all));
    global.reset(cfg, plan_.shards * plan_.rows);
    NetworkState<float> shard;
    shard.reset(cfg, plan_.rows);
    for (int s = 0; s < plan_.shards; ++s) {
        std::size_t off = static_cast<std::size_t>(s) * per_shard;
        for (auto* f : fields(shard)) {
            std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(off), static_cast<std::ptrdiff_t>(f->size()), f->begin());
            off += f->size();
        }
        copy_rows(shard, 0, global, s * plan_.rows, plan_.rows, cfg.N);
    }
    return global;
}

void DataParallelStep::restore_carried_state(const NetworkState<float>& global) {
    if (global.B == 0) {
        clear_carries();
        return;
    }
    const auto& cfg = backend_.config();
    if (global.B != plan_.shards * plan_.rows)
        throw InputError(fmt::format("resume: the carried state holds {} rows, the batch has {}", global.B,
                                     plan_.shards * plan_.rows));
    NetworkState<float> shard;
    for (int j = 0; j < plan_.local(); ++j) {
        shard.reset(cfg, plan_.rows);
        copy_rows(global, (plan_.first() + j) * plan_.rows, shard, 0, plan_.rows, cfg.N);
        carries_[static_cast<std::size_t>(j)]->write(shard);
    }
}

}  // namespace elm::sim
