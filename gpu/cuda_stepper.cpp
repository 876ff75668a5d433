#include "elmsim/gpu/cuda_stepper.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "elmsim/gpu/cuda_error.hpp"
#include "elmsim/gpu/kernels.hpp"

namespace elm::gpu {

namespace {
// Decay slots: about 64 MiB of per-unit decays, 8 to 1024 of them (as the CPU stepper's cache).
int decay_slots(const NetDims& d) {
    const std::size_t per = 4 * sizeof(float) * static_cast<std::size_t>(d.N) * d.d_m + 64;
    return static_cast<int>(std::clamp<std::size_t>((std::size_t{64} << 20) / per, 8, 1024));
}
// Rows [0, n) of every neuron's block of rows (w floats each) between a device state of B rows and a
// host state of n: one strided copy per tensor.
void copy_row_blocks(float* dst, std::size_t dst_rows, const float* src, std::size_t src_rows, std::size_t n,
                     std::size_t w, int N, cudaMemcpyKind kind, cudaStream_t s) {
    if (!dst || !src || w == 0) return;
    ELM_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_rows * w * sizeof(float), src, src_rows * w * sizeof(float),
                                     n * w * sizeof(float), static_cast<std::size_t>(N), kind, s));
    count_memory_op();
}

void check_rows(const models::ModelConfig& cfg, const sim::NetworkState<float>& s, int B) {
    const sim::SlotSizes z = sim::slot_sizes(cfg, s.B);
    if (s.B < 1 || s.B > B || s.b.size() != z.b || s.m.size() != z.m || s.v.size() != z.y || s.y.size() != z.y)
        throw std::invalid_argument("Stepper: a state of " + std::to_string(s.B) + " rows for a stepper of " +
                                    std::to_string(B) + ", or of the wrong size");
}

}  // namespace

CudaStepper::CudaStepper(DeviceNetwork& net, cudaStream_t stream, int B, const std::uint64_t* params_version)
    : net_(net), s_(stream), B_(B), params_version_(params_version), seen_version_(*params_version) {
    if (B < 1) throw std::invalid_argument("CudaStepper: " + std::to_string(B) + " streams, expected >= 1");
    const NetDims& d = net.dims();
    const std::size_t slot = static_cast<std::size_t>(d.N) * B;
    const bool elm = d.kind != NeuronKind::lif;
    a_.resize(elm ? slot * d.ah : 0);
    dm_.resize(elm ? slot * d.d_m : 0);
    u_.resize(slot * d.in);
    h_.resize(slot * d.ah);
    x_.resize(static_cast<std::size_t>(d.C) * B);
    logits_.resize(static_cast<std::size_t>(B) * d.n_out);
    row_slot_.resize(static_cast<std::size_t>(B));
    decays_.reserve(net, std::max(decay_slots(d), B));  // room for every row's own dt in one update
    reset();
}

void CudaStepper::reset() {
    prev_.reset(net_.config(), B_, s_);
    next_.reset(net_.config(), B_, s_);
    readout();  // the readout of the zero state (b_o)
}

int CudaStepper::slot_for(double dt_ms) {
    const auto it = slot_of_dt_.find(dt_ms);
    if (it != slot_of_dt_.end()) return it->second;
    const int slot = slots_used_++;
    decays_.compute_slot(net_, slot, dt_ms, s_);
    slot_of_dt_.emplace(dt_ms, slot);
    ++decay_computations_;
    return slot;
}

void CudaStepper::readout() {
    launch_readout_forward(net_.dims(), net_.params(), net_.offsets(), prev_.y.data(), 1, B_, logits_.data(), s_);
    viewed_ = false;
}

void CudaStepper::advance(double dt_ms, const float* x) {
    dt_rows_.assign(static_cast<std::size_t>(B_), dt_ms);
    advance_rows(dt_rows_.data(), B_, x);
}

