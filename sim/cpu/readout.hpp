// Linear readout logits_t = W_o y_t + b_o (spec section 3) over a range of steps, and its backward.
// Parameter gradients accumulate (+=); activation gradients overwrite (=).
// Outputs y are read from consecutive slots [steps][N][B] (a tape's y, or the y-only record that
// recomputation keeps).
//
// The readout does not depend on the recurrence, so it runs over all the steps of a window at once, as
// matrix products (sim/cpu/small_gemm.hpp): the forward is one [B x N] x [N x n_out] product per step
// against W_o^T packed once per parameter version (ForwardWorkspace::prepare); the W_o gradient is one
// product over every (step, sample) row of the window, and dL/dy one product of the same rows with
// W_o. Every logit sums b_o[o] + W_o[o][i] y[i] for i ascending by the unfused rule (multiply, then
// add: the same floats on every machine, and those of the plain loop this replaced); every gradient
// element sums its terms in (step, sample) order by the fused rule of the process's kernels. Neither
// depends on the thread count, the window's length or how the work is split.
#pragma once

#include "elmsim/models/network.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/forward.hpp"
#include "elmsim/sim/cpu/tape.hpp"

namespace elm::sim::cpu {

// logits [steps][B][n_out] from y [steps][N][B]. Prepares `ws` if it is not prepared.
template <class Real>
void readout_forward(const models::Network<Real>& net, ForwardWorkspace<Real>& ws, const Real* y, int steps, int B,
                     Real* logits, Executor& ex);

// From g_logits [steps][B][n_out] and the same y: grads (W_o, b_o) += ..., g_y [steps][N][B] = W_o^T g_logits.
// `scratch` holds the window's outputs by row (steps B x N floats); reused between calls.
template <class Real>
void readout_backward(const models::Network<Real>& net, const Real* y, int steps, int B, const Real* g_logits,
                      Real* grads, Real* g_y, std::vector<Real>& scratch, Executor& ex);

}  // namespace elm::sim::cpu
