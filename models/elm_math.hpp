// Per-neuron maths of the ELM neuron and the LIF baseline (spec elm-network.md sections 2 and 6),
// forward AND backward, written once for every backend: small inline functions that nvcc compiles
// for host and device (ELM_HD), so the CPU engine (sim/cpu/), the CUDA backend (gpu/) and the tests
// all run the same formulas. A backend combines them (batched over neurons and samples, with its own
// GEMMs for the MLP layers) but never re-derives one.
//
// Floats: every function is a fixed sequence of operations, and the build turns off implicit fused
// multiply-adds (-ffp-contract=off on the host, --fmad=false for device code that must match). Where
// those operations are IEEE-exact (+, -, *, /, sqrt, comparisons — the float tanh included), two
// backends that call the same function on the same inputs get the same bits; std::exp (decays,
// sigmoid, SiLU) is the platform's (glibc's on the host, CUDA's on a GPU), within a few ulp of each
// other but not always equal.
//
// Forward of one neuron (section 2), per step of elapsed time dt:
//   b_t = branch_trace(kappa_b, b_{t-1}, drive)           u = [b_t, decayed_memory(kappa_u, m_{t-1})]
//   h = phi(W1 u + b1) ...;  dm = dm_activation(W2 h + b2)
//   m_t = memory_update(m_{t-1}, dm, kappa_m, kappa_l)    v_t = unit_readout(wy, m_t, d_m, c)
//   y_t = v_t (analog) | spike_output(v_t, theta, ...)     LIF: lif_membrane, lif_output (section 6)
// Backward partials carry the same names with a _grad suffix; "g" is always dL/d(output).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define ELM_HD __host__ __device__ __forceinline__
#else
#define ELM_HD inline
#endif

