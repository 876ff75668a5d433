#include "elmsim/io/task_data.hpp"

#include <algorithm>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_batcher.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {

namespace {

void check_channels(const SpikeDataset& ds, const ExperimentConfig& cfg) {
    if (ds.samples.empty()) throw InputError(fmt::format("{}: the dataset holds no samples", ds.path));
    for (const auto& s : ds.samples)
        if (s.label < 0 || s.label >= (cfg.task.kind == TaskKind::shd ? cfg.model.n_out : 20))
            throw InputError(fmt::format("{}: /labels: label {} is outside the {} classes of task \"{}\"", ds.path,
                                         s.label, cfg.task.kind == TaskKind::shd ? cfg.model.n_out : 20,
                                         to_string(cfg.task.kind)));
}

// Samples given in memory, checked as a file's are, the first max_samples (> 0) of them.
SpikeDataset samples_in_memory(const SpikeDataset& given, std::int64_t max_samples) {
    check_spike_samples(given);
    if (max_samples <= 0 || max_samples >= static_cast<std::int64_t>(given.samples.size())) return given;
    SpikeDataset ds = given;
    ds.samples.resize(static_cast<std::size_t>(max_samples));
    return ds;
}

// Permutation of [0, n) for an epoch, a pure function of (seed, epoch) so that resuming needs only
// the cursor.
std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
    std::vector<std::int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    Rng rng(seed, 100 + static_cast<std::uint64_t>(epoch));
    for (std::int64_t k = n - 1; k > 0; --k) std::swap(order[k], order[rng.below(k + 1)]);
    return order;
}

// The time base of evaluation: the training grid of time = "event"; the clock for "clock" and for
// "any" (whose clock is one of its grids: resolution = max_dt = dt runs exactly the clock's updates).
std::optional<models::EventGrid> evaluation_grid(const ExperimentConfig& cfg) {
    if (cfg.train.time != models::TimeBase::event) return std::nullopt;
    return training_grids(cfg).front();
}

// How a training row gets its time base: train.clock_steps of a time = "any" run on the clock, then
// each row's grid (or, with train.resolution_draw = "batch", one grid for all the rows of a batch)
// drawn from the trainer's generator (so a resumed run draws the same) — uniformly, or in proportion
// to train.resolution_weights.
struct GridDraw {
    std::int64_t clock_steps = 0;
    std::vector<double> weights;
    bool per_batch = false;

    explicit GridDraw(const ExperimentConfig& cfg) {
        if (cfg.train.time != models::TimeBase::any) return;
        clock_steps = cfg.train.clock_steps;
        weights = cfg.train.resolution_weights;
        per_batch = cfg.train.resolution_draw == models::ResolutionDraw::batch;
    }

    int draw(std::size_t grids, Rng& rng) const {
        if (weights.empty()) return static_cast<int>(rng.below(grids));
        double total = 0.0;
        for (const double w : weights) total += w;
        const double u = rng.uniform() * total;
        double below = 0.0;
        for (std::size_t k = 0; k + 1 < weights.size(); ++k) {
            below += weights[k];
            if (u < below) return static_cast<int>(k);
        }
        return static_cast<int>(weights.size() - 1);
    }

    // The training batch of `items` at optimizer step `step`: on the run's time base (`train`), or on
    // the clock (`clock`, the evaluation batcher of a time = "any" run) for the first clock_steps.
    void assemble(SpikeBatcher& train, SpikeBatcher& clock, std::vector<BatchItem>& items, models::Batch& b, Rng& rng,
                  std::int64_t step) const {
        if (step < clock_steps) {
            clock.assemble(items, b);
            return;
        }
        if (train.grids() > 1 && per_batch) {
            const int grid = draw(train.grids(), rng);
            for (BatchItem& it : items) it.grid = grid;
        } else if (train.grids() > 1) {
            for (BatchItem& it : items) it.grid = draw(train.grids(), rng);
        }
        train.assemble(items, b);
    }
};

