#include "elmsim/sim/workflow/resolution_sweep.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "elmsim/io/recorder.hpp"
#include "elmsim/models/error.hpp"

namespace elm::workflow {

std::vector<ResolutionRow> sweep_resolutions(const ResolutionSweepRequest& request,
                                             const std::function<void(const ResolutionRow&)>& on_row) {
    if (request.resolutions_ms.empty() && !request.clock)
        throw ParameterError("resolution_ms", "no time base to simulate: give resolutions or keep the clock row");
    if (request.resolutions_ms.size() > 64)
        throw ParameterError("resolution_ms", fmt::format("at most 64 resolutions, got {}", request.resolutions_ms.size()));
    for (const double r : request.resolutions_ms)
        if (!(std::isfinite(r) && r > 0.0))
            throw ParameterError("resolution_ms", fmt::format("expected resolutions > 0 ms, got {}", r));
    // The model and data are checked by loading them, and every row's grid before the first row runs;
    // each row's simulation is made when it runs (each holds the data).
    const LoadedModel model = load_model(request.base.model_path);
    const double dt = model.checkpoint.net.cfg.dt_ms;
    SimulationRequest clock = request.base;
    clock.mode = TimeMode::clock;
    clock.resolution_ms.reset();
    clock.max_dt_ms.reset();
    clock.record = io::TraceOptions{};
    std::vector<ResolutionRow> rows;
    std::vector<SimulationRequest> requests;
    if (request.clock) {
        rows.push_back(ResolutionRow{TimeMode::clock, dt, dt, {}});
        requests.push_back(clock);
    }
    for (const double r : request.resolutions_ms) {
        SimulationRequest event = clock;
        event.mode = TimeMode::event;
        event.resolution_ms = r;
        event.max_dt_ms = request.max_dt_ms.value_or(std::max(r, default_max_dt_ms(model)));
        models::make_event_grid(r, *event.max_dt_ms);  // throws for a max_dt below the resolution
        rows.push_back(ResolutionRow{TimeMode::event, r, *event.max_dt_ms, {}});
        requests.push_back(event);
    }
    std::optional<Simulation> first(std::in_place, requests.front());  // the data and range, checked now
    for (std::size_t k = 0; k < rows.size(); ++k) {
        std::optional<Simulation> later;
        Simulation& sim = k == 0 ? *first : later.emplace(requests[k]);
        io::DiscardingRecorder nothing;
        rows[k].result = sim.run(nothing);
        if (k == 0) first.reset();
        if (on_row) on_row(rows[k]);
    }
    return rows;
}

}  // namespace elm::workflow
