// Forward pass of the ELM Network (spec sections 2, 3, 6): one step over all neurons, and a
// sequence of steps recorded on a Tape. Works for any per-step dt through StepDecays, so clock mode
// (one StepDecays for all steps) and event mode (one per update) share this code.
#pragma once

#include <vector>

#include "models/network.hpp"
#include "sim/executor.hpp"
#include "sim/network_state.hpp"

namespace elm::sim {

// Scratch the forward step needs per neuron (u and hidden activations); allocated once.
template <class Real>
struct ForwardWorkspace {
    std::vector<Real> scratch;  // [N][mlp_in + l d_h]
    void resize(const models::ModelConfig& cfg);
};

// Pointers to one step's slots: *_prev are read (state at t-1), the rest written.
template <class Real>
struct StepSlots {
    const Real* b_prev;
    const Real* m_prev;
    const Real* v_prev;
    const Real* y_prev;
    Real* b;
    Real* m;
    Real* v;
    Real* y;
    Real* a;   // MLP pre-activations [N][B][l][d_h] (may point at scratch when not taping)
    Real* dm;  // [N][B][d_m]
};

// One update of every neuron. x_t is the step's input [B][C] (counts or impulses; C = input width).
template <class Real>
void network_step_forward(const models::Network<Real>& net, const StepDecays<Real>& dec, const Real* x_t, int B,
                          const StepSlots<Real>& s, ForwardWorkspace<Real>& ws, Executor& ex);

// Slots for step t (0-based) of a tape: prev = slot t, out = slot t + 1.
template <class Real>
StepSlots<Real> tape_slots(Tape<Real>& tape, int t);

// T steps of input x [T][B][C] from the state in tape slot 0; fills slots 1..T.
template <class Real>
void sequence_forward(const models::Network<Real>& net, const StepDecays<Real>& dec, const Real* x,
                      Tape<Real>& tape, ForwardWorkspace<Real>& ws, Executor& ex);

}  // namespace elm::sim
