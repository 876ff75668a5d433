// What the CUDA kernels see of a network: plain structs of sizes and device pointers, passed to each
// kernel by value (no host types, no virtuals), so gpu/*.cu include nothing of the host engine but
// the shared formulas. Layouts:
//  - parameters: one flat buffer in ParamLayout order (models/param_layout.hpp), offsets below;
//  - state slots: the host layout of sim/network_state.hpp, [N][B][n_b], [N][B][d_m], [N][B];
//  - the backend's own per-step temporaries (MLP pre-activations, memory drive, scratch) put the
//    batch innermost, [N][width][B], so that a warp's threads (consecutive rows b) read and write
//    consecutive addresses.
#pragma once

#include <cstddef>
#include <cstdint>

namespace elm::gpu {

enum class NeuronKind : int { analog = 0, spike = 1, lif = 2 };

struct NetDims {
    int N = 0;
    int C = 0;          // input width (C_e with an embedding)
    int n_out = 0;
    int d_m = 0, d_h = 0, n_b = 0, l = 0, k_c = 0;
    int in = 0;         // n_b + d_m
    int ah = 0;         // l d_h
    int drives = 0;     // branches of the synaptic drive: n_b (ELM) or 1 (LIF)
    int per_drive = 0;  // synapses per drive
    NeuronKind kind = NeuronKind::analog;
    int silu = 0;
    int learn_tau = 0;
    bool rate_memory_gain = false;  // memory gain "rate" (models::memory_unit_decays)
    bool clock_memory_input = false;  // memory input "clock_decay" (models::memory_unit_decays)
    float clock_dt = 0;             // the model's dt_ms, the step that memory gain and input refer to
    float theta = 0, beta = 0, lambda = 0, tau_min = 0, tau_max = 0;
};

struct ParamOffsets {
    std::size_t w_syn = 0, tau_m_raw = 0, W1 = 0, b1 = 0, Wh = 0, bh = 0, W2 = 0, b2 = 0, wy = 0, c = 0, W_o = 0,
                b_o = 0, embedding = 0;
};

// Connectivity (models/connectivity.hpp) on the device.
struct DeviceConnectivity {
    const std::int32_t* src = nullptr;          // [N][k_c]
    // [N][k_c]: for each drive, its synapses k in the order the CPU engine adds them — ascending k for
    // analog networks (the gather), ascending source for spiking ones (the scatter walks sources in
    // order) — so both backends sum a drive's terms in the same order.
    const std::int32_t* drive_order = nullptr;
    const std::int32_t* fan_start = nullptr;    // [C + N + 1]
    const std::int32_t* fan_synapse = nullptr;  // [N k_c] flat synapse indices, grouped by source
    const std::int32_t* fan_drive_row = nullptr;  // per fan-out entry: i drives + drive
};

// Decays of a set of update lengths ("slots"): per memory unit [slot][N d_m], per slot scalars.
struct DecayTable {
    const float* kappa_m = nullptr;
    const float* kappa_l = nullptr;
    const float* dkm_draw = nullptr;
    const float* dkl_draw = nullptr;
    const float* kappa_u = nullptr;    // the MLP's memory input factor
    const float* dku_draw = nullptr;
    const float* dt = nullptr;         // [slot] update length (ms)
    const float* kappa_b = nullptr;    // [slot]
    const float* kappa_v = nullptr;    // [slot]
    const float* rate_gain = nullptr;  // [slot]
};

// One state slot, host layout.
struct StateView {
    float* b = nullptr;  // [N][B][n_b] (null for LIF)
    float* m = nullptr;  // [N][B][d_m] (null for LIF)
    float* v = nullptr;  // [N][B]
    float* y = nullptr;  // [N][B]
};

// One update of the forward: rows [0, active) update with the decays of their slot, the others hold.
struct ForwardStep {
    const float* x = nullptr;  // [C][B] the update's model input by channel
    StateView prev, next;
    float* a = nullptr;        // [N][ah][B] MLP pre-activations (tape or scratch)
    float* dm = nullptr;       // [N][d_m][B] memory drive (tape or scratch)
    float* u = nullptr;        // [N][in][B] scratch: the MLP input
    float* h = nullptr;        // [N][ah][B] scratch: hidden activations
    const std::int32_t* row_slot = nullptr;  // [B] decay slot of each row
    int B = 0, active = 0;
    int soft_spikes = 0;
};

// One update of the backward (step t): the tape's slots t (prev) and t + 1 (next), the step's
// pre-activations and drives, the gradients carried between steps and the step's scratch.
struct BackwardStep {
    const float* x = nullptr;  // [C][B]
    StateView prev, next;
    const float* a = nullptr;   // [N][ah][B]
    const float* dm = nullptr;  // [N][d_m][B]
    const float* g_y_readout = nullptr;  // [N][B] dL/dy_t from the readout
    const std::int32_t* row_slot = nullptr;       // [B] this step's decay slots
    const std::int32_t* next_row_slot = nullptr;  // [B] step t + 1's (null at the last step)
    float* g_m = nullptr;     // [N][B][d_m] carried dL/dm
    float* g_b = nullptr;     // [N][B][n_b] carried dL/db
    float* g_v = nullptr;     // [N][B] LIF: carried dL/dv
    float* g_yrec = nullptr;  // [N][B] dL/dy_t through recurrent synapses (from step t + 1's gather)
    float* g_drive = nullptr;  // [N][n_b][B] out: dL/d(branch drive) (ELM)
    // scratch, batch innermost
    float* gv = nullptr;   // [N][B]
    float* c_km1 = nullptr;  // [N][d_m][B] dL/d kappa_m through the memory update
    float* c_km2 = nullptr;  // [N][d_m][B] dL/d kappa_u through the MLP input (kappa_m's where they agree)
    float* c_kl = nullptr;   // [N][d_m][B] dL/d kappa_l
    float* ga2 = nullptr;    // [N][d_m][B]
    float* u = nullptr;      // [N][in][B]
    float* h = nullptr;      // [N][ah][B]
    float* ga = nullptr;     // [N][ah][B]
    float* gh = nullptr;     // [N][d_h][B]
    int B = 0, active = 0;
    int uniform = 1;  // every updating row shares row 0's decays: timescale gradients sum over rows first
};

}  // namespace elm::gpu
