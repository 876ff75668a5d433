// CudaLearner: the CUDA backend's batch (the GPU twin of sim/cpu/learner.hpp) — model input,
// forward over a device tape, readout, loss, and with gradients the backward pass — with
// parameters, gradients, tape and carried state resident on the GPU. Per batch the host moves the
// input in once (and the dropout mask, drawn on the host from the trainer's generator so both
// backends draw the same one), the logits out once and their gradient in once (the loss is the
// host's sim::compute_loss, shared with every backend); the time loop itself only enqueues kernels on
// one stream, with no host synchronisation per step.
#pragma once

#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

#include "elmsim/gpu/device_decays.hpp"
#include "elmsim/gpu/device_network.hpp"
#include "elmsim/gpu/device_state.hpp"
#include "elmsim/models/batch.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/network_state.hpp"
#include "elmsim/sim/run_options.hpp"

namespace elm::gpu {

// The tape on the device: states [T+1][N][B][...] in the host layout, pre-activations and drives
// [T][N][width][B].
struct DeviceTape {
    int T = 0, B = 0;
    std::size_t b_stride = 0, m_stride = 0, y_stride = 0, a_stride = 0;
    DeviceBuffer<float> b, m, v, y, a, dm;
    void resize(const models::ModelConfig& cfg, int steps, int batch);
    StateView slot(int t);
    std::size_t floats() const { return b.size() + m.size() + v.size() + y.size() + a.size() + dm.size(); }
};

class CudaLearner {
public:
    CudaLearner(DeviceNetwork& net, cudaStream_t stream);

    // Forward + loss; with `grads` (device, ParamLayout order) also backward, accumulating into it.
    // `carry` is the state to start from when it holds B rows, and receives the final state.
    sim::LossStats run(const models::Batch& batch, const sim::RunOptions& opt, DeviceState* carry, float* grads,
                       Rng* rng);

    const std::vector<float>& logits() const { return logits_; }  // [logit_steps][B][n_out], host
    int logit_steps() const { return logit_steps_; }
    std::vector<float> model_input() const;  // [T][B][C]
    // States of every update of the last run (the tape: with recomputation its first stretch).
    sim::StateTrace state_trace() const;
    std::size_t activation_bytes() const { return activation_bytes_; }

private:
    void build_input(const models::Batch& batch, double dropout, Rng* rng);
    void build_timing(const models::Batch& batch);
    const std::int32_t* rows_at(int t) const { return row_slot_.data() + (clock_ ? 0 : static_cast<std::size_t>(t) * B_); }
    int active_at(int t) const { return clock_ ? B_ : plan_active_[static_cast<std::size_t>(t)]; }
    void forward_stretch(int t0, int len, const DeviceState& start);
    void forward_untaped(int T, int t_record, DeviceState* carry);
    void begin_backward();
    void segment_backward(int t0, float* grads, float* g_x);

    DeviceNetwork& net_;
    cudaStream_t s_;
    DeviceDecays decays_;
    DeviceBuffer<std::int32_t> row_slot_;      // [B] (clock) or [T][B] decay slot per row and step
    std::vector<int> plan_active_;             // [T] event batches
    std::vector<unsigned char> uniform_;       // [T] event batches
    bool clock_ = true;
    int T_ = 0, B_ = 0;
    DeviceBuffer<float> x_raw_, keep_, xt_;    // input as given, dropout mask [T][B][C], model input [T][C][B]
    DeviceBuffer<std::uint8_t> tokens_;
    bool has_keep_ = false;
    DeviceTape tape_;
    DeviceState start_, ping_, pong_;
    std::vector<DeviceState> checkpoints_;
    DeviceBuffer<float> y_record_;             // [steps][N][B]
    DeviceBuffer<float> fwd_a_, fwd_dm_, fwd_u_, fwd_h_;  // forward scratch (untaped a/dm; u, h always)
    DeviceBuffer<float> logits_d_, g_logits_d_, g_y_, g_x_;
    DeviceBuffer<float> g_m_, g_b_, g_v_, g_yrec_, g_drive_;
    DeviceBuffer<float> s_gv_, s_c1_, s_c2_, s_cl_, s_ga2_, s_u_, s_h_, s_ga_, s_gh_;
    std::vector<float> logits_, g_logits_;
    int logit_steps_ = 0;
    bool soft_spikes_ = false;
    std::size_t activation_bytes_ = 0;
};

}  // namespace elm::gpu
