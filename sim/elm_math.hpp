// Per-neuron maths of the ELM neuron and the LIF baseline (spec sections 2 and 6), written once for
// every backend: plain inline functions that nvcc compiles for host and device (ELM_HD), so the CPU
// engine, the CUDA backend and the tests all run the same formulas.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define ELM_HD __host__ __device__ __forceinline__
#else
#define ELM_HD inline
#endif

namespace elm::sim {

// dm = 1.7159 tanh(2/3 a): the bounded memory drive (LeCun's scaled tanh), |dm| <= 1.7159.
inline constexpr double kDmScale = 1.7159;
inline constexpr double kDmSlope = 2.0 / 3.0;

template <class Real>
ELM_HD Real decay(Real dt, Real tau) { return std::exp(-dt / tau); }

template <class Real>
ELM_HD Real sigmoid(Real p) { return Real(1) / (Real(1) + std::exp(-p)); }

// tau_m = tau_min + (tau_max - tau_min) sigmoid(p): bounded learned timescale.
template <class Real>
ELM_HD Real tau_from_raw(Real p, Real tau_min, Real tau_max) { return tau_min + (tau_max - tau_min) * sigmoid(p); }

// d tau / d p.
template <class Real>
ELM_HD Real dtau_draw(Real p, Real tau_min, Real tau_max) {
    const Real s = sigmoid(p);
    return (tau_max - tau_min) * s * (Real(1) - s);
}

template <class Real>
ELM_HD Real dm_activation(Real a) { return Real(kDmScale) * std::tanh(Real(kDmSlope) * a); }

// Derivative of dm_activation written through its output dm: 2/3 (1.7159 - dm^2 / 1.7159).
template <class Real>
ELM_HD Real dm_activation_grad_from_output(Real dm) {
    return Real(kDmSlope) * (Real(kDmScale) - dm * dm / Real(kDmScale));
}

// phi: ReLU or SiLU (x sigmoid(x)), and its derivative at the pre-activation.
template <class Real>
ELM_HD Real phi_forward(Real a, bool silu) {
    return silu ? a * sigmoid(a) : (a > Real(0) ? a : Real(0));
}

template <class Real>
ELM_HD Real phi_grad(Real a, bool silu) {
    if (!silu) return a > Real(0) ? Real(1) : Real(0);
    const Real s = sigmoid(a);
    return s * (Real(1) + a * (Real(1) - s));
}

// Heaviside with H(0) = 0 (spec: a spike needs v strictly above threshold).
template <class Real>
ELM_HD Real heaviside(Real x) { return x > Real(0) ? Real(1) : Real(0); }

// Surrogate derivative dH/dv = 1 / (1 + beta |v - theta|)^2.
template <class Real>
ELM_HD Real surrogate_grad(Real x, Real beta) {
    const Real d = Real(1) + beta * std::fabs(x);
    return Real(1) / (d * d);
}

// The smooth step whose derivative is exactly the surrogate: 1/2 + x / (1 + beta |x|). Used in place of
// H by gradient checks, so that finite differences see the function the backward differentiates.
template <class Real>
ELM_HD Real soft_spike(Real x, Real beta) { return Real(0.5) + x / (Real(1) + beta * std::fabs(x)); }

// Memory update m_t = kappa_m m_{t-1} + (1 - kappa_l) dm.
template <class Real>
ELM_HD Real memory_update(Real m_prev, Real dm, Real kappa_m, Real kappa_l) {
    return kappa_m * m_prev + (Real(1) - kappa_l) * dm;
}

// LIF membrane: v_t = kappa_v v_{t-1} (1 - s_{t-1}) + I_t (reset kept in the graph).
template <class Real>
ELM_HD Real lif_membrane(Real v_prev, Real s_prev, Real kappa_v, Real current) {
    return kappa_v * v_prev * (Real(1) - s_prev) + current;
}

}  // namespace elm::sim
