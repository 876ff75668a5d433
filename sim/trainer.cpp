#include "elmsim/sim/trainer.hpp"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
}  // namespace

void request_training_stop(int signal) { g_stop_signal = signal; }
int training_stop_signal() { return static_cast<int>(g_stop_signal); }

using models::LossMode;
using models::OptimizerKind;

Trainer::Trainer(Backend& backend, const models::TrainConfig& cfg, models::BatchSource& train,
                 models::BatchSource* eval, Communicator* comm)
    : backend_(backend), cfg_(cfg), train_(train), eval_(eval), rng_(cfg.seed, /*stream=*/3),
      carry_(backend.make_carry()) {
    comm_ = comm;
    Communicator& c = comm ? *comm : local_comm_;
    const ShardPlan plan = plan_shards(cfg.shards, cfg.batch_size, c.size(), c.rank());
    if (plan.parallel()) parallel_ = std::make_unique<DataParallelStep>(backend, c, plan);
    OptimizerState fresh;
    if (cfg.optimizer != OptimizerKind::sgd) {
        fresh.m1.assign(backend.layout().total_size(), 0.0f);
        fresh.m2.assign(backend.layout().total_size(), 0.0f);
    }
    backend_.set_optimizer_state(fresh);
}

RunOptions Trainer::run_options(bool training) const {
    RunOptions o;
    o.loss = cfg_.loss;
    o.last_k = static_cast<int>(cfg_.loss_last_k);
    o.dropout = training ? cfg_.dropout : 0.0;
    o.recompute_every = static_cast<int>(cfg_.recompute_every);
    return o;
}

void Trainer::restore(const models::TrainState& st) {
    const std::string wanted = models::to_string(cfg_.optimizer);
    if (st.optimizer != wanted)
        throw InputError(fmt::format("resume: the checkpoint was trained with optimizer \"{}\", the config asks for \"{}\"",
                                     st.optimizer, wanted));
    step_ = st.step;
    epoch_ = st.epoch;
    best_metric_ = st.best_metric;
    if (cfg_.optimizer != OptimizerKind::sgd) {
        const std::size_t n = backend_.layout().total_size();
        if (st.moment1.size() != n || st.moment2.size() != n)
            throw InputError(fmt::format("optimizer state: expected {} moment values, found {} and {}", n,
                                         st.moment1.size(), st.moment2.size()));
        backend_.set_optimizer_state(OptimizerState{st.optimizer_t, st.moment1, st.moment2});
    }
    rng_.set_state(st.rng);
    for (const auto& [name, v] : st.int_arrays) {
        if (name == "data_cursor") train_.set_cursor(v);
        if (name == "seen" && v.size() == 1) seen_ = v[0];
    }
    // Carried text state: carry_y holds N x B values; the other arrays are checked against that B.
    const auto& c = backend_.config();
    NetworkState<float> carried;
    carried.B = 0;
    for (const auto& [name, v] : st.float_arrays)
        if (name == "carry_y") carried.reset(c, static_cast<int>(v.size() / static_cast<std::size_t>(c.N)));
    for (const auto& [name, v] : st.float_arrays) {
        std::vector<float>* dst = name == "carry_b" ? &carried.b : name == "carry_m" ? &carried.m
                                : name == "carry_v" ? &carried.v : name == "carry_y" ? &carried.y : nullptr;
        if (!dst) continue;
        if (carried.B == 0 || v.size() != dst->size())
            throw InputError(fmt::format("resume: /train/state/{} holds {} values, expected {}", name, v.size(),
                                         dst->size()));
        *dst = v;
    }
    if (parallel_)
        parallel_->restore_carried_state(carried);
    else if (carried.B > 0)
        carry_->write(carried);
    else
        carry_->clear();
}