namespace elm::models {

// dm = 1.7159 tanh(2/3 a): the bounded memory drive (LeCun's scaled tanh), |dm| <= 1.7159.
inline constexpr double kDmScale = 1.7159;
inline constexpr double kDmSlope = 2.0 / 3.0;
// The LIF neuron fires when its membrane exceeds 1 (section 6: s_t = H(v_t - 1)).
inline constexpr double kLifThreshold = 1.0;

// ---- float tanh, one algorithm for a float and for a CPU vector of floats ------------------------
// tanh(x) = sign(x) (-expm1(-2|x|)) / (2 + expm1(-2|x|)), |x| clamped at 9 (tanh rounds to 1 there),
// expm1 in one pass: y = n ln2 + r with |r| <= ln2 / 2 (ln2 split in a high part with few mantissa
// bits and a low part, so n ln2_hi is exact), expm1(r) by its Taylor series to r^8 (truncation
// < 1e-9 relative), then expm1(y) = 2^n expm1(r) + (2^n - 1) with 2^n built in the exponent field.
// For |y| <= ln2 / 2, n = 0 and the result is the series itself, so small arguments keep their
// relative accuracy (no 1 - 1 cancellation). Accuracy: within 1.5e-7 absolute and 2.5 ulp of tanh
// (tests/test_vector_math.cpp). Plain IEEE operations only, so every CPU, GPU and lane width gives
// the same floats.
//
// FloatLanes<F> supplies the few operations that differ between a scalar float and a vector of them
// (splat, bit casts, truncation, select); sim/cpu/vector_math.hpp specialises it for the CPU's
// vectors and runs the very same tanh_lanes below.
template <class F>
struct FloatLanes;

template <>
struct FloatLanes<float> {
    using Int = std::int32_t;
    using Mask = bool;
    ELM_HD static float splat(float v) { return v; }
    ELM_HD static Int splat_int(Int v) { return v; }
    ELM_HD static Int truncate(float v) { return static_cast<Int>(v); }  // toward zero
    ELM_HD static float to_float(Int v) { return static_cast<float>(v); }
    ELM_HD static float select(Mask m, float if_true, float if_false) { return m ? if_true : if_false; }
    ELM_HD static Int bits(float v) {
#if defined(__CUDA_ARCH__)
        return __float_as_int(v);
#else
        Int i;
        std::memcpy(&i, &v, sizeof i);
        return i;
#endif
    }
    ELM_HD static float from_bits(Int i) {
#if defined(__CUDA_ARCH__)
        return __int_as_float(i);
#else
        float v;
        std::memcpy(&v, &i, sizeof v);
        return v;
#endif
    }
};

// expm1(y) for y in [-18, 0].
template <class F>
ELM_HD F expm1_nonpositive(F y) {
    using L = FloatLanes<F>;
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    const auto n = L::truncate(y * L::splat(log2e) - L::splat(0.5f));  // round(y / ln2) for y <= 0
    const F nf = L::to_float(n);
    const F r = (y - nf * L::splat(ln2_hi)) - nf * L::splat(ln2_lo);
    F q = L::splat(1.0f / 40320.0f);
    q = q * r + L::splat(1.0f / 5040.0f);
    q = q * r + L::splat(1.0f / 720.0f);
    q = q * r + L::splat(1.0f / 120.0f);
    q = q * r + L::splat(1.0f / 24.0f);
    q = q * r + L::splat(1.0f / 6.0f);
    q = q * r + L::splat(0.5f);
    q = q * r * r + r;
    const F scale = L::from_bits((n + L::splat_int(127)) << 23);
    return scale * q + (scale - L::splat(1.0f));
}

template <class F>
ELM_HD F tanh_lanes(F x) {
    using L = FloatLanes<F>;
    const auto sign = L::bits(x) & L::splat_int(INT32_MIN);
    F ax = L::from_bits(L::bits(x) & L::splat_int(INT32_MAX));
    const auto is_num = ax == ax;
    ax = L::select(is_num, ax, L::splat(0.0f));  // NaN: computed as 0, restored below
    ax = L::select(ax > L::splat(9.0f), L::splat(9.0f), ax);
    const F em = expm1_nonpositive(L::splat(-2.0f) * ax);
    const F t = -em / (L::splat(2.0f) + em);
    return L::select(is_num, L::from_bits(L::bits(t) | sign), x);
}

// float32 tanh of the memory drive (above); double uses the exact std::tanh (finite differences).
ELM_HD float tanh_real(float x) { return tanh_lanes(x); }
ELM_HD double tanh_real(double x) { return std::tanh(x); }

// ---- decays and timescales -------------------------------------------------------------------

// exp(-dt / tau): kappa_b, kappa_v, kappa_m (elapsed = dt) and kappa_l (elapsed = dt lambda).
template <class Real>
ELM_HD Real decay(Real elapsed, Real tau) { return std::exp(-elapsed / tau); }

// d exp(-dt rate / tau) / d tau = exp(-dt rate / tau) dt rate / tau^2, from the decay itself
// (kappa_m: rate 1; kappa_l: rate lambda).
template <class Real>
ELM_HD Real decay_grad_tau(Real kappa, Real dt, Real rate, Real tau) { return kappa * dt * rate / (tau * tau); }

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

// The decays of one memory unit for an update of length dt and their derivatives by its raw timescale
// p (tau_m = tau_from_raw(p)): kappa_m = exp(-dt / tau_m); kappa_l, whose complement 1 - kappa_l is
// the gain of the memory drive dm (memory_update below); and kappa_u, the factor of m_{t-1} in the MLP
// input (decayed_memory below).
//   memory gain "lambda_decay": kappa_l = exp(-dt lambda / tau_m) at every dt;
//   memory gain "rate", on a model whose clock step is dt_c: dm is a rate held over the update, so
//       1 - kappa_l = (1 - kappa_m(dt)) G,   G = (1 - kappa_l(dt_c)) / (1 - kappa_m(dt_c)),
//     the exact integral of tau_m m' = G dm - m over dt: a held dm brings m to G dm, the clock step's
//     steady state, on every schedule. On the clock step itself (dt == dt_c) it is lambda_decay,
//     computed as lambda_decay (the same floats).
//   memory input "step_decay": kappa_u = kappa_m(dt);
//   memory input "clock_decay": kappa_u = kappa_m(dt_c) at every dt, so the MLP reads the same function
//     of the state on every schedule; on the clock step it is kappa_m itself (the same floats).
// The rest of the step and its backward read these alone, so every rule shares every kernel.
template <class Real>
struct UnitDecays {
    Real kappa_m, kappa_l, dkm_draw, dkl_draw, kappa_u, dku_draw;
};

// Whether kappa_u is kappa_m (memory input "step_decay", or an update of one clock step): then its
// gradient joins kappa_m's, and the floats are those of a model that never had the choice.
template <class Real>
ELM_HD bool memory_input_is_kappa_m(Real dt, bool clock_input, Real clock_dt) {
    return !clock_input || dt == clock_dt;
}

template <class Real>
ELM_HD UnitDecays<Real> memory_unit_decays(Real p, Real dt, Real lambda, Real tau_min, Real tau_max, bool rate_gain,
                                           bool clock_input, Real clock_dt) {
    const Real tau = tau_from_raw(p, tau_min, tau_max);
    const Real dtau = dtau_draw(p, tau_min, tau_max);
    const Real km = decay(dt, tau);
    const Real dkm = decay_grad_tau(km, dt, Real(1), tau) * dtau;
    UnitDecays<Real> u{km, Real(0), dkm, Real(0), km, dkm};
    if (!memory_input_is_kappa_m(dt, clock_input, clock_dt)) {
        u.kappa_u = decay(clock_dt, tau);
        u.dku_draw = decay_grad_tau(u.kappa_u, clock_dt, Real(1), tau) * dtau;
    }
    if (!rate_gain || dt == clock_dt) {
        const Real kl = decay(dt * lambda, tau);
        u.kappa_l = kl;
        u.dkl_draw = decay_grad_tau(kl, dt, lambda, tau) * dtau;
        return u;
    }
    // G = (1 - kl_c) / (1 - km_c) and dG/dp; where 1 - km_c rounds to 0 (tau_m >> dt_c), G -> lambda.
    const Real km_c = decay(clock_dt, tau), kl_c = decay(clock_dt * lambda, tau);
    const Real q = Real(1) - km_c;
    Real G = lambda, dG = Real(0);
    if (q > Real(0)) {
        G = (Real(1) - kl_c) / q;
        const Real dkm_c = decay_grad_tau(km_c, clock_dt, Real(1), tau) * dtau;
        const Real dkl_c = decay_grad_tau(kl_c, clock_dt, lambda, tau) * dtau;
        dG = (-dkl_c * q + (Real(1) - kl_c) * dkm_c) / (q * q);
    }
    // kappa_l = 1 - (1 - km) G;  d kappa_l / dp = dkm G - (1 - km) dG.
    u.kappa_l = Real(1) - (Real(1) - km) * G;
    u.dkl_draw = dkm * G - (Real(1) - km) * dG;
    return u;
}

// dL/d p of one memory unit, from dL/d kappa_m and dL/d kappa_l and their derivatives by p.
template <class Real>
ELM_HD Real tau_raw_grad(Real g_kappa_m, Real dkappa_m_dp, Real g_kappa_l, Real dkappa_l_dp) {
    return g_kappa_m * dkappa_m_dp + g_kappa_l * dkappa_l_dp;
}

// dL/d p through kappa_u where it is the clock step's decay rather than kappa_m (memory_unit_decays).
template <class Real>
ELM_HD Real memory_input_tau_grad(Real g_kappa_u, Real dkappa_u_dp) { return g_kappa_u * dkappa_u_dp; }

// ---- branches and memory input ------------------------------------------------------------------

// The rate rule of spec section 5: an analog output held over an update of length dt drives a branch
// by w y g(dt), g(dt) = (1 - kappa_b(dt)) / (1 - kappa_b(dt_ms)) — the exact integral of a held input
// through the branch filter, normalised to 1 on a clock step (dt = dt_ms: x / x, exactly 1).
template <class Real>
ELM_HD Real rate_gain(Real kappa_b_dt, Real kappa_b_clock) { return (Real(1) - kappa_b_dt) / (Real(1) - kappa_b_clock); }

// b_t = kappa_b b_{t-1} + drive, drive = branch_sum(w z).
template <class Real>
ELM_HD Real branch_trace(Real kappa_b, Real b_prev, Real drive) { return kappa_b * b_prev + drive; }
// dL/db_{t-1} through b_t (dL/d drive is g itself).
template <class Real>
ELM_HD Real branch_trace_grad_prev(Real g, Real kappa_b) { return kappa_b * g; }

// The memory half of the MLP input: kappa_u m_{t-1} (kappa_u of memory_unit_decays), and its partials.
template <class Real>
ELM_HD Real decayed_memory(Real kappa_u, Real m_prev) { return kappa_u * m_prev; }
template <class Real>
ELM_HD Real decayed_memory_grad_prev(Real g, Real kappa_u) { return g * kappa_u; }
template <class Real>
ELM_HD Real decayed_memory_grad_kappa(Real g, Real m_prev) { return g * m_prev; }

// ---- MLP nonlinearities ------------------------------------------------------------------------

template <class Real>
ELM_HD Real dm_activation(Real a) { return Real(kDmScale) * tanh_real(Real(kDmSlope) * a); }

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

// ---- memory units ------------------------------------------------------------------------------

// m_t = kappa_m m_{t-1} + (1 - kappa_l) dm.
template <class Real>
ELM_HD Real memory_update(Real m_prev, Real dm, Real kappa_m, Real kappa_l) {
    return kappa_m * m_prev + (Real(1) - kappa_l) * dm;
}
// Its partials, g = dL/dm_t: by m_{t-1}, by dm, by kappa_m, by kappa_l.
template <class Real>
ELM_HD Real memory_update_grad_prev(Real g, Real kappa_m) { return g * kappa_m; }
template <class Real>
ELM_HD Real memory_update_grad_drive(Real g, Real kappa_l) { return g * (Real(1) - kappa_l); }
template <class Real>
ELM_HD Real memory_update_grad_kappa_m(Real g, Real m_prev) { return g * m_prev; }
template <class Real>
ELM_HD Real memory_update_grad_kappa_l(Real g, Real dm) { return -(g * dm); }

// v_t = wy . m_t + c, summed in ascending k.
template <class Real>
ELM_HD Real unit_readout(const Real* wy, const Real* m, int d_m, Real c) {
    Real v = c;
    for (int k = 0; k < d_m; ++k) v += wy[k] * m[k];
    return v;
}
// Its partials, g = dL/dv_t (dL/dc is g): by wy_k (m_k) and by m_k (wy_k).
template <class Real>
ELM_HD Real unit_readout_grad_weight(Real g, Real m) { return g * m; }
template <class Real>
ELM_HD Real unit_readout_grad_memory(Real g, Real wy) { return g * wy; }

// ---- spikes ------------------------------------------------------------------------------------

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

// y_t = H(v_t - theta) ("spike" output mode), or soft_spike for the gradient checks.
template <class Real>
ELM_HD Real spike_output(Real v, Real theta, Real beta, bool soft) {
    return soft ? soft_spike(v - theta, beta) : heaviside(v - theta);
}
// dL/dv from g = dL/dy through the surrogate.
template <class Real>
ELM_HD Real spike_output_grad(Real g, Real v, Real theta, Real beta) { return g * surrogate_grad(v - theta, beta); }

// ---- LIF baseline (section 6) ------------------------------------------------------------------

// v_t = kappa_v v_{t-1} (1 - s_{t-1}) + I_t (reset kept in the graph).
template <class Real>
ELM_HD Real lif_membrane(Real v_prev, Real s_prev, Real kappa_v, Real current) {
    return kappa_v * v_prev * (Real(1) - s_prev) + current;
}
// s_t = H(v_t - 1), or soft_spike for the gradient checks.
template <class Real>
ELM_HD Real lif_output(Real v, Real beta, bool soft) { return spike_output(v, Real(kLifThreshold), beta, soft); }

// dL/dv_t of step t from g_y = dL/ds_t (readout and recurrent synapses) and G = dL/dv_{t+1}: s_t reaches
// the loss directly and through the reset of v_{t+1} = kappa_v v_t (1 - s_t) + I_{t+1}; v_t through s_t
// (surrogate) and through the leak. kappa_v is the leak of update t + 1 (on an event schedule it need
// not be update t's).
template <class Real>
ELM_HD Real lif_backward(Real g_y, Real G, Real v, Real s, Real kappa_v, Real beta) {
    const Real g_s = g_y - G * kappa_v * v;
    return g_s * surrogate_grad(v - Real(kLifThreshold), beta) + G * kappa_v * (Real(1) - s);
}

}  // namespace elm::models
