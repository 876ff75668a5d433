// Compile check: the per-neuron formulas (models/elm_math.hpp) and the optimizer updates
// (sim/optimizer_math.hpp) build as device code, so a CUDA backend can call exactly what the CPU
// engine calls. Built as an object library whenever CMake finds nvcc; it is not part of any backend.
#include "elmsim/models/elm_math.hpp"
#include "elmsim/sim/optimizer_math.hpp"

namespace elm::gpu_checks {

__global__ void every_formula(float* out, const float* in, int n) {
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const float x = in[i];
    float acc = models::dm_activation(x) + models::dm_activation_grad_from_output(x) + models::tanh_real(x);
    acc += models::branch_trace(0.5f, x, 1.0f) + models::branch_trace_grad_prev(x, 0.5f);
    acc += models::decayed_memory(0.9f, x) + models::decayed_memory_grad_prev(x, 0.9f) +
           models::decayed_memory_grad_kappa(x, 0.3f);
    acc += models::memory_update(x, 0.3f, 0.9f, 0.8f) + models::memory_update_grad_prev(x, 0.9f) +
           models::memory_update_grad_drive(x, 0.8f) + models::memory_update_grad_kappa_m(x, 0.2f) +
           models::memory_update_grad_kappa_l(x, 0.3f);
    const float wy[3] = {x, 1.0f, 2.0f}, m[3] = {1.0f, x, 0.5f};
    acc += models::unit_readout(wy, m, 3, 0.1f) + models::unit_readout_grad_weight(x, 0.5f) +
           models::unit_readout_grad_memory(x, 0.5f);
    acc += models::spike_output(x, 0.1f, 10.0f, false) + models::spike_output_grad(x, 0.2f, 0.1f, 10.0f);
    acc += models::lif_membrane(x, 1.0f, 0.8f, 0.4f) + models::lif_output(x, 10.0f, true) +
           models::lif_backward(x, 0.2f, 0.5f, 1.0f, 0.9f, 10.0f);
    acc += models::phi_forward(x, true) + models::phi_grad(x, false);
    const float tau = models::tau_from_raw(x, 0.0f, 1000.0f);
    acc += models::decay(2.0f, tau) + models::decay_grad_tau(0.9f, 2.0f, 5.0f, tau) + models::dtau_draw(x, 0.0f, 1000.0f) +
           models::tau_raw_grad(x, 0.1f, x, 0.2f);
    float p = x, m1 = 0.0f, m2 = 0.0f;
    const sim::AdamCoefficients c{0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 1.0f};
    sim::adam_update(p, m1, m2, x, c);
    sim::adamax_update(p, m1, m2, x, c);
    out[i] = acc + sim::sgd_update(p, x, 0.1f);
}

}  // namespace elm::gpu_checks
