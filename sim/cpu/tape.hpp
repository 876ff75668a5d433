// Derived constants and tape of the CPU engine, kept apart from the state (sim/network_state.hpp) as
// NEST keeps its structs apart:
//  - StepDecays: constants derived from the parameters for one step's dt (spec section 2 decays);
//  - Tape: everything backward consumes, one slot per step, slot 0 = the state the window began in.
// Layouts put the batch inside the neuron ([N][B][...]) so that one neuron's step over the batch is
// a contiguous block (a small GEMM for the fast backend).
#pragma once

#include <cstddef>
#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/models/elm_math.hpp"
#include "elmsim/sim/cpu/huge_page_allocator.hpp"
#include "elmsim/sim/network_state.hpp"

namespace elm::sim::cpu {

template <class Real>
struct StepDecays {
    Real dt = 0;
    Real kappa_b = 0;              // exp(-dt / tau_b)
    Real kappa_v = 0;              // exp(-dt / tau_v) (LIF)
    // Factor on analog outputs as presynaptic values: g(dt) under the rate rule, exactly 1 on the clock
    // step and under the per-update rule (models/elm_math.hpp, rate_gain).
    Real rate_gain = 1;
    std::vector<Real> kappa_m;     // [N, d_m] exp(-dt / tau_m)
    std::vector<Real> kappa_l;     // [N, d_m] exp(-dt lambda / tau_m)
    std::vector<Real> dkm_draw;    // [N, d_m] d kappa_m / d tau_m_raw
    std::vector<Real> dkl_draw;    // [N, d_m] d kappa_l / d tau_m_raw
    // The MLP's memory input kappa_u m_{t-1} (models/elm_math.hpp, memory_unit_decays). When
    // `input_is_kappa_m` (memory input "step_decay", or the clock step) kappa_u equals kappa_m and its
    // gradient joins kappa_m's; otherwise kappa_u = kappa_m(dt_c) for every row of every step.
    bool input_is_kappa_m = true;
    std::vector<Real> kappa_u;     // [N, d_m]
    std::vector<Real> dku_draw;    // [N, d_m] d kappa_u / d tau_m_raw
};

// Fill `d` for step length dt (ms). Allocates only on the first call for a given network size.
template <class Real>
void compute_decays(const models::Network<Real>& net, double dt_ms, StepDecays<Real>& d);

// The tape's arrays: large, read once per step in the backward; on huge pages where the system has
// them (sim/cpu/huge_page_allocator.hpp).
template <class Real>
using TapeArray = std::vector<Real, HugePageAllocator<Real>>;

template <class Real>
struct Tape {
    int T = 0, B = 0;
    std::size_t b_stride = 0, m_stride = 0, y_stride = 0, a_stride = 0;  // per slot
    TapeArray<Real> b;   // [T+1][N][B][n_b]
    TapeArray<Real> m;   // [T+1][N][B][d_m]
    TapeArray<Real> v;   // [T+1][N][B]
    TapeArray<Real> y;   // [T+1][N][B]
    TapeArray<Real> a;   // [T][N][B][l][d_h] MLP pre-activations
    TapeArray<Real> dm;  // [T][N][B][d_m]   memory drive

    void resize(const models::ModelConfig& cfg, int steps, int batch);  // keeps capacity
    void load_state(const NetworkState<Real>& s);   // slot 0 := s
    void store_state(int slot, NetworkState<Real>& s) const;
    Real* y_at(int slot) { return y.data() + slot * y_stride; }
    const Real* y_at(int slot) const { return y.data() + slot * y_stride; }
};

}  // namespace elm::sim::cpu
