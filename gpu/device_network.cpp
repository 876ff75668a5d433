#include "elmsim/gpu/device_network.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "elmsim/models/connectivity.hpp"

namespace elm::gpu {

using models::OutputMode;
using models::TensorId;

namespace {

NetDims dims_of(const models::ModelConfig& cfg) {
    NetDims d;
    d.N = cfg.N;
    d.C = cfg.input_width();
    d.n_out = cfg.n_out;
    d.d_m = cfg.d_m;
    d.d_h = cfg.d_h;
    d.n_b = cfg.n_b;
    d.l = cfg.l;
    d.k_c = cfg.k_c;
    d.in = cfg.mlp_in();
    d.ah = cfg.l * cfg.d_h;
    d.kind = cfg.output_mode == OutputMode::lif ? NeuronKind::lif
             : cfg.output_mode == OutputMode::spike ? NeuronKind::spike
                                                    : NeuronKind::analog;
    d.drives = d.kind == NeuronKind::lif ? 1 : cfg.n_b;
    d.per_drive = cfg.k_c / d.drives;
    d.silu = cfg.phi == models::Phi::silu ? 1 : 0;
    d.learn_tau = cfg.learn_tau_m ? 1 : 0;
    d.rate_memory_gain = cfg.memory_gain == models::MemoryGain::rate;
    d.clock_memory_input = cfg.memory_input == models::MemoryInput::clock_decay;
    d.clock_dt = static_cast<float>(cfg.dt_ms);
    d.theta = static_cast<float>(cfg.theta);
    d.beta = static_cast<float>(cfg.beta);
    d.lambda = static_cast<float>(cfg.lambda);
    d.tau_min = static_cast<float>(cfg.tau_min_ms);
    d.tau_max = static_cast<float>(cfg.tau_max_ms);
    return d;
}

ParamOffsets offsets_of(const models::ParamLayout& L) {
    ParamOffsets o;
    o.w_syn = L[TensorId::w_syn].offset;
    o.tau_m_raw = L[TensorId::tau_m_raw].offset;
    o.W1 = L[TensorId::W1].offset;
    o.b1 = L[TensorId::b1].offset;
    o.Wh = L[TensorId::Wh].offset;
    o.bh = L[TensorId::bh].offset;
    o.W2 = L[TensorId::W2].offset;
    o.b2 = L[TensorId::b2].offset;
    o.wy = L[TensorId::wy].offset;
    o.c = L[TensorId::c].offset;
    o.W_o = L[TensorId::W_o].offset;
    o.b_o = L[TensorId::b_o].offset;
    o.embedding = L[TensorId::embedding].offset;
    return o;
}

}  // namespace

DeviceNetwork::DeviceNetwork(const models::Network<float>& net, cudaStream_t s)
    : host_(net), dims_(dims_of(net.cfg)), offsets_(offsets_of(net.layout)) {
    const auto& cfg = net.cfg;
    params_.upload(net.params, s);
    std::vector<std::uint8_t> mask(net.params.size(), 0);
    for (const auto* t : net.layout.tensors())
        if (t->trainable) std::fill(mask.begin() + static_cast<std::ptrdiff_t>(t->offset),
                                    mask.begin() + static_cast<std::ptrdiff_t>(t->offset + t->size), std::uint8_t{1});
    trainable_.upload(mask, s);
    src_.upload(net.src, s);
    // Each drive's synapses in the CPU engine's order: ascending k (analog: the gather), or ascending
    // source (spike, LIF: the scatter delivers source by source).
    const int kc = cfg.k_c, per = dims_.per_drive;
    std::vector<std::int32_t> order(net.src.size());
    for (int i = 0; i < cfg.N; ++i) {
        std::int32_t* row = order.data() + static_cast<std::size_t>(i) * kc;
        std::iota(row, row + kc, 0);
        if (dims_.kind == NeuronKind::analog) continue;
        const std::int32_t* src = net.src.data() + static_cast<std::size_t>(i) * kc;
        for (int j = 0; j < dims_.drives; ++j)
            std::sort(row + j * per, row + (j + 1) * per, [&](std::int32_t a, std::int32_t b) { return src[a] < src[b]; });
    }
    drive_order_.upload(order, s);
    const models::FanOut fo = models::build_fan_out(cfg, net.src);
    fan_start_.upload(fo.start, s);
    fan_synapse_.upload(fo.synapse, s);
    std::vector<std::int32_t> drive_row(fo.synapse.size());
    for (std::size_t e = 0; e < drive_row.size(); ++e) {
        const int syn = fo.synapse[e];
        drive_row[e] = (syn / kc) * dims_.drives + (syn % kc) / per;
    }
    fan_drive_row_.upload(drive_row, s);
    wait_for(s);  // the host vectors above go out of scope
}

DeviceConnectivity DeviceNetwork::connectivity() const {
    DeviceConnectivity c;
    c.src = src_.data();
    c.drive_order = drive_order_.data();
    c.fan_start = fan_start_.data();
    c.fan_synapse = fan_synapse_.data();
    c.fan_drive_row = fan_drive_row_.data();
    return c;
}

}  // namespace elm::gpu