models::TrainState Trainer::state() const {
    models::TrainState st;
    st.step = step_;
    st.epoch = epoch_;
    st.best_metric = best_metric_;
    st.optimizer = models::to_string(cfg_.optimizer);
    const OptimizerState opt = backend_.optimizer_state();
    st.optimizer_t = opt.t;
    st.moment1 = opt.m1;
    st.moment2 = opt.m2;
    st.rng = rng_.state();
    st.int_arrays.emplace_back("data_cursor", train_.cursor());
    st.int_arrays.emplace_back("seen", std::vector<std::int64_t>{seen_});
    // Carried text state (with sharding, gathered from every process: a collective call).
    const NetworkState<float> c = parallel_ ? parallel_->carried_state()
                                  : carry_->batch() > 0 ? carry_->read() : NetworkState<float>{};
    if (c.B > 0) {
        st.float_arrays.emplace_back("carry_b", c.b);
        st.float_arrays.emplace_back("carry_m", c.m);
        st.float_arrays.emplace_back("carry_v", c.v);
        st.float_arrays.emplace_back("carry_y", c.y);
    }
    return st;
}

EvalResult Trainer::evaluate(models::BatchSource& source) {
    return sim::evaluate(backend_, source, run_options(false), comm_);
}

EvalResult Trainer::evaluate_and_report() {
    const EvalResult r = evaluate(*eval_);
    best_metric_ = std::max(best_metric_, r.metric());
    for (auto* o : observers_) o->on_eval(EvalReport{step_, r});
    return r;
}

std::optional<EvalResult> Trainer::run(std::int64_t steps) {
    const std::int64_t last = last_step_of(step_, steps, cfg_.max_steps);
    for (auto* o : observers_) o->on_start(step_, last);
    const RunOptions opt = run_options(true);
    const bool text = cfg_.loss == LossMode::next_byte;
    const std::int64_t epoch_size = std::max<std::int64_t>(1, train_.train_size());
    const bool dump_first = std::any_of(observers_.begin(), observers_.end(),
                                        [](const TrainObserver* o) { return o->wants_first_batch(); });
    while (step_ < last) {
        train_.next_train(batch_, rng_, step_);
        if (step_ == 0 && dump_first) {
            // The batch as the network will see it (after dropout): draw the mask from a copy of the
            // RNG so the dump does not change the run.
            Rng probe = rng_;
            backend_.step(batch_, opt, nullptr, false, &probe);
            const std::vector<float> input = backend_.model_input();
            for (auto* o : observers_)
                if (o->wants_first_batch()) o->on_first_batch(batch_, input);
        }
        LossStats st;
        bool stop = training_stop_signal() != 0;
        if (parallel_) {
            st = parallel_->run(batch_, opt, rng_.next(), text, &stop);
        } else {
            if (!text || !batch_.continues) carry_->clear();
            backend_.zero_gradients();
            st = backend_.step(batch_, opt, text ? carry_.get() : nullptr, true, &rng_);
        }
        const double lr = models::learning_rate(cfg_, step_);
        const double gnorm = backend_.update(cfg_, lr);
        ++step_;
        seen_ += batch_.B;
        epoch_ = seen_ / epoch_size;
        const StepReport report{step_, last, epoch_, st, lr, gnorm, text};
        for (auto* o : observers_) o->on_step(report);
        if (eval_ && cfg_.eval_every > 0 && step_ % cfg_.eval_every == 0 && step_ != last) evaluate_and_report();
        if (cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0 && step_ != last) {
            const models::TrainState st_now = state();
            for (auto* o : observers_) o->on_checkpoint(st_now);
        }
        if (stop) {
            stopped_by_signal_ = true;
            break;
        }
        if (std::any_of(observers_.begin(), observers_.end(), [](const TrainObserver* o) { return o->wants_stop(); }))
            break;
    }
    for (auto* o : observers_) o->on_steps_done();
    std::optional<EvalResult> final_eval;
    if (eval_ && !stopped_by_signal_) final_eval = evaluate_and_report();
    const models::TrainState st_end = state();
    for (auto* o : observers_) o->on_checkpoint(st_end);
    return final_eval;
}

}  // namespace elm::sim
