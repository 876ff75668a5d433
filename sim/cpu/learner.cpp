#include "elmsim/sim/cpu/learner.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/models/event_batch.hpp"
#include "elmsim/sim/batch_checks.hpp"
#include "elmsim/sim/cpu/readout.hpp"
#include "elmsim/sim/event_batch_plan.hpp"
#include "elmsim/sim/input_layout.hpp"

namespace elm::sim::cpu {

using models::TensorId;

template <class Real>
Learner<Real>::Learner(const models::Network<Real>& net, Executor& ex) : net_(net), ex_(ex) {
    fws_.resize(net.cfg);
}

namespace {
// dst[t][c][b] = src[t][b][c] for one step: contiguous writes, B read streams.
template <class Src, class Dst>
void transpose_step(const Src* src, Dst* dst, int B, int C) {
    for (int c = 0; c < C; ++c) {
        Dst* out = dst + static_cast<std::size_t>(c) * B;
        for (int b = 0; b < B; ++b) out[b] = static_cast<Dst>(src[static_cast<std::size_t>(b) * C + c]);
    }
}
}  // namespace

template <class Real>
void Learner<Real>::build_input(const models::Batch& batch, double dropout, Rng* rng) {
    const auto& cfg = net_.cfg;
    const int C = cfg.input_width(), T = batch.T, B = batch.B;
    const std::size_t n = static_cast<std::size_t>(T) * B * C, step = static_cast<std::size_t>(B) * C;
    // Written directly in the engine's layout, [T][C][B]: each step's input by channel.
    xt_.resize(n);
    input_T_ = T;
    input_B_ = B;
    auto at = [&](std::size_t t, std::size_t b, std::size_t c) -> Real& { return xt_[t * step + c * B + b]; };
    if (cfg.C_e > 0) {  // shapes: sim::check_batch_input (run)
        const Real* E = net_.tensor(TensorId::embedding);
        for (int t = 0; t < T; ++t)
            for (int b = 0; b < B; ++b) {
                const Real* row = E + static_cast<std::size_t>(batch.tokens[static_cast<std::size_t>(t) * B + b]) * C;
                for (int c = 0; c < C; ++c) at(t, b, c) = row[c];
            }
    } else {
        ex_.parallel_for(T, [&](int t0, int t1) {
            for (int t = t0; t < t1; ++t) transpose_step(batch.x.data() + t * step, xt_.data() + t * step, B, C);
        });
    }
    keep_.clear();
    if (dropout > 0.0) {
        // Inverted dropout: kept inputs are scaled by 1 / (1 - p) so the expected input is unchanged. The
        // mask is drawn in [T][B][C] order (the batch's layout) and kept in it for the embedding gradient.
        const Real scale = static_cast<Real>(1.0 / (1.0 - dropout));
        keep_.resize(n);
        std::size_t k = 0;
        for (int t = 0; t < T; ++t)
            for (int b = 0; b < B; ++b)
                for (int c = 0; c < C; ++c, ++k) {
                    keep_[k] = rng->uniform() < dropout ? Real(0) : scale;
                    at(t, b, c) *= keep_[k];
                }
    }
}

template <class Real>
void Learner<Real>::build_timing(const models::Batch& batch) {
    const auto& cfg = net_.cfg;
    const int T = batch.T, B = batch.B;
    timing_ = BatchTiming<Real>{};
    timing_.B = B;
    timing_.steps = T;
    if (batch.gap_cells.empty()) {  // clock mode: every row of every step one dt_ms
        compute_decays(net_, cfg.dt_ms, decays_);
        row_decays_.assign(static_cast<std::size_t>(B), &decays_);
        timing_.rows = row_decays_.data();
        return;
    }
    const std::size_t n = static_cast<std::size_t>(T) * B;
    // The decays of every distinct gap length in the batch, each computed once (dt = g resolution_ms,
    // exactly as the event schedule computes an update's dt, so simulation gets the same floats).
    plan_ = plan_event_batch(batch);
    if (gap_decays_.size() < plan_.gaps.size()) gap_decays_.resize(plan_.gaps.size());
    for (std::size_t k = 0; k < plan_.gaps.size(); ++k)
        compute_decays(net_, static_cast<double>(plan_.gaps[k]) * batch.resolution_ms, gap_decays_[k]);
    row_decays_.assign(n, nullptr);
    uniform_.assign(static_cast<std::size_t>(T), 1);
    scaled_.assign(static_cast<std::size_t>(T), 0);
    for (int t = 0; t < T; ++t) {
        const int active = plan_.active[t];
        const std::int32_t* slot = plan_.row_gap.data() + static_cast<std::size_t>(t) * B;
        const StepDecays<Real>** rows = row_decays_.data() + static_cast<std::size_t>(t) * B;
        for (int b = 0; b < active; ++b) rows[b] = &gap_decays_[static_cast<std::size_t>(slot[b])];
        const StepTiming<Real> st = make_step_timing<Real>(rows, active);
        uniform_[t] = st.uniform ? 1 : 0;
        scaled_[t] = st.scaled ? 1 : 0;
    }
    timing_.rows = row_decays_.data();
    timing_.step_stride = static_cast<std::size_t>(B);
    timing_.active = plan_.active.data();
    timing_.uniform = uniform_.data();
    timing_.scaled = scaled_.data();
}

template <class Real>
std::vector<Real> Learner<Real>::model_input() const {
    return batch_major_input(xt_, input_T_, input_B_, net_.cfg.input_width());
}

template <class Real>
void Learner<Real>::forward_stretch(int t0, int len, int B, const NetworkState<Real>& start) {
    tape_.resize(net_.cfg, len, B);
    tape_.load_state(start);
    const std::size_t step_in = static_cast<std::size_t>(B) * net_.cfg.input_width();
    sequence_forward(net_, timing_.from(t0), xt_.data() + t0 * step_in, tape_, fws_, ex_);
}

template <class Real>
void Learner<Real>::forward_untaped(int T, int B, int t_record, NetworkState<Real>* carry) {
    const auto& cfg = net_.cfg;
    const std::size_t slot = static_cast<std::size_t>(cfg.N) * B;
    const std::size_t step_in = static_cast<std::size_t>(B) * cfg.input_width();
    NetworkState<Real>* prev = &start_;
    NetworkState<Real>* next = &ping_;
    next->reset(cfg, B);  // sizes it; every value is written by the step
    const bool elm = cfg.output_mode != models::OutputMode::lif;  // LIF neurons have no MLP
    a_scratch_.resize(elm ? slot * cfg.l * cfg.d_h : 0);
    dm_scratch_.resize(elm ? slot * cfg.d_m : 0);
    y_record_.resize(static_cast<std::size_t>(T - t_record) * slot);
    for (int t = 0; t < T; ++t) {
        const StepSlots<Real> s{prev->b.data(), prev->m.data(), prev->v.data(), prev->y.data(),
                                next->b.data(), next->m.data(), next->v.data(), next->y.data(),
                                a_scratch_.data(), dm_scratch_.data()};
        network_step_forward(net_, timing_.at(t), xt_.data() + t * step_in, B, s, fws_, ex_);
        if (t >= t_record)
            std::copy(next->y.begin(), next->y.end(),
                      y_record_.begin() + static_cast<std::ptrdiff_t>((t - t_record) * slot));
        std::swap(prev, next);
    }
    if (carry) *carry = *prev;
    activation_bytes_ = sizeof(Real) * (2 * (start_.b.size() + start_.m.size() + start_.v.size() + start_.y.size()) +
                                        a_scratch_.size() + dm_scratch_.size() + y_record_.size());
}

template <class Real>
LossStats Learner<Real>::run(const models::Batch& batch, const RunOptions& opt, NetworkState<Real>* carry, Real* grads,
                             Rng* rng) {
    const auto& cfg = net_.cfg;
    const int T = batch.T, B = batch.B;
    check_batch_input(cfg, batch, opt);
    if (opt.dropout > 0.0 && !rng) throw InputError("input dropout needs a random generator");
    build_input(batch, opt.dropout, rng);
    fws_.soft_spikes = opt.soft_spikes;
    build_timing(batch);  // parameters (tau_m) may have changed since the last run
    fws_.prepare(net_);   // likewise the packed weights: once per run, not per stretch
    if (carry && carry->B == B) {
        start_ = *carry;
    } else {
        start_.reset(cfg, B);
    }
    const std::size_t slot = static_cast<std::size_t>(cfg.N) * B;
    const std::size_t state_floats = start_.b.size() + start_.m.size() + start_.v.size() + start_.y.size();
    const int K = opt.recompute_every;
    const bool segmented = grads && K > 0 && K < T;
    const int stretches = segmented ? (T + K - 1) / K : 1;
    const int ls = loss_steps(opt.loss, T, opt.last_k);
    logit_steps_ = opt.all_logits ? T : ls;
    const int t0 = T - logit_steps_;
    const Real* y_logit = nullptr;  // [logit_steps][N][B]: y after steps t0 .. T-1
    const Real* y_slots = nullptr;  // [T][N][B], y after step t at index t (training only)
    if (!grads && !opt.keep_tape) {
        forward_untaped(T, B, t0, carry);
        y_logit = y_record_.data();
    } else if (!segmented) {
        forward_stretch(0, T, B, start_);
        y_slots = tape_.y_at(1);
        if (carry) {
            if (carry->B != B) carry->reset(cfg, B);
            tape_.store_state(T, *carry);
        }
    } else {
        checkpoints_.resize(stretches);
        y_record_.resize(static_cast<std::size_t>(T) * slot);
        NetworkState<Real> state = start_;
        for (int s = 0; s < stretches; ++s) {
            const int s0 = s * K, len = std::min(K, T - s0);
            checkpoints_[s] = state;
            forward_stretch(s0, len, B, state);
            std::copy(tape_.y_at(1), tape_.y_at(1) + static_cast<std::ptrdiff_t>(len * slot),
                      y_record_.begin() + static_cast<std::ptrdiff_t>(s0 * slot));
            tape_.store_state(len, state);
        }
        y_slots = y_record_.data();
        if (carry) *carry = state;
    }
    if (y_slots) {
        y_logit = y_slots + t0 * slot;
        const std::size_t tape_floats = tape_.b.size() + tape_.m.size() + tape_.v.size() + tape_.y.size() +
                                        tape_.a.size() + tape_.dm.size();
        activation_bytes_ =
            sizeof(Real) * (tape_floats + (segmented ? y_record_.size() + stretches * state_floats : 0));
    }

    logits_.resize(static_cast<std::size_t>(logit_steps_) * B * cfg.n_out);
    readout_forward(net_, fws_, y_logit, logit_steps_, B, logits_.data(), ex_);
    const std::size_t loss_offset = static_cast<std::size_t>(logit_steps_ - ls) * B * cfg.n_out;
    check_batch_targets(batch, opt);
    const std::int32_t* targets = batch.targets.data();
    if (!grads) return compute_loss<Real>(opt.loss, logits_.data() + loss_offset, ls, B, cfg.n_out, targets, nullptr);

    g_logits_.resize(static_cast<std::size_t>(ls) * B * cfg.n_out);
    const LossStats st =
        compute_loss<Real>(opt.loss, logits_.data() + loss_offset, ls, B, cfg.n_out, targets, g_logits_.data());
    g_y_.assign(static_cast<std::size_t>(T) * slot, Real(0));
    readout_backward(net_, y_slots + (T - ls) * slot, ls, B, g_logits_.data(), grads, g_y_.data() + (T - ls) * slot,
                     readout_rows_, ex_);
    const bool need_gx = cfg.C_e > 0;
    if (need_gx) g_x_.resize(xt_.size());
    Real* gx = need_gx ? g_x_.data() : nullptr;
    if (!segmented) {
        sequence_backward(net_, timing_, xt_.data(), tape_, g_y_.data(), grads, gx, bws_, ex_);
    } else {
        const std::size_t step_in = static_cast<std::size_t>(B) * cfg.input_width();
        begin_backward(net_, B, bws_);
        for (int s = stretches - 1; s >= 0; --s) {
            const int s0 = s * K, len = std::min(K, T - s0);
            forward_stretch(s0, len, B, checkpoints_[s]);
            segment_backward(net_, timing_.from(s0), xt_.data() + s0 * step_in, tape_, g_y_.data() + s0 * slot, grads,
                             gx ? gx + s0 * step_in : nullptr, bws_, ex_);
        }
    }
    if (need_gx) {
        const int C = cfg.input_width();
        Real* gE = grads + net_.layout[TensorId::embedding].offset;
        for (std::size_t tb = 0; tb < batch.tokens.size(); ++tb) {
            Real* row = gE + static_cast<std::size_t>(batch.tokens[tb]) * C;
            for (int c = 0; c < C; ++c) {
                const std::size_t k = tb * C + c;
                row[c] += g_x_[k] * (keep_.empty() ? Real(1) : keep_[k]);
            }
        }
    }
    return st;
}

template class Learner<float>;
template class Learner<double>;

}  // namespace elm::sim::cpu
