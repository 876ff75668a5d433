#include "elmsim/sim/trainer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

namespace {
const char* optimizer_name(OptimizerKind k) {
    switch (k) {
        case OptimizerKind::sgd: return "sgd";
        case OptimizerKind::adam: return "adam";
        case OptimizerKind::adamax: return "adamax";
    }
    return "sgd";
}
}  // namespace

Trainer::Trainer(models::Network<float>& net, const TrainConfig& cfg, BatchSource& train, BatchSource* eval,
                 Executor& ex, MetricsLog* log)
    : net_(net), cfg_(cfg), train_(train), eval_(eval), ex_(ex), log_(log), learner_(net, ex), opt_(cfg, net.layout),
      rng_(cfg.seed, /*stream=*/3), grads_(net.params.size(), 0.0f) {}

RunOptions Trainer::run_options(bool training) const {
    RunOptions o;
    o.loss = cfg_.loss;
    o.last_k = static_cast<int>(cfg_.loss_last_k);
    o.dropout = training ? cfg_.dropout : 0.0;
    o.recompute_every = static_cast<int>(cfg_.recompute_every);
    return o;
}

void Trainer::restore(const TrainState& st) {
    if (st.optimizer != optimizer_name(cfg_.optimizer))
        throw InputError(fmt::format("resume: the checkpoint was trained with optimizer \"{}\", the config asks for \"{}\"",
                                     st.optimizer, optimizer_name(cfg_.optimizer)));
    step_ = st.step;
    epoch_ = st.epoch;
    best_metric_ = st.best_metric;
    if (cfg_.optimizer != OptimizerKind::sgd) opt_.restore(st.optimizer_t, st.moment1, st.moment2);
    rng_.set_state(st.rng);
    for (const auto& [name, v] : st.int_arrays) {
        if (name == "data_cursor") train_.set_cursor(v);
        if (name == "seen" && v.size() == 1) seen_ = v[0];
    }
    // Carried text state: carry_y holds N x B values; the other arrays are checked against that B.
    const auto& c = net_.cfg;
    carry_.B = 0;
    for (const auto& [name, v] : st.float_arrays)
        if (name == "carry_y") carry_.reset(c, static_cast<int>(v.size() / static_cast<std::size_t>(c.N)));
    for (const auto& [name, v] : st.float_arrays) {
        std::vector<float>* dst = name == "carry_b" ? &carry_.b : name == "carry_m" ? &carry_.m
                                : name == "carry_v" ? &carry_.v : name == "carry_y" ? &carry_.y : nullptr;
        if (!dst) continue;
        if (carry_.B == 0 || v.size() != dst->size())
            throw InputError(fmt::format("resume: /train/state/{} holds {} values, expected {}", name, v.size(),
                                         dst->size()));
        *dst = v;
    }
}

TrainState Trainer::state() const {
    TrainState st;
    st.step = step_;
    st.epoch = epoch_;
    st.best_metric = best_metric_;
    st.optimizer = optimizer_name(cfg_.optimizer);
    st.optimizer_t = opt_.t();
    st.moment1 = opt_.moment1();
    st.moment2 = opt_.moment2();
    st.rng = rng_.state();
    st.int_arrays.emplace_back("data_cursor", train_.cursor());
    st.int_arrays.emplace_back("seen", std::vector<std::int64_t>{seen_});
    if (carry_.B > 0) {
        st.float_arrays.emplace_back("carry_b", carry_.b);
        st.float_arrays.emplace_back("carry_m", carry_.m);
        st.float_arrays.emplace_back("carry_v", carry_.v);
        st.float_arrays.emplace_back("carry_y", carry_.y);
    }
    return st;
}

EvalResult evaluate(Learner<float>& learner, BatchSource& source, const RunOptions& opt) {
    EvalResult r;
    r.text = opt.loss == LossMode::next_byte;
    source.rewind_eval();
    NetworkState<float> carry;
    Batch batch;
    while (source.next_eval(batch)) {
        if (!batch.continues) carry.B = 0;
        r.stats.add(learner.run(batch, opt, r.text ? &carry : nullptr, nullptr, nullptr));
    }
    return r;
}

EvalResult Trainer::evaluate(BatchSource& source) { return sim::evaluate(learner_, source, run_options(false)); }

std::optional<EvalResult> Trainer::run(std::int64_t steps, const TrainHooks& hooks, bool show_progress) {
    const std::int64_t last = std::min(cfg_.max_steps, step_ + steps);
    ProgressLine progress(step_, last, show_progress);
    const RunOptions opt = run_options(true);
    const bool text = cfg_.loss == LossMode::next_byte;
    const std::int64_t epoch_size = std::max<std::int64_t>(1, train_.train_size());
    std::optional<EvalResult> last_eval;
    LossStats window;  // training stats since the last log line
    auto do_eval = [&] {
        if (!eval_) return;
        const EvalResult r = evaluate(*eval_);
        last_eval = r;
        best_metric_ = std::max(best_metric_, r.metric());
        if (log_)
            log_->write("eval", {{"step", static_cast<double>(step_)}, {"loss", r.stats.loss()},
                                 {"accuracy", r.stats.accuracy()}, {"bpc", text ? r.stats.bpc() : NAN},
                                 {"samples", static_cast<double>(r.stats.count)}});
        progress.message(text ? fmt::format("eval @ step {}: loss {:.4f}  bpc {:.4f}  next-byte acc {:.4f}", step_,
                                            r.stats.loss(), r.stats.bpc(), r.stats.accuracy())
                              : fmt::format("eval @ step {}: loss {:.4f}  accuracy {:.4f} ({} samples)", step_,
                                            r.stats.loss(), r.stats.accuracy(), r.stats.count));
    };
    while (step_ < last) {
        train_.next_train(batch_, rng_);
        if (step_ == 0 && hooks.first_batch) {
            // The batch as the network will see it (after dropout): draw the mask from a copy of the
            // RNG so the hook does not change the run.
            Rng probe = rng_;
            learner_.run(batch_, opt, nullptr, nullptr, &probe);
            hooks.first_batch(batch_, learner_.model_input());
        }
        if (!text || !batch_.continues) carry_.B = 0;
        std::fill(grads_.begin(), grads_.end(), 0.0f);
        const LossStats st = learner_.run(batch_, opt, text ? &carry_ : nullptr, grads_.data(), &rng_);
        const double lr = learning_rate(cfg_, step_);
        const double gnorm = opt_.step(net_.params, grads_, lr);
        ++step_;
        seen_ += batch_.B;
        epoch_ = seen_ / epoch_size;
        window.add(st);
        progress.update(step_, st.loss(), st.accuracy(), lr);
        if (log_ && (step_ % std::max<std::int64_t>(1, cfg_.log_every) == 0 || step_ == last)) {
            log_->write("train", {{"step", static_cast<double>(step_)}, {"epoch", static_cast<double>(epoch_)},
                                  {"loss", window.loss()}, {"accuracy", window.accuracy()},
                                  {"bpc", text ? window.bpc() : NAN}, {"lr", lr}, {"grad_norm", gnorm},
                                  {"steps_per_s", progress.steps_per_second(step_)}});
            window = LossStats{};
        }
        if (cfg_.eval_every > 0 && step_ % cfg_.eval_every == 0 && step_ != last) do_eval();
        if (hooks.checkpoint && cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0 && step_ != last)
            hooks.checkpoint(state());
    }
    progress.finish();
    do_eval();
    if (hooks.checkpoint) hooks.checkpoint(state());
    return last_eval;
}

}  // namespace elm::sim
