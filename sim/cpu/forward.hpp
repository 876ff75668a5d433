// Forward pass of the ELM Network (spec sections 2, 3, 6): one step over all neurons, and a
// sequence of steps recorded on a Tape. Works for any per-step dt through StepDecays, so clock mode
// (one StepDecays for all steps) and event mode (one per update) share this code.
#pragma once

#include <vector>

#include "elmsim/models/connectivity.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/step_timing.hpp"
#include "elmsim/sim/cpu/tape.hpp"

namespace elm::sim::cpu {

// What the forward step derives from the parameters once per parameter version, and its scratch:
//  - MLP weights transposed to [in][out] per neuron and packed in column panels, the layout the
//    step's GEMMs stream through (sim/cpu/small_gemm.hpp, gemm_nn_acc_packed);
//  - the fan-out table, for the event-driven drive of spiking networks (only synapses whose source
//    fired are touched);
//  - per-neuron scratch and the branch-drive buffer. Allocated once; nothing is allocated per step.
template <class Real>
struct ForwardWorkspace {
    std::vector<Real> W1t;      // [N] blocks of in x d_h, packed in column panels (pack_panels)
    std::vector<Real> Wht;      // [N][l-1] blocks of d_h x d_h (in x out), packed
    std::vector<Real> W2t;      // [N] blocks of d_h x d_m, packed
    std::vector<Real> Wot;      // W_o^T, N x n_out, packed (the readout, sim/cpu/readout.hpp)
    std::vector<Real> scratch;  // [N][B][mlp_in + l d_h]
    int batch = 0;              // B the scratch is sized for
    std::vector<Real> drive;    // [N][B][n_b] synaptic drive of the step (scatter path)
    std::vector<Real> y_rate;   // [N][B] y_{t-1} g(dt) of the step's rows (rate rule at dt != dt_ms)
    models::FanOut fan_out;
    bool prepared = false;
    // Spikes through soft_spike instead of H (finite-difference checks of the surrogate path only).
    bool soft_spikes = false;

    void resize(const models::ModelConfig& cfg);  // sizes scratch for B = 1, invalidates the derived weights
    // Re-derive the transposed weights from the current parameters. Call after every parameter
    // update; network_step_forward prepares an unprepared workspace itself.
    void prepare(const models::Network<Real>& net);
};

// Spiking networks (output "spike" and LIF) deliver inputs and recurrent spikes by scattering from
// the sources that are non-zero through the fan-out table; analog networks gather every synapse.
// Clock and event mode use the same rule, so they compute the same floats.
bool uses_event_drive(const models::ModelConfig& cfg);

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

// The presynaptic values of one step as one contiguous row of B values per synapse source: the
// step's input by channel ([C][B]) for sources s < C, y_{t-1} ([N][B]) for neurons. Both already have
// that layout, so nothing is copied; the gather (forward) and the synapse gradients (backward) read it.
template <class Real>
struct PresynapticRows {
    const Real* x;  // [C][B]
    const Real* y;  // [N][B]
    int C, B;
    const Real* row(int s) const {
        return s < C ? x + static_cast<std::size_t>(s) * B : y + static_cast<std::size_t>(s - C) * B;
    }
};

// One update of every neuron. x_t is the step's input by channel, [C][B] (counts or impulses; C = input
// width; for B = 1 simply the C values). Learner::run transposes a batch's [T][B][C] input once. Rows
// [0, timing.active) update with their own decays; the others hold their state.
template <class Real>
void network_step_forward(const models::Network<Real>& net, const StepTiming<Real>& timing, const Real* x_t, int B,
                          const StepSlots<Real>& s, ForwardWorkspace<Real>& ws, Executor& ex);

// The rows the synapses read for neuron sources: y_{t-1} itself, or y_{t-1} g(dt) per row when the
// step is scaled (the rate rule), written to `scratch` [N][B].
template <class Real>
const Real* presynaptic_outputs(const models::ModelConfig& cfg, const StepTiming<Real>& timing, const Real* y_prev,
                                int B, std::vector<Real>& scratch);

// Slots for step t (0-based) of a tape: prev = slot t, out = slot t + 1.
template <class Real>
StepSlots<Real> tape_slots(Tape<Real>& tape, int t);

// T steps of input x [T][C][B] from the state in tape slot 0; fills slots 1..T. Prepares `ws` if it
// is not prepared (after a parameter update the caller calls ws.prepare: Learner::run does, once).
template <class Real>
void sequence_forward(const models::Network<Real>& net, const BatchTiming<Real>& timing, const Real* x,
                      Tape<Real>& tape, ForwardWorkspace<Real>& ws, Executor& ex);

}  // namespace elm::sim::cpu
