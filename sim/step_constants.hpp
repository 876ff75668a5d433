// The per-update constants every backend derives from a model and an update length dt, before any
// per-neuron decay (spec elm-network.md sections 2, 5, 6): the branch and LIF membrane decays and
// the rate-rule gain g(dt). Host code, shared by the CPU engine (sim/cpu/tape.cpp) and the CUDA
// backend (gpu/), so both start every update from the same floats.
#pragma once

#include "elmsim/models/elm_math.hpp"
#include "elmsim/models/model_config.hpp"

namespace elm::sim {

template <class Real>
struct StepScalars {
    Real dt = 0;
    Real kappa_b = 0;    // exp(-dt / tau_b)
    Real kappa_v = 0;    // exp(-dt / tau_v) (LIF)
    Real rate_gain = 1;  // g(dt) on analog presynaptic outputs under the rate rule; exactly 1 otherwise
};

template <class Real>
StepScalars<Real> step_scalars(const models::ModelConfig& cfg, double dt_ms) {
    StepScalars<Real> s;
    s.dt = static_cast<Real>(dt_ms);
    s.kappa_b = models::decay(s.dt, static_cast<Real>(cfg.tau_b_ms));
    s.kappa_v = models::decay(s.dt, static_cast<Real>(cfg.tau_v_ms));
    if (cfg.output_mode == models::OutputMode::analog && cfg.drive == models::DriveRule::rate && dt_ms != cfg.dt_ms)
        s.rate_gain = models::rate_gain(s.kappa_b, models::decay(static_cast<Real>(cfg.dt_ms), static_cast<Real>(cfg.tau_b_ms)));
    return s;
}

}  // namespace elm::sim