void CudaStepper::advance_rows(const double* dt_ms, int active, const float* x) {
    if (active < 0 || active > B_)
        throw std::invalid_argument("Stepper: " + std::to_string(active) + " updating rows of " + std::to_string(B_));
    for (int b = 0; b < active; ++b)
        if (!(dt_ms[b] > 0.0) || !std::isfinite(dt_ms[b]))
            throw std::invalid_argument("Stepper: an update of dt = " + std::to_string(dt_ms[b]) + " ms, expected > 0");
    if (*params_version_ != seen_version_) {  // the parameters changed: their decays are stale
        slot_of_dt_.clear();
        slots_used_ = 0;
        seen_version_ = *params_version_;
    }
    // Emptied only when an update could not find room for all its rows.
    if (slots_used_ + active > decays_.capacity()) {
        slot_of_dt_.clear();
        slots_used_ = 0;
    }
    host_slots_.assign(static_cast<std::size_t>(B_), 0);
    for (int b = 0; b < active; ++b)
        host_slots_[b] = b > 0 && dt_ms[b] == dt_ms[b - 1] ? host_slots_[b - 1] : slot_for(dt_ms[b]);
    row_slot_.upload(host_slots_, s_);
    const NetDims& d = net_.dims();
    x_.upload(x, static_cast<std::size_t>(d.C) * B_, s_);
    ForwardStep st;
    st.x = x_.data();
    st.prev = prev_.view();
    st.next = next_.view();
    st.a = a_.data();
    st.dm = dm_.data();
    st.u = u_.data();
    st.h = h_.data();
    st.row_slot = row_slot_.data();
    st.B = B_;
    st.active = active;
    launch_forward_step(d, net_.params(), net_.offsets(), net_.connectivity(), decays_.table(), st, s_);
    std::swap(prev_, next_);
    readout();
}

void CudaStepper::write_rows(const sim::NetworkState<float>& s) {
    const auto& cfg = net_.config();
    check_rows(cfg, s, B_);
    const auto n = static_cast<std::size_t>(s.B), B = static_cast<std::size_t>(B_);
    const auto kind = cudaMemcpyHostToDevice;
    copy_row_blocks(prev_.b.empty() ? nullptr : prev_.b.data(), B, s.b.data(), n, n, cfg.n_b, cfg.N, kind, s_);
    copy_row_blocks(prev_.m.empty() ? nullptr : prev_.m.data(), B, s.m.data(), n, n, cfg.d_m, cfg.N, kind, s_);
    copy_row_blocks(prev_.v.data(), B, s.v.data(), n, n, 1, cfg.N, kind, s_);
    copy_row_blocks(prev_.y.data(), B, s.y.data(), n, n, 1, cfg.N, kind, s_);
    wait_for(s_);  // the host rows may change once this returns
    viewed_ = false;
}

void CudaStepper::read_rows(sim::NetworkState<float>& s) const {
    const auto& cfg = net_.config();
    check_rows(cfg, s, B_);
    const auto n = static_cast<std::size_t>(s.B), B = static_cast<std::size_t>(B_);
    const auto kind = cudaMemcpyDeviceToHost;
    copy_row_blocks(s.b.empty() ? nullptr : s.b.data(), n, prev_.b.data(), B, n, cfg.n_b, cfg.N, kind, s_);
    copy_row_blocks(s.m.empty() ? nullptr : s.m.data(), n, prev_.m.data(), B, n, cfg.d_m, cfg.N, kind, s_);
    copy_row_blocks(s.v.data(), n, prev_.v.data(), B, n, 1, cfg.N, kind, s_);
    copy_row_blocks(s.y.data(), n, prev_.y.data(), B, n, 1, cfg.N, kind, s_);
    wait_for(s_);
}

sim::StepperView CudaStepper::view() const {
    if (!viewed_) {
        prev_.y.to_host(hy_, s_);
        prev_.v.to_host(hv_, s_);
        prev_.m.to_host(hm_, s_);
        prev_.b.to_host(hb_, s_);
        logits_.to_host(hlogits_, s_);
        viewed_ = true;
    }
    sim::StepperView v;
    v.B = B_;
    v.y = hy_.data();
    v.v = hv_.data();
    v.m = hm_.empty() ? nullptr : hm_.data();
    v.b = hb_.empty() ? nullptr : hb_.data();
    v.logits = hlogits_.data();
    return v;
}

}  // namespace elm::gpu