// SHD classification: samples in a shuffled order per epoch (train) or in file order (eval).
class SpikeClassSource : public models::BatchSource {
public:
    SpikeClassSource(SpikeDataset ds, const ExperimentConfig& cfg, int batch)
        : ds_(std::move(ds)), batcher_(ds_, cfg), eval_batcher_(ds_, cfg, evaluation_grid(cfg)), B_(batch),
          seed_(cfg.train.seed), draw_(cfg) {
        order_ = epoch_order(size(), seed_, 0);
    }
    SpikeClassSource(const SpikeClassSource&) = delete;  // batcher_ refers to ds_
    SpikeClassSource& operator=(const SpikeClassSource&) = delete;
    std::int64_t size() const { return static_cast<std::int64_t>(ds_.samples.size()); }
    std::int64_t train_size() const override { return size(); }
    void next_train(models::Batch& b, Rng& rng, std::int64_t step) override {
        items_.clear();
        for (int r = 0; r < B_; ++r) {
            if (pos_ == size()) {
                ++epoch_;
                pos_ = 0;
                order_ = epoch_order(size(), seed_, epoch_);
            }
            const std::int64_t k = order_[pos_++];
            items_.push_back(BatchItem{k, -1, ds_.samples[k].label});
        }
        draw_.assemble(batcher_, eval_batcher_, items_, b, rng, step);
    }
    void rewind_eval() override { eval_pos_ = 0; }
    bool next_eval(models::Batch& b) override {
        if (eval_pos_ >= size()) return false;
        const int rows = static_cast<int>(std::min<std::int64_t>(B_, size() - eval_pos_));
        items_.clear();
        for (int r = 0; r < rows; ++r, ++eval_pos_) items_.push_back(BatchItem{eval_pos_, -1, ds_.samples[eval_pos_].label});
        eval_batcher_.assemble(items_, b);
        return true;
    }
    std::vector<std::int64_t> cursor() const override { return {epoch_, pos_}; }
    void set_cursor(const std::vector<std::int64_t>& c) override {
        if (c.size() != 2 || c[1] < 0 || c[1] > size())
            throw InputError("resume: /train/state/data_cursor does not fit this dataset");
        epoch_ = c[0];
        pos_ = c[1];
        order_ = epoch_order(size(), seed_, epoch_);
    }

private:
    SpikeDataset ds_;
    SpikeBatcher batcher_, eval_batcher_;
    int B_;
    std::uint64_t seed_;
    GridDraw draw_;
    std::vector<std::int64_t> order_;
    std::vector<BatchItem> items_;
    std::int64_t epoch_ = 0, pos_ = 0, eval_pos_ = 0;
};

// SHD-Adding: training pairs drawn from the trainer's RNG; evaluation on fixed seeded pairs.
class AddingSource : public models::BatchSource {
public:
    AddingSource(SpikeDataset ds, const ExperimentConfig& cfg, int batch, std::int64_t eval_pairs)
        : ds_(std::move(ds)), batcher_(ds_, cfg), eval_batcher_(ds_, cfg, evaluation_grid(cfg)), B_(batch),
          draw_(cfg) {
        if (eval_pairs > 0) pairs_ = evaluation_pairs(ds_, eval_pairs, cfg.train.seed);
    }
    AddingSource(const AddingSource&) = delete;  // batcher_ refers to ds_
    AddingSource& operator=(const AddingSource&) = delete;
    std::int64_t train_size() const override { return static_cast<std::int64_t>(ds_.samples.size()); }
    void next_train(models::Batch& b, Rng& rng, std::int64_t step) override {
        items_.clear();
        for (int r = 0; r < B_; ++r) {
            const AddingPair p = draw_adding_pair(ds_, rng);
            items_.push_back(BatchItem{p.a, p.b, p.label});
        }
        draw_.assemble(batcher_, eval_batcher_, items_, b, rng, step);
    }
    void rewind_eval() override { eval_pos_ = 0; }
    bool next_eval(models::Batch& b) override {
        const auto n = static_cast<std::int64_t>(pairs_.size());
        if (eval_pos_ >= n) return false;
        const int rows = static_cast<int>(std::min<std::int64_t>(B_, n - eval_pos_));
        items_.clear();
        for (int r = 0; r < rows; ++r) {
            const AddingPair& p = pairs_[eval_pos_++];
            items_.push_back(BatchItem{p.a, p.b, p.label});
        }
        eval_batcher_.assemble(items_, b);
        return true;
    }
    std::vector<std::int64_t> cursor() const override { return {}; }
    void set_cursor(const std::vector<std::int64_t>&) override {}

private:
    SpikeDataset ds_;
    SpikeBatcher batcher_, eval_batcher_;
    int B_;
    std::vector<AddingPair> pairs_;
    GridDraw draw_;
    std::vector<BatchItem> items_;
    std::int64_t eval_pos_ = 0;
};

