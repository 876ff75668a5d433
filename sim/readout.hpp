// Linear readout logits_t = W_o y_t + b_o (spec section 3) over a range of tape steps, and its
// backward. Parameter gradients accumulate (+=); activation gradients overwrite (=).
#pragma once

#include "models/network.hpp"
#include "sim/executor.hpp"
#include "sim/network_state.hpp"

namespace elm::sim {

// logits [steps][B][n_out] for steps t0 .. t0+steps-1 (0-based step t reads tape slot t + 1).
template <class Real>
void readout_forward(const models::Network<Real>& net, const Tape<Real>& tape, int t0, int steps, Real* logits,
                     Executor& ex);

// From g_logits [steps][B][n_out]: grads (W_o, b_o) += ..., and g_y [T][N][B] = W_o^T g_logits at
// those steps (other steps are set to zero).
template <class Real>
void readout_backward(const models::Network<Real>& net, const Tape<Real>& tape, int t0, int steps,
                      const Real* g_logits, Real* grads, Real* g_y, Executor& ex);

}  // namespace elm::sim
