// `elmsim simulate` and `elmsim generate`: flags -> workflow::Simulation (with the HDF5 trace writer
// as its recorder) and workflow::generate_text. Everything is validated before the trace file is
// created; the trace is committed only after the last sample, so a failed run leaves no trace and
// never touches an existing one.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/sim/workflow/generation.hpp"
#include "elmsim/sim/workflow/simulation.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/flag_errors.hpp"
#include "tools/cli/trace_selection.hpp"

namespace elm::tools {

namespace {

namespace fs = std::filesystem;

struct SimulateArgs {
    workflow::SimulationRequest request;
    std::string samples, mode, trace, record = "y", neurons = "all", drive, memory_gain, memory_input;
    std::int64_t decimate = 1;
    bool final_logits = false;
};

struct GenerateArgs {
    workflow::GenerateRequest request;
};

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec1, ec2;
    const auto pa = fs::weakly_canonical(a, ec1), pb = fs::weakly_canonical(b, ec2);
    return !ec1 && !ec2 && pa == pb;
}

void run_simulate(SimulateArgs& a) {
    auto& r = a.request;
    if (!a.mode.empty())
        r.mode = with_flag_names({{"mode", "--mode"}}, [&] { return workflow::time_mode_from_string(a.mode); });
    const SampleRange range = parse_sample_range(a.samples);
    r.first = range.first;
    r.end = range.end;
    if (!a.drive.empty())
        r.drive = with_flag_names({{"drive", "--drive"}}, [&] { return models::drive_rule_from_string(a.drive); });
    if (!a.memory_gain.empty())
        r.memory_gain = with_flag_names({{"memory_gain", "--memory-gain"}},
                                        [&] { return models::memory_gain_from_string(a.memory_gain); });
    if (!a.memory_input.empty())
        r.memory_input = with_flag_names({{"memory_input", "--memory-input"}},
                                         [&] { return models::memory_input_from_string(a.memory_input); });
    r.created_by = created_by();
    io::ensure_writable_dir(a.trace);  // before the model is loaded: a device, FIFO or directory is refused now
    const FlagNames flags = {{"samples", "--samples"},     {"resolution_ms", "--resolution-ms"},
                             {"max_dt_ms", "--max-dt-ms"}, {"record", "--record"},
                             {"threads", "--threads"},     {"backend", "--backend"},
                             {"batch", "--batch"}};
    workflow::Simulation sim = with_flag_names(flags, [&] { return workflow::Simulation(r); });
    for (const auto& note : sim.notices()) fmt::print(stderr, "elmsim: note: {}\n", note);
    // The neuron selection is parsed against the model's N, known once the model is loaded.
    io::TraceOptions record = parse_trace_options(a.record, a.neurons, a.decimate, sim.model().checkpoint.net.cfg.N);
    if (a.final_logits) {
        record.logits = true;
        record.final_logits_only = true;
    }
    with_flag_names(flags, [&] { sim.set_record(record); });
    if (same_file(a.trace, r.model_path) || (r.data_path != "-" && same_file(a.trace, r.data_path)))
        throw InputError(fmt::format("--trace {}: is the model or data file; choose another path", a.trace));
    io::TraceWriter writer(a.trace);
    const auto tot = sim.run(writer);

    const std::string mode = workflow::to_string(sim.mode());
    if (tot.bytes)
        fmt::print("simulate ({} mode): {} bytes, bpc {:.4f} over {} predicted bytes, next-byte accuracy {:.4f}\n",
                   mode, tot.end - tot.first, tot.stats.bpc(), tot.stats.count, tot.stats.accuracy());
    else
        fmt::print("simulate ({} mode): {} samples, accuracy {:.4f}, loss {:.4f}\n", mode, tot.samples,
                   tot.stats.accuracy(), tot.stats.loss());
    const double wall = tot.wall_seconds;
    fmt::print("updates {}  wall {:.3f} s  {:.0f} updates/s  {}\ntrace: {}\n", tot.updates, wall,
               wall > 0 ? static_cast<double>(tot.updates) / wall : 0.0, sim.backend().describe(), a.trace);
}

}  // namespace