// Bytes: B streams, stream k reads segment k of the split window after window; a window of T + 1
// bytes gives T inputs and T next-byte targets, and the next window starts where this one's
// targets ended, so the carried state lines up.
class ByteWindowSource : public models::BatchSource {
public:
    ByteWindowSource(const std::string& path, const ExperimentConfig& cfg, Split split, int batch,
                     std::int64_t max_windows)
        : stream_(path, cfg.task.split), split_(split), B_(batch), T_(static_cast<int>(cfg.task.window)),
          one_hot_(cfg.model.C_e == 0), max_windows_(max_windows) {
        const std::int64_t n = stream_.size(split_);
        segment_ = n / B_;
        if (segment_ < T_ + 1)
            throw InputError(fmt::format("{}: the {} split holds {} bytes, too few for {} streams of one {}-byte window",
                                         path, to_string(split_), n, B_, T_ + 1));
        pos_.assign(B_, 0);
        buf_.resize(static_cast<std::size_t>(T_) + 1);
    }
    std::int64_t train_size() const override { return std::max<std::int64_t>(1, segment_ / T_) * B_; }
    void next_train(models::Batch& b, Rng&, std::int64_t) override { fill(b, pos_, B_); }
    void rewind_eval() override {
        eval_pos_.assign(B_, 0);
        eval_count_ = 0;
    }
    bool next_eval(models::Batch& b) override {
        if (max_windows_ > 0 && eval_count_ >= max_windows_) return false;
        if (eval_pos_[0] + T_ + 1 > segment_) return false;
        fill(b, eval_pos_, B_);
        ++eval_count_;
        return true;
    }
    std::vector<std::int64_t> cursor() const override { return pos_; }
    void set_cursor(const std::vector<std::int64_t>& c) override {
        if (static_cast<int>(c.size()) != B_) throw InputError("resume: /train/state/data_cursor does not fit this run");
        pos_ = c;
    }

private:
    void fill(models::Batch& b, std::vector<std::int64_t>& pos, int rows) {
        b.T = T_;
        b.B = rows;
        b.C = 256;
        b.tokens.resize(static_cast<std::size_t>(T_) * rows);
        b.targets.resize(static_cast<std::size_t>(T_) * rows);
        b.x.assign(one_hot_ ? static_cast<std::size_t>(T_) * rows * 256 : 0, 0.0f);
        // All streams advance together, so they wrap to their segment starts together; a window that
        // starts a segment begins from a zero state.
        if (pos[0] + T_ + 1 > segment_) std::fill(pos.begin(), pos.end(), 0);
        b.continues = pos[0] != 0;
        for (int r = 0; r < rows; ++r) {
            stream_.read(split_, static_cast<std::int64_t>(r) * segment_ + pos[r], T_ + 1, buf_.data());
            for (int t = 0; t < T_; ++t) {
                const std::size_t tb = static_cast<std::size_t>(t) * rows + r;
                b.tokens[tb] = buf_[t];
                b.targets[tb] = buf_[t + 1];
                if (one_hot_) b.x[tb * 256 + buf_[t]] = 1.0f;
            }
            pos[r] += T_;
        }
    }

    ByteStream stream_;
    Split split_;
    int B_, T_;
    bool one_hot_;
    std::int64_t max_windows_;
    std::int64_t segment_ = 0;
    std::vector<std::int64_t> pos_, eval_pos_;
    std::int64_t eval_count_ = 0;
    std::vector<std::uint8_t> buf_;
};

}  // namespace

std::unique_ptr<models::BatchSource> make_train_source(const ExperimentConfig& cfg) {
    const int B = static_cast<int>(cfg.train.batch_size);
    switch (cfg.task.kind) {
        case TaskKind::bytes:
            return std::make_unique<ByteWindowSource>(cfg.task.bytes_path, cfg, Split::train, B, 0);
        case TaskKind::shd:
        case TaskKind::shd_adding: {
            if (cfg.task.train_path.empty() && !cfg.task.train_samples)
                throw InputError(fmt::format("{}: task.train: no training file given", cfg.origin));
            SpikeDataset ds = cfg.task.train_samples ? samples_in_memory(*cfg.task.train_samples, cfg.task.max_train_samples)
                                                     : read_spike_dataset(cfg.task.train_path, cfg.task.max_train_samples);
            check_channels(ds, cfg);
            if (cfg.task.kind == TaskKind::shd) return std::make_unique<SpikeClassSource>(std::move(ds), cfg, B);
            return std::make_unique<AddingSource>(std::move(ds), cfg, B, 0);
        }
    }
    return nullptr;
}

namespace {

// Evaluation batches of a spike task over `ds` (already cut to max_test_samples).
std::unique_ptr<models::BatchSource> spike_eval_source(const ExperimentConfig& cfg, SpikeDataset ds) {
    const int B = static_cast<int>(std::max<std::int64_t>(cfg.train.batch_size, 16));
    check_channels(ds, cfg);
    if (cfg.task.kind == TaskKind::shd) return std::make_unique<SpikeClassSource>(std::move(ds), cfg, B);
    return std::make_unique<AddingSource>(std::move(ds), cfg, B, cfg.task.adding_test_pairs);
}

}  // namespace

std::unique_ptr<models::BatchSource> make_eval_source(const ExperimentConfig& cfg, const std::string& path,
                                                      Split split) {
    const int B = static_cast<int>(std::max<std::int64_t>(cfg.train.batch_size, 16));
    if (cfg.task.kind == TaskKind::bytes)
        return std::make_unique<ByteWindowSource>(path, cfg, split, B, cfg.task.eval_windows);
    if (path.empty()) return nullptr;
    return spike_eval_source(cfg, read_spike_dataset(path, cfg.task.max_test_samples));
}

std::unique_ptr<models::BatchSource> make_eval_source(const ExperimentConfig& cfg, const SpikeDataset& samples) {
    if (cfg.task.kind == TaskKind::bytes)
        throw InputError(fmt::format("{}: a byte task evaluates a byte file, not spike samples", cfg.origin));
    return spike_eval_source(cfg, samples_in_memory(samples, cfg.task.max_test_samples));
}

}  // namespace elm::io
