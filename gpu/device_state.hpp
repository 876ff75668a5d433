// DeviceState: one NetworkState (sim/network_state.hpp) held on the GPU, in the same layout, so that a
// carry, a checkpoint's state and a tape slot move between host and device as four plain copies.
#pragma once

#include <cuda_runtime_api.h>

#include "elmsim/gpu/device_buffer.hpp"
#include "elmsim/gpu/device_model.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/sim/network_state.hpp"

namespace elm::gpu {

struct DeviceState {
    int B = 0;
    DeviceBuffer<float> b, m, v, y;

    // Sized for `batch` rows of cfg, all zeros.
    void reset(const models::ModelConfig& cfg, int batch, cudaStream_t s) {
        const sim::SlotSizes sz = sim::slot_sizes(cfg, batch);
        B = batch;
        b.resize(sz.b);
        m.resize(sz.m);
        v.resize(sz.y);
        y.resize(sz.y);
        for (auto* buf : {&b, &m, &v, &y}) buf->zero(s);
    }
    StateView view() {
        return StateView{b.empty() ? nullptr : b.data(), m.empty() ? nullptr : m.data(), v.data(), y.data()};
    }
    void copy_from(const DeviceState& o, cudaStream_t s) {
        B = o.B;
        DeviceBuffer<float>* mine[] = {&b, &m, &v, &y};
        const DeviceBuffer<float>* theirs[] = {&o.b, &o.m, &o.v, &o.y};
        for (int k = 0; k < 4; ++k) {
            mine[k]->resize(theirs[k]->size());
            copy_device(mine[k]->data(), theirs[k]->data(), theirs[k]->size(), s);
        }
    }
    // From / to `n`-float runs of a state slot elsewhere on the device (a tape's slot).
    void copy_from_view(const StateView& src, cudaStream_t s) {
        if (!b.empty()) copy_device(b.data(), src.b, b.size(), s);
        if (!m.empty()) copy_device(m.data(), src.m, m.size(), s);
        copy_device(v.data(), src.v, v.size(), s);
        copy_device(y.data(), src.y, y.size(), s);
    }
    void copy_to_view(const StateView& dst, cudaStream_t s) const {
        if (!b.empty()) copy_device(dst.b, b.data(), b.size(), s);
        if (!m.empty()) copy_device(dst.m, m.data(), m.size(), s);
        copy_device(dst.v, v.data(), v.size(), s);
        copy_device(dst.y, y.data(), y.size(), s);
    }
    sim::NetworkState<float> to_host(cudaStream_t s) const {
        sim::NetworkState<float> h;
        h.B = B;
        b.to_host(h.b, s);
        m.to_host(h.m, s);
        v.to_host(h.v, s);
        y.to_host(h.y, s);
        return h;
    }
    void from_host(const sim::NetworkState<float>& h, cudaStream_t s) {
        B = h.B;
        b.upload(h.b, s);
        m.upload(h.m, s);
        v.upload(h.v, s);
        y.upload(h.y, s);
    }
};

}  // namespace elm::gpu
