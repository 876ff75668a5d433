#include "elmsim/gpu/cuda_learner.hpp"

#include <algorithm>

#include "elmsim/gpu/kernels.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/batch_checks.hpp"
#include "elmsim/sim/event_batch_plan.hpp"
#include "elmsim/sim/input_layout.hpp"

namespace elm::gpu {


void DeviceTape::resize(const models::ModelConfig& cfg, int steps, int batch) {
    T = steps;
    B = batch;
    const sim::SlotSizes sz = sim::slot_sizes(cfg, batch);
    b_stride = sz.b;
    m_stride = sz.m;
    y_stride = sz.y;
    a_stride = sz.a;
    const std::size_t slots = static_cast<std::size_t>(steps) + 1;
    b.resize(slots * b_stride);
    m.resize(slots * m_stride);
    v.resize(slots * y_stride);
    y.resize(slots * y_stride);
    a.resize(static_cast<std::size_t>(steps) * a_stride);
    dm.resize(static_cast<std::size_t>(steps) * m_stride);
}

StateView DeviceTape::slot(int t) {
    const std::size_t k = static_cast<std::size_t>(t);
    return StateView{b_stride ? b.data() + k * b_stride : nullptr, m_stride ? m.data() + k * m_stride : nullptr,
                     v.data() + k * y_stride, y.data() + k * y_stride};
}

CudaLearner::CudaLearner(DeviceNetwork& net, cudaStream_t stream) : net_(net), s_(stream) {}

void CudaLearner::build_input(const models::Batch& batch, double dropout, Rng* rng) {
    const auto& cfg = net_.config();
    const int C = cfg.input_width(), T = batch.T, B = batch.B;
    const std::size_t n = static_cast<std::size_t>(T) * B * C;
    has_keep_ = dropout > 0.0;
    if (has_keep_) {
        // Drawn on the host in [T][B][C] order from the trainer's generator: the CPU engine's mask.
        const float scale = static_cast<float>(1.0 / (1.0 - dropout));
        std::vector<float> keep(n);
        for (std::size_t k = 0; k < n; ++k) keep[k] = rng->uniform() < dropout ? 0.0f : scale;
        keep_.upload(keep, s_);
    }
    xt_.resize(n);
    const float* keep = has_keep_ ? keep_.data() : nullptr;
    if (cfg.C_e > 0) {
        tokens_.upload(batch.tokens, s_);
        launch_embedded_input(net_.params() + net_.offsets().embedding, tokens_.data(), keep, xt_.data(), T, B, C, s_);
    } else {
        x_raw_.upload(batch.x, s_);
        launch_dense_input(x_raw_.data(), keep, xt_.data(), T, B, C, s_);
    }
}

void CudaLearner::build_timing(const models::Batch& batch) {
    const auto& cfg = net_.config();
    const int T = batch.T, B = batch.B;
    clock_ = batch.gap_cells.empty();
    if (clock_) {  // every row of every step one dt_ms: slot 0
        decays_.compute(net_, {cfg.dt_ms}, s_);
        row_slot_.upload(std::vector<std::int32_t>(static_cast<std::size_t>(B), 0), s_);
        return;
    }
    sim::EventBatchPlan plan = sim::plan_event_batch(batch);
    std::vector<double> dt(plan.gaps.size());
    for (std::size_t k = 0; k < dt.size(); ++k) dt[k] = static_cast<double>(plan.gaps[k]) * batch.resolution_ms;
    decays_.compute(net_, dt, s_);
    uniform_.assign(static_cast<std::size_t>(T), 1);
    for (int t = 0; t < T; ++t) {
        std::int32_t* row = plan.row_gap.data() + static_cast<std::size_t>(t) * B;
        for (int b = 0; b < plan.active[t]; ++b)
            if (row[b] != row[0]) uniform_[t] = 0;
        for (int b = plan.active[t]; b < B; ++b) row[b] = 0;  // padding: never read
    }
    row_slot_.upload(plan.row_gap, s_);
    plan_active_ = std::move(plan.active);
}

void CudaLearner::forward_stretch(int t0, int len, const DeviceState& start) {
    const auto& cfg = net_.config();
    const NetDims& d = net_.dims();
    tape_.resize(cfg, len, B_);
    start.copy_to_view(tape_.slot(0), s_);
    const std::size_t step_in = static_cast<std::size_t>(B_) * d.C;
    fwd_u_.resize(static_cast<std::size_t>(d.N) * d.in * B_);
    fwd_h_.resize(static_cast<std::size_t>(d.N) * d.ah * B_);
    const DecayTable table = decays_.table();
    const DeviceConnectivity cn = net_.connectivity();
    for (int t = 0; t < len; ++t) {
        ForwardStep st;
        st.x = xt_.data() + static_cast<std::size_t>(t0 + t) * step_in;
        st.prev = tape_.slot(t);
        st.next = tape_.slot(t + 1);
        st.a = tape_.a.data() + static_cast<std::size_t>(t) * tape_.a_stride;
        st.dm = tape_.dm.data() + static_cast<std::size_t>(t) * tape_.m_stride;
        st.u = fwd_u_.data();
        st.h = fwd_h_.data();
        st.row_slot = rows_at(t0 + t);
        st.B = B_;
        st.active = active_at(t0 + t);
        st.soft_spikes = soft_spikes_ ? 1 : 0;
        launch_forward_step(d, net_.params(), net_.offsets(), cn, table, st, s_);
    }
}

void CudaLearner::forward_untaped(int T, int t_record, DeviceState* carry) {
    const auto& cfg = net_.config();
    const NetDims& d = net_.dims();
    const std::size_t slot = static_cast<std::size_t>(d.N) * B_;
    const std::size_t step_in = static_cast<std::size_t>(B_) * d.C;
    ping_.copy_from(start_, s_);
    pong_.reset(cfg, B_, s_);
    DeviceState* prev = &ping_;
    DeviceState* next = &pong_;
    const bool elm = d.kind != NeuronKind::lif;
    fwd_a_.resize(elm ? slot * d.ah : 0);
    fwd_dm_.resize(elm ? slot * d.d_m : 0);
    fwd_u_.resize(slot * d.in);
    fwd_h_.resize(slot * d.ah);
    y_record_.resize(static_cast<std::size_t>(T - t_record) * slot);
    const DecayTable table = decays_.table();
    const DeviceConnectivity cn = net_.connectivity();
    for (int t = 0; t < T; ++t) {
        ForwardStep st;
        st.x = xt_.data() + static_cast<std::size_t>(t) * step_in;
        st.prev = prev->view();
        st.next = next->view();
        st.a = fwd_a_.data();
        st.dm = fwd_dm_.data();
        st.u = fwd_u_.data();
        st.h = fwd_h_.data();
        st.row_slot = rows_at(t);
        st.B = B_;
        st.active = active_at(t);
        st.soft_spikes = soft_spikes_ ? 1 : 0;
        launch_forward_step(d, net_.params(), net_.offsets(), cn, table, st, s_);
        if (t >= t_record) copy_device(y_record_.data() + static_cast<std::size_t>(t - t_record) * slot, next->y.data(), slot, s_);
        std::swap(prev, next);
    }
    if (carry) carry->copy_from(*prev, s_);
    activation_bytes_ = sizeof(float) * (2 * (start_.b.size() + start_.m.size() + start_.v.size() + start_.y.size()) +
                                         fwd_a_.size() + fwd_dm_.size() + y_record_.size());
}

void CudaLearner::begin_backward() {
    const NetDims& d = net_.dims();
    const std::size_t nb = static_cast<std::size_t>(d.N) * B_;
    const bool elm = d.kind != NeuronKind::lif;
    g_m_.resize(elm ? nb * d.d_m : 0);
    g_b_.resize(elm ? nb * d.n_b : 0);
    g_v_.resize(nb);
    g_yrec_.resize(nb);
    for (auto* b : {&g_m_, &g_b_, &g_v_, &g_yrec_}) b->zero(s_);
    g_drive_.resize(elm ? nb * d.n_b : 0);
    if (elm) {
        s_gv_.resize(nb);
        for (auto* b : {&s_c1_, &s_c2_, &s_cl_, &s_ga2_}) b->resize(nb * d.d_m);
        s_u_.resize(nb * d.in);
        s_h_.resize(nb * d.ah);
        s_ga_.resize(nb * d.ah);
        s_gh_.resize(nb * d.d_h);
    }
}

void CudaLearner::segment_backward(int t0, float* grads, float* g_x) {
    const NetDims& d = net_.dims();
    const std::size_t slot = static_cast<std::size_t>(d.N) * B_;
    const std::size_t step_in = static_cast<std::size_t>(B_) * d.C;
    const DecayTable table = decays_.table();
    const DeviceConnectivity cn = net_.connectivity();
    const bool lif = d.kind == NeuronKind::lif;
    for (int t = tape_.T - 1; t >= 0; --t) {
        const int tg = t0 + t;
        BackwardStep st;
        st.x = xt_.data() + static_cast<std::size_t>(tg) * step_in;
        st.prev = tape_.slot(t);
        st.next = tape_.slot(t + 1);
        st.a = tape_.a.data() + static_cast<std::size_t>(t) * tape_.a_stride;
        st.dm = tape_.dm.data() + static_cast<std::size_t>(t) * tape_.m_stride;
        st.g_y_readout = g_y_.data() + static_cast<std::size_t>(tg) * slot;
        st.row_slot = rows_at(tg);
        st.next_row_slot = tg + 1 < T_ ? rows_at(tg + 1) : nullptr;
        st.g_m = g_m_.data();
        st.g_b = g_b_.data();
        st.g_v = g_v_.data();
        st.g_yrec = g_yrec_.data();
        st.g_drive = g_drive_.data();
        st.gv = s_gv_.data();
        st.c_km1 = s_c1_.data();
        st.c_km2 = s_c2_.data();
        st.c_kl = s_cl_.data();
        st.ga2 = s_ga2_.data();
        st.u = s_u_.data();
        st.h = s_h_.data();
        st.ga = s_ga_.data();
        st.gh = s_gh_.data();
        st.B = B_;
        st.active = active_at(tg);
        st.uniform = clock_ ? 1 : uniform_[static_cast<std::size_t>(tg)];
        launch_backward_step(d, net_.params(), net_.offsets(), cn, table, st, grads, s_);
        launch_backward_gather(d, net_.params(), net_.offsets(), cn, table, st.row_slot, lif ? g_v_.data() : g_drive_.data(),
                               B_, st.active, g_yrec_.data(), g_x ? g_x + static_cast<std::size_t>(tg) * step_in : nullptr,
                               s_);
    }
}

sim::LossStats CudaLearner::run(const models::Batch& batch, const sim::RunOptions& opt, DeviceState* carry, float* grads,
                                Rng* rng) {
    const auto& cfg = net_.config();
    const NetDims& d = net_.dims();
    sim::check_batch_input(cfg, batch, opt);
    if (opt.dropout > 0.0 && !rng) throw InputError("input dropout needs a random generator");
    const int T = batch.T, B = batch.B;
    T_ = T;
    B_ = B;
    soft_spikes_ = opt.soft_spikes;
    build_input(batch, opt.dropout, rng);
    build_timing(batch);  // the parameters (tau_m) may have changed since the last run
    if (carry && carry->B == B)
        start_.copy_from(*carry, s_);
    else
        start_.reset(cfg, B, s_);
    const std::size_t slot = static_cast<std::size_t>(d.N) * B;
    const std::size_t state_floats = start_.b.size() + start_.m.size() + start_.v.size() + start_.y.size();
    const int K = opt.recompute_every;
    const bool segmented = grads && K > 0 && K < T;
    const int stretches = segmented ? (T + K - 1) / K : 1;
    const int ls = sim::loss_steps(opt.loss, T, opt.last_k);
    logit_steps_ = opt.all_logits ? T : ls;
    const int t0 = T - logit_steps_;
    const float* y_logit = nullptr;  // [logit_steps][N][B]
    const float* y_slots = nullptr;  // [T][N][B]: y after step t at index t (training)
    if (!grads && !opt.keep_tape) {
        forward_untaped(T, t0, carry);
        y_logit = y_record_.data();
    } else if (!segmented) {
        forward_stretch(0, T, start_);
        y_slots = tape_.slot(1).y;
        if (carry) {
            carry->reset(cfg, B, s_);
            carry->copy_from_view(tape_.slot(T), s_);
        }
    } else {
        if (checkpoints_.size() < static_cast<std::size_t>(stretches)) checkpoints_.resize(static_cast<std::size_t>(stretches));
        y_record_.resize(static_cast<std::size_t>(T) * slot);
        DeviceState* state = &start_;
        for (int s = 0; s < stretches; ++s) {
            const int s0 = s * K, len = std::min(K, T - s0);
            checkpoints_[s].copy_from(*state, s_);
            forward_stretch(s0, len, checkpoints_[s]);
            copy_device(y_record_.data() + static_cast<std::size_t>(s0) * slot, tape_.slot(1).y, static_cast<std::size_t>(len) * slot, s_);
            ping_.reset(cfg, B, s_);
            ping_.copy_from_view(tape_.slot(len), s_);
            state = &ping_;
        }
        y_slots = y_record_.data();
        if (carry) carry->copy_from(*state, s_);
    }
    if (y_slots) {
        y_logit = y_slots + static_cast<std::size_t>(t0) * slot;
        activation_bytes_ = sizeof(float) * (tape_.floats() + (segmented ? y_record_.size() + stretches * state_floats : 0));
    }

    logits_d_.resize(static_cast<std::size_t>(logit_steps_) * B * d.n_out);
    launch_readout_forward(d, net_.params(), net_.offsets(), y_logit, logit_steps_, B, logits_d_.data(), s_);
    logits_d_.to_host(logits_, s_);
    sim::check_batch_targets(batch, opt);
    const std::size_t loss_offset = static_cast<std::size_t>(logit_steps_ - ls) * B * d.n_out;
    const std::int32_t* targets = batch.targets.data();
    if (!grads) return sim::compute_loss<float>(opt.loss, logits_.data() + loss_offset, ls, B, d.n_out, targets, nullptr);

    g_logits_.resize(static_cast<std::size_t>(ls) * B * d.n_out);
    const sim::LossStats st =
        sim::compute_loss<float>(opt.loss, logits_.data() + loss_offset, ls, B, d.n_out, targets, g_logits_.data());
    g_logits_d_.upload(g_logits_, s_);
    g_y_.resize(static_cast<std::size_t>(T) * slot);
    g_y_.zero(s_);
    launch_readout_backward(d, net_.params(), net_.offsets(), y_slots + static_cast<std::size_t>(T - ls) * slot, ls, B,
                            g_logits_d_.data(), grads, g_y_.data() + static_cast<std::size_t>(T - ls) * slot, s_);
    const bool need_gx = cfg.C_e > 0;
    if (need_gx) g_x_.resize(xt_.size());
    float* gx = need_gx ? g_x_.data() : nullptr;
    begin_backward();
    if (!segmented) {
        segment_backward(0, grads, gx);
    } else {
        for (int s = stretches - 1; s >= 0; --s) {
            const int s0 = s * K, len = std::min(K, T - s0);
            forward_stretch(s0, len, checkpoints_[s]);
            segment_backward(s0, grads, gx);
        }
    }
    if (need_gx)
        launch_embedding_backward(gx, tokens_.data(), has_keep_ ? keep_.data() : nullptr,
                                  static_cast<std::int64_t>(T) * B, d.C, grads + net_.offsets().embedding, s_);
    return st;
}

std::vector<float> CudaLearner::model_input() const {
    std::vector<float> xt;
    xt_.to_host(xt, s_);
    return sim::batch_major_input(xt, T_, B_, net_.dims().C);
}

sim::StateTrace CudaLearner::state_trace() const {
    sim::StateTrace s;
    s.T = tape_.T;
    s.B = tape_.B;
    s.b_stride = tape_.b_stride;
    s.m_stride = tape_.m_stride;
    s.y_stride = tape_.y_stride;
    const std::size_t slots = static_cast<std::size_t>(tape_.T) + 1;
    tape_.b.to_host(s.b, s_, slots * tape_.b_stride);
    tape_.m.to_host(s.m, s_, slots * tape_.m_stride);
    tape_.v.to_host(s.v, s_, slots * tape_.y_stride);
    tape_.y.to_host(s.y, s_, slots * tape_.y_stride);
    return s;
}

}  // namespace elm::gpu
