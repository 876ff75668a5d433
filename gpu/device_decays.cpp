#include "elmsim/gpu/device_decays.hpp"

#include "elmsim/gpu/kernels.hpp"
#include "elmsim/sim/step_constants.hpp"

namespace elm::gpu {

void DeviceDecays::size_for(const DeviceNetwork& net, int slots) {
    const std::size_t units = net.dims().kind == NeuronKind::lif ? 0 : static_cast<std::size_t>(net.dims().N) * net.dims().d_m;
    const std::size_t n = units * static_cast<std::size_t>(slots);
    for (auto* b : {&kappa_m_, &kappa_l_, &dkm_, &dkl_, &kappa_u_, &dku_}) b->resize(n);
    for (auto* b : {&kappa_b_, &kappa_v_, &gain_, &dt_}) b->resize(static_cast<std::size_t>(slots));
    capacity_ = slots;
}

void DeviceDecays::compute(const DeviceNetwork& net, const std::vector<double>& dt_ms, cudaStream_t s) {
    const int slots = static_cast<int>(dt_ms.size());
    size_for(net, slots);
    host_kb_.resize(dt_ms.size());
    host_kv_.resize(dt_ms.size());
    host_gain_.resize(dt_ms.size());
    host_dt_.resize(dt_ms.size());
    for (std::size_t k = 0; k < dt_ms.size(); ++k) {
        const sim::StepScalars<float> sc = sim::step_scalars<float>(net.config(), dt_ms[k]);
        host_kb_[k] = sc.kappa_b;
        host_kv_[k] = sc.kappa_v;
        host_gain_[k] = sc.rate_gain;
        host_dt_[k] = sc.dt;
    }
    kappa_b_.upload(host_kb_, s);
    kappa_v_.upload(host_kv_, s);
    gain_.upload(host_gain_, s);
    dt_.upload(host_dt_, s);
    if (net.dims().kind != NeuronKind::lif)
        launch_unit_decays(net.dims(), net.params() + net.offsets().tau_m_raw, dt_.data(), slots, kappa_m_.data(),
                           kappa_l_.data(), dkm_.data(), dkl_.data(), kappa_u_.data(), dku_.data(), s);
}

void DeviceDecays::reserve(const DeviceNetwork& net, int slots) {
    if (slots != capacity_) size_for(net, slots);
}

void DeviceDecays::compute_slot(const DeviceNetwork& net, int slot, double dt_ms, cudaStream_t s) {
    const sim::StepScalars<float> sc = sim::step_scalars<float>(net.config(), dt_ms);
    const auto put = [&](DeviceBuffer<float>& b, float v) {
        ELM_CUDA_CHECK(cudaMemcpyAsync(b.data() + slot, &v, sizeof v, cudaMemcpyHostToDevice, s));
        count_memory_op();
    };
    put(kappa_b_, sc.kappa_b);
    put(kappa_v_, sc.kappa_v);
    put(gain_, sc.rate_gain);
    put(dt_, sc.dt);
    if (net.dims().kind == NeuronKind::lif) return;
    const std::size_t units = static_cast<std::size_t>(net.dims().N) * net.dims().d_m, off = units * slot;
    launch_unit_decays(net.dims(), net.params() + net.offsets().tau_m_raw, dt_.data() + slot, 1, kappa_m_.data() + off,
                       kappa_l_.data() + off, dkm_.data() + off, dkl_.data() + off, kappa_u_.data() + off,
                       dku_.data() + off, s);
}

DecayTable DeviceDecays::table() const {
    DecayTable t;
    t.kappa_m = kappa_m_.data();
    t.kappa_l = kappa_l_.data();
    t.dkm_draw = dkm_.data();
    t.dkl_draw = dkl_.data();
    t.kappa_u = kappa_u_.data();
    t.dku_draw = dku_.data();
    t.dt = dt_.data();
    t.kappa_b = kappa_b_.data();
    t.kappa_v = kappa_v_.data();
    t.rate_gain = gain_.data();
    return t;
}

}  // namespace elm::gpu
