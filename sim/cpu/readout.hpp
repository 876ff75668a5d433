// Linear readout logits_t = W_o y_t + b_o (spec section 3) over a range of steps, and its backward.
// Parameter gradients accumulate (+=); activation gradients overwrite (=).
// Outputs y are read from consecutive slots [steps][N][B] (a tape's y, or the y-only record that
// recomputation keeps).
#pragma once

#include "elmsim/models/network.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/tape.hpp"

namespace elm::sim::cpu {

// logits [steps][B][n_out] from y [steps][N][B].
template <class Real>
void readout_forward(const models::Network<Real>& net, const Real* y, int steps, int B, Real* logits, Executor& ex);

// From g_logits [steps][B][n_out] and the same y: grads (W_o, b_o) += ..., g_y [steps][N][B] = W_o^T g_logits.
template <class Real>
void readout_backward(const models::Network<Real>& net, const Real* y, int steps, int B, const Real* g_logits,
                      Real* grads, Real* g_y, Executor& ex);

// Tape forms: steps t0 .. t0+steps-1 (step t reads tape slot t + 1).
template <class Real>
void readout_forward(const models::Network<Real>& net, const Tape<Real>& tape, int t0, int steps, Real* logits,
                     Executor& ex) {
    readout_forward(net, tape.y_at(t0 + 1), steps, tape.B, logits, ex);
}

}  // namespace elm::sim::cpu
