// Exact backpropagation through time over the forward of sim/cpu/forward.hpp (spec section 7), with the
// surrogate derivative where spikes occur. Parameter gradients accumulate (+=) into a flat buffer in
// ParamLayout order; activation gradients overwrite (=).
//
// Determinism: each neuron's parameter gradients are summed by one task in a fixed order, and the
// gradient flowing into a presynaptic neuron or input is gathered through the fan-out table in
// ascending synapse order, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "elmsim/models/connectivity.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/step_timing.hpp"
#include "elmsim/sim/cpu/tape.hpp"

namespace elm::sim::cpu {

template <class Real>
struct BackwardWorkspace {
    models::FanOut fan_out;
    std::vector<Real> g_m;     // [N][B][d_m] dL/dm carried to the previous step
    std::vector<Real> g_b;     // [N][B][n_b] dL/db carried to the previous step
    std::vector<Real> g_v;     // [N][B]      dL/dv carried (LIF membrane; also the gather's rows for LIF)
    std::vector<Real> g_yrec;  // [N][B]      dL/dy of the current slot through recurrent synapses
    std::vector<Real> g_drive; // [N][n_b][B] dL/d(branch drive) of the step (ELM; LIF's is g_v)
    std::vector<std::int32_t> drive_row;  // per fan-out entry: the row of g_drive its synapse feeds
    std::vector<Real> g_x_rows;  // [C][B] dL/dx of one step, per input channel
    std::vector<Real> y_rate;    // [N][B] the step's presynaptic outputs under the rate rule
    std::vector<Real> scratch; // per-neuron temporaries
    int B = 0;

    void resize(const models::Network<Real>& net, int batch);  // builds the fan-out table once
};

// Backward over the whole tape. g_y_readout [T][N][B] is dL/dy_t from the readout; grads += dL/dθ.
// x is the input by channel, [T][C][B], as for the forward. When g_x is not null it receives dL/dx
// [T][B][C] (needed for the embedding). `timing` is the forward's: rows that held their state
// (padding before a sample's first update) take no part, and no gradient reaches a parameter from them.
template <class Real>
void sequence_backward(const models::Network<Real>& net, const BatchTiming<Real>& timing, const Real* x,
                       const Tape<Real>& tape, const Real* g_y_readout, Real* grads, Real* g_x,
                       BackwardWorkspace<Real>& ws, Executor& ex);

// The same in segments, for recomputation: begin_backward zeroes the carried gradients once, then
// segment_backward runs over one tape that covers a stretch of the sequence (x, g_y_readout and g_x
// point at that stretch's first step), last stretch first. The carries flow from one segment into the
// previous, so segments give exactly the floats of one whole-tape pass.
template <class Real>
void begin_backward(const models::Network<Real>& net, int B, BackwardWorkspace<Real>& ws);

template <class Real>
void segment_backward(const models::Network<Real>& net, const BatchTiming<Real>& timing, const Real* x,
                      const Tape<Real>& tape, const Real* g_y_readout, Real* grads, Real* g_x,
                      BackwardWorkspace<Real>& ws, Executor& ex);

}  // namespace elm::sim::cpu
