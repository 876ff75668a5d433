// When each row of a batch updates, and with which decays (spec elm-network.md section 5).
//  - Clock mode: every row of every step uses the decays of the model's dt.
//  - Event schedules (learning on the event schedule, batched simulation): row b of step t uses the
//    decays of its own dt, and only rows [0, active) update; the others are padding and hold their
//    state. Batches order their rows so that the updating ones form a prefix (longest schedule first,
//    padded at the start: models/batch.hpp), which lets every product of a step run on `active` rows
//    only — padding costs a copy of the state, not a step.
#pragma once

#include <cstddef>

#include "elmsim/sim/cpu/tape.hpp"

namespace elm::sim::cpu {

template <class Real>
struct StepTiming {
    const StepDecays<Real>* const* rows = nullptr;  // [B] decays of each row's update (rows >= active: unused)
    int active = 0;                                 // rows [0, active) update
    // Every updating row shares rows[0]'s decays (clock mode): gradients of the timescales then sum
    // over the rows first, as they always have.
    bool uniform = true;
    // Some updating row scales analog presynaptic values by a rate gain != 1 (the rate rule at dt !=
    // dt_ms).
    bool scaled = false;
};

// The timing of a step whose rows [0, active) update with decays rows[0..active): uniform and scaled
// as they follow from the rows.
template <class Real>
StepTiming<Real> make_step_timing(const StepDecays<Real>* const* rows, int active) {
    StepTiming<Real> s{rows, active, true, false};
    for (int b = 0; b < active; ++b) {
        s.uniform = s.uniform && rows[b] == rows[0];
        s.scaled = s.scaled || rows[b]->rate_gain != Real(1);
    }
    return s;
}

template <class Real>
struct BatchTiming {
    const StepDecays<Real>* const* rows = nullptr;  // [T][B], or one [B] shared by every step (stride 0)
    std::size_t step_stride = 0;
    const int* active = nullptr;       // [T] rows updating per step; null = all B
    const unsigned char* uniform = nullptr;  // [T]; null = every step uniform
    const unsigned char* scaled = nullptr;   // [T]; null = no step scaled
    int B = 0;
    int steps = 0;  // steps from this origin on: at(t) is defined for t < steps

    StepTiming<Real> at(int t) const {
        return {rows + static_cast<std::size_t>(t) * step_stride, active ? active[t] : B, uniform ? uniform[t] != 0 : true,
                scaled ? scaled[t] != 0 : false};
    }
    // The timing of steps t0, t0 + 1, ... (a recomputed stretch).
    BatchTiming from(int t0) const {
        BatchTiming s = *this;
        s.rows += static_cast<std::size_t>(t0) * step_stride;
        if (active) s.active += t0;
        if (uniform) s.uniform += t0;
        if (scaled) s.scaled += t0;
        s.steps -= t0;
        return s;
    }
};

}  // namespace elm::sim::cpu
