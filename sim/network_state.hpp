// NetworkState: what an ELM Network carries from one update (or one truncated-BPTT window, or one
// piece of a live stream) to the next, in the host layout every backend reads and writes: the batch
// inside the neuron ([N][B][...]), so that one neuron's state over the batch is contiguous. Backends
// keep their own copy where they compute (sim::Carry); this is the form checkpoints and tests see.
//
// StateTrace: the states of every update of one run (slot 0 = the state the run began in, slot t the
// state after update t), for tests and tools that inspect a batch update by update.
#pragma once

#include <cstddef>
#include <vector>

#include "elmsim/models/model_config.hpp"

namespace elm::sim {

// Floats of one state slot of B rows ([N][B][...] each) and of one step's MLP pre-activations: the
// sizes every backend's state, tape and carry are made of.
struct SlotSizes {
    std::size_t b = 0, m = 0, y = 0;  // branch traces, memory units (0 for LIF); v and y each
    std::size_t a = 0;                // MLP pre-activations of one step (0 for LIF)
};
SlotSizes slot_sizes(const models::ModelConfig& cfg, int batch);

template <class Real>
struct NetworkState {
    int B = 0;
    std::vector<Real> b;  // [N, B, n_b] branch traces (empty for LIF)
    std::vector<Real> m;  // [N, B, d_m] memory units  (empty for LIF)
    std::vector<Real> v;  // [N, B]      readout potential (ELM) or membrane (LIF)
    std::vector<Real> y;  // [N, B]      neuron outputs (analog value or 0/1 spike)

    void reset(const models::ModelConfig& cfg, int batch);  // zeros, sized for `batch`
};

struct StateTrace {
    int T = 0, B = 0;
    std::size_t b_stride = 0, m_stride = 0, y_stride = 0;  // floats per slot
    std::vector<float> b, m, v, y;                        // [T + 1][N][B][...]
};

}  // namespace elm::sim