void register_simulate(CLI::App& app) {
    auto a = std::make_shared<SimulateArgs>();
    auto& r = a->request;
    auto* cmd = app.add_subcommand("simulate", "Run a model sample by sample (clock or event mode) and record a trace");
    cmd->add_option("--model", r.model_path, "Model checkpoint (HDF5)")->required();
    cmd->add_option("--data", r.data_path, "SHD-format file, or for byte models a byte file or - (standard input)")
        ->required();
    cmd->add_option("--samples", a->samples, "Half-open range a:b of samples (pairs for SHD-Adding, bytes for text)");
    cmd->add_option("--mode", a->mode,
                    "clock (fixed dt) or event (updates only when needed); default: what the model was trained on");
    cmd->add_option("--batch", r.batch, "Spike samples simulated together (default 16; the floats do not depend on it)");
    cmd->add_option("--trace", a->trace, "Output trace (HDF5)")->required();
    cmd->add_option("--record", a->record, "Variables to record: comma list of y, m, b, logits, spikes (default y)");
    cmd->add_option("--neurons", a->neurons, "Neurons to record: all, ids and ranges, e.g. 0:64 or 3,5,9");
    cmd->add_option("--decimate", a->decimate, "Keep every K-th update in the trace");
    cmd->add_option("--resolution-ms", r.resolution_ms,
                    "Event mode: events closer than this merge (default: the model's training grid, else 0.1)");
    cmd->add_option("--max-dt-ms", r.max_dt_ms,
                    "Event mode: longest step between updates (default: the model's training grid, else its dt)");
    cmd->add_option("--drive", a->drive,
                    "How analog outputs drive their targets: rate (default) or per_update (the rule of models "
                    "written before the rate rule)");
    cmd->add_option("--memory-gain", a->memory_gain,
                    "Gain of the memory drive off the clock step: the model's (default), lambda_decay or rate (a "
                    "clock model's memory gain kept on every schedule; identical on the clock)");
    cmd->add_option("--memory-input", a->memory_input,
                    "How the MLP reads the memory off the clock step: the model's (default), step_decay or "
                    "clock_decay (the clock step's decay on every schedule; identical on the clock)");
    add_engine_options(*cmd, r.backend, r.threads);
    cmd->add_flag("--final-logits", a->final_logits, "Record only the final readout of each sample ([1, n_out])");
    cmd->callback([a] { run_simulate(*a); });
}

void register_generate(CLI::App& app) {
    auto a = std::make_shared<GenerateArgs>();
    auto& r = a->request;
    auto* cmd = app.add_subcommand("generate", "Sample text from a byte model (prompt, then one byte per update)");
    cmd->add_option("--model", r.model_path, "Byte-model checkpoint (HDF5)")->required();
    cmd->add_option("--prompt", r.prompt, "Text fed before sampling (default: none)");
    cmd->add_option("--length", r.length, "Bytes to generate (default 200)");
    cmd->add_option("--temperature", r.temperature, "Softmax temperature (0 = argmax; default 0.8)");
    cmd->add_option("--seed", r.seed, "Sampling seed (default 1)");
    add_engine_options(*cmd, r.backend, r.threads);
    cmd->callback([a] {
        with_flag_names({{"temperature", "--temperature"}, {"length", "--length"}, {"threads", "--threads"},
                         {"backend", "--backend"}},
                        [&] {
                            workflow::generate_text(a->request, [](std::string_view piece) {
                                std::fwrite(piece.data(), 1, piece.size(), stdout);
                            });
                        });
        std::fputc('\n', stdout);
        std::fflush(stdout);
    });
}

}  // namespace elm::tools
