// `elmsim resolutions`: a model's accuracy (or bpc) on its clock and event-driven at a list of
// resolutions (workflow::sweep_resolutions), as a table and optionally as JSON for the plotting tool.
#include <cstdio>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/sim/workflow/resolution_sweep.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"

namespace elm::tools {

namespace {

struct ResolutionArgs {
    workflow::ResolutionSweepRequest request;
    std::vector<double> ms;
    std::optional<double> max_dt_ms;
    std::string samples, json, memory_gain, memory_input;
    bool no_clock = false;
};

std::string time_base(const workflow::ResolutionRow& r) {
    return r.mode == workflow::TimeMode::clock ? fmt::format("clock {:g} ms", r.resolution_ms)
                                               : fmt::format("event {:g} ms", r.resolution_ms);
}

nlohmann::json row_json(const workflow::ResolutionRow& r) {
    const auto& res = r.result;
    nlohmann::json j = {{"time_base", time_base(r)},
                        {"mode", workflow::to_string(r.mode)},
                        {"resolution_ms", r.resolution_ms},
                        {"max_dt_ms", r.max_dt_ms},
                        {"loss", res.stats.loss()},
                        {"samples", res.samples},
                        {"updates", res.updates},
                        {"wall_seconds", res.wall_seconds}};
    if (res.bytes) {
        j["bpc"] = res.stats.bpc();
        j["next_byte_accuracy"] = res.stats.accuracy();
    } else {
        j["accuracy"] = res.stats.accuracy();
    }
    return j;
}

void run_resolutions(ResolutionArgs& a) {
    auto& r = a.request;
    if (!a.ms.empty()) r.resolutions_ms = a.ms;
    r.max_dt_ms = a.max_dt_ms;
    r.clock = !a.no_clock;
    const SampleRange range = parse_sample_range(a.samples);
    r.base.first = range.first;
    r.base.end = range.end;
    r.base.created_by = created_by();
    if (!a.memory_gain.empty())
        r.base.memory_gain = with_flag_names({{"memory_gain", "--memory-gain"}},
                                             [&] { return models::memory_gain_from_string(a.memory_gain); });
    if (!a.memory_input.empty())
        r.base.memory_input = with_flag_names({{"memory_input", "--memory-input"}},
                                              [&] { return models::memory_input_from_string(a.memory_input); });
    if (!a.json.empty()) io::ensure_writable_dir(a.json);  // before hours of simulation
    const FlagNames flags = {{"samples", "--samples"},     {"resolution_ms", "--ms"}, {"max_dt_ms", "--max-dt-ms"},
                             {"threads", "--threads"},     {"backend", "--backend"},  {"batch", "--batch"}};
    bool header = false;
    nlohmann::json rows = nlohmann::json::array();
    with_flag_names(flags, [&] {
        workflow::sweep_resolutions(r, [&](const workflow::ResolutionRow& row) {
            const bool bytes = row.result.bytes;
            if (!header) {
                fmt::print("{:<16} {:>10} {:>10} {:>12} {:>9} {:>8}\n", "time base", "max_dt ms", bytes ? "bpc" : "accuracy",
                           "updates", "loss", "wall s");
                header = true;
            }
            fmt::print("{:<16} {:>10g} {:>10.4f} {:>12} {:>9.4f} {:>8.2f}\n", time_base(row), row.max_dt_ms,
                       bytes ? row.result.stats.bpc() : row.result.stats.accuracy(), row.result.updates,
                       row.result.stats.loss(), row.result.wall_seconds);
            std::fflush(stdout);
            rows.push_back(row_json(row));
        });
    });
    if (a.json.empty()) return;
    io::AtomicOutput out(a.json);
    {
        std::ofstream f(out.tmp_path());
        f << nlohmann::json{{"model", r.base.model_path}, {"data", r.base.data_path}, {"rows", rows}}.dump(1) << "\n";
        if (!f.flush()) throw InputError(fmt::format("{}: cannot write", a.json));
    }
    out.commit();
    fmt::print("table: {}\n", a.json);
}

}  // namespace

void register_resolutions(CLI::App& app) {
    auto a = std::make_shared<ResolutionArgs>();
    auto& r = a->request.base;
    auto* cmd = app.add_subcommand("resolutions",
                                   "A model's accuracy on its clock and event-driven at each of a list of resolutions");
    cmd->add_option("--model", r.model_path, "Model checkpoint (HDF5)")->required();
    cmd->add_option("--data", r.data_path, "SHD-format file (or a byte file for a byte model)")->required();
    cmd->add_option("--ms", a->ms, "Resolutions in ms, comma-separated (default 0.25,0.5,1,2,5,20)")->delimiter(',');
    cmd->add_option("--max-dt-ms", a->max_dt_ms,
                    "Longest step between updates of every event row (default: the larger of its resolution and the "
                    "model's dt, or an event-trained model's own max_dt)");
    cmd->add_flag("--no-clock", a->no_clock, "No row on the model's clock");
    cmd->add_option("--memory-gain", a->memory_gain,
                    "Gain of the memory drive off the clock step: the model's (default), lambda_decay or rate");
    cmd->add_option("--memory-input", a->memory_input,
                    "How the MLP reads the memory off the clock step: the model's (default), step_decay or "
                    "clock_decay");
    cmd->add_option("--samples", a->samples, "Half-open range a:b of samples (pairs for SHD-Adding, bytes for text)");
    cmd->add_option("--batch", r.batch, "Spike samples simulated together (default 16; the floats do not depend on it)");
    cmd->add_option("--json", a->json, "Also write the table as JSON (tools/elmsim_plot.py resolutions reads it)");
    add_engine_options(*cmd, r.backend, r.threads);
    cmd->callback([a] { run_resolutions(*a); });
}

}  // namespace elm::tools
