#include "sim/learner.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "models/error.hpp"
#include "sim/readout.hpp"

namespace elm::sim {

using models::TensorId;

template <class Real>
Learner<Real>::Learner(const models::Network<Real>& net, Executor& ex) : net_(net), ex_(ex) {
    fws_.resize(net.cfg);
}

template <class Real>
void Learner<Real>::build_input(const Batch& batch, double dropout, Rng* rng) {
    const auto& cfg = net_.cfg;
    const int C = cfg.input_width();
    const std::size_t n = static_cast<std::size_t>(batch.T) * batch.B * C;
    x_.resize(n);
    if (cfg.C_e > 0) {
        if (batch.tokens.size() != static_cast<std::size_t>(batch.T) * batch.B)
            throw InputError(fmt::format("batch: the model has an embedding but the batch holds {} tokens for "
                                         "T x B = {} x {}", batch.tokens.size(), batch.T, batch.B));
        const Real* E = net_.tensor(TensorId::embedding);
        for (std::size_t tb = 0; tb < batch.tokens.size(); ++tb)
            std::copy(E + static_cast<std::size_t>(batch.tokens[tb]) * C,
                      E + static_cast<std::size_t>(batch.tokens[tb] + 1) * C, x_.begin() + tb * C);
    } else {
        if (batch.C != C || batch.x.size() != n)
            throw InputError(fmt::format("batch: the model reads {} input channels, the data has {} (x holds {} values "
                                         "for T x B x C = {} x {} x {})", C, batch.C, batch.x.size(), batch.T,
                                         batch.B, C));
        std::copy(batch.x.begin(), batch.x.end(), x_.begin());
    }
    keep_.clear();
    if (dropout > 0.0) {
        // Inverted dropout: kept inputs are scaled by 1 / (1 - p) so the expected input is unchanged.
        const Real scale = static_cast<Real>(1.0 / (1.0 - dropout));
        keep_.resize(n);
        for (std::size_t k = 0; k < n; ++k) {
            keep_[k] = rng->uniform() < dropout ? Real(0) : scale;
            x_[k] *= keep_[k];
        }
    }
}

template <class Real>
LossStats Learner<Real>::run(const Batch& batch, const RunOptions& opt, NetworkState<Real>* carry, Real* grads,
                             Rng* rng) {
    const auto& cfg = net_.cfg;
    if (batch.T < 1 || batch.B < 1) throw InputError("batch: empty (T or B is 0)");
    if (opt.dropout > 0.0 && !rng) throw InputError("input dropout needs a random generator");
    build_input(batch, opt.dropout, rng);
    compute_decays(net_, cfg.dt_ms, decays_);  // parameters (tau_m) may have changed since the last run
    tape_.resize(cfg, batch.T, batch.B);
    if (carry && carry->B == batch.B) {
        tape_.load_state(*carry);
    } else {
        NetworkState<Real> zero;
        zero.reset(cfg, batch.B);
        tape_.load_state(zero);
    }
    sequence_forward(net_, decays_, x_.data(), tape_, fws_, ex_);
    if (carry) {
        if (carry->B != batch.B) carry->reset(cfg, batch.B);
        tape_.store_state(batch.T, *carry);
    }

    const int ls = loss_steps(opt.loss, batch.T, opt.last_k);
    logit_steps_ = opt.all_logits ? batch.T : ls;
    const int t0 = batch.T - logit_steps_;
    logits_.resize(static_cast<std::size_t>(logit_steps_) * batch.B * cfg.n_out);
    readout_forward(net_, tape_, t0, logit_steps_, logits_.data(), ex_);
    const std::size_t loss_offset = static_cast<std::size_t>(logit_steps_ - ls) * batch.B * cfg.n_out;
    const std::size_t expected_targets =
        opt.loss == LossMode::next_byte ? static_cast<std::size_t>(batch.T) * batch.B : batch.B;
    if (batch.targets.size() != expected_targets)
        throw InputError(fmt::format("batch: expected {} targets, found {}", expected_targets, batch.targets.size()));
    const std::int32_t* targets = batch.targets.data();
    if (!grads) return compute_loss<Real>(opt.loss, logits_.data() + loss_offset, ls, batch.B, cfg.n_out, targets, nullptr);

    g_logits_.resize(static_cast<std::size_t>(ls) * batch.B * cfg.n_out);
    const LossStats st =
        compute_loss<Real>(opt.loss, logits_.data() + loss_offset, ls, batch.B, cfg.n_out, targets, g_logits_.data());
    g_y_.resize(static_cast<std::size_t>(batch.T) * cfg.N * batch.B);
    readout_backward(net_, tape_, batch.T - ls, ls, g_logits_.data(), grads, g_y_.data(), ex_);
    const bool need_gx = cfg.C_e > 0;
    if (need_gx) g_x_.resize(x_.size());
    sequence_backward(net_, decays_, x_.data(), tape_, g_y_.data(), grads, need_gx ? g_x_.data() : nullptr, bws_, ex_);
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

}  // namespace elm::sim
