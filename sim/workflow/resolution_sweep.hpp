// Accuracy per time base (`elmsim resolutions`): one trained model simulated on the model's own
// clock and event-driven at each of a list of resolutions — the table a user needs before deploying a
// network on a sensor or chip that delivers events at its own resolution. Each row is exactly a
// `simulate` run (workflow::Simulation, recording nothing): the clock row is `simulate --mode clock`,
// the row of resolution r is `simulate --mode event --resolution-ms r --max-dt-ms M` with M the
// request's max_dt_ms, else the larger of r and the model's default (its dt, or an event-trained
// model's own max_dt).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "elmsim/sim/workflow/simulation.hpp"

namespace elm::workflow {

struct ResolutionSweepRequest {
    SimulationRequest base;            // model, data, samples, batch, threads, backend (mode, resolution, max_dt ignored)
    std::vector<double> resolutions_ms = {0.25, 0.5, 1.0, 2.0, 5.0, 20.0};
    std::optional<double> max_dt_ms;   // every event row's max_dt (each must be >= its resolution)
    bool clock = true;                 // a row on the model's clock first
};

struct ResolutionRow {
    TimeMode mode = TimeMode::clock;
    double resolution_ms = 0.0;  // event rows; the clock row: the model's dt
    double max_dt_ms = 0.0;      // event rows; the clock row: the model's dt
    SimulationResult result;
};

// Rows in order: the clock (when asked), then the resolutions as given. InputError / ParameterError
// ("resolution_ms", "max_dt_ms", and those of Simulation) before any row runs when a row would fail;
// `on_row` (may be empty) sees each row as it finishes.
std::vector<ResolutionRow> sweep_resolutions(const ResolutionSweepRequest& request,
                                             const std::function<void(const ResolutionRow&)>& on_row = {});

}  // namespace elm::workflow
