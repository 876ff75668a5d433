// elmsim.simulate (traces as numpy, or the HDF5 trace), elmsim.read_trace and the spike-dataset files
// in Python.
#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "elmsim/io/memory_recorder.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/workflow/generation.hpp"
#include "elmsim/sim/workflow/simulation.hpp"
#include "python_model.hpp"

namespace elm::python {

namespace {

// The variables to record: a comma list ("y,m") or a sequence of names.
io::TraceOptions record_options(const py::object& variables, const py::object& neurons, std::int64_t decimate,
                                bool final_logits_only, int N) {
    io::TraceOptions o;
    o.y = false;
    std::vector<std::string> names;
    if (py::isinstance<py::str>(variables)) {
        const std::string text = variables.cast<std::string>();
        std::size_t start = 0;
        while (start <= text.size()) {
            const std::size_t comma = std::min(text.find(',', start), text.size());
            names.push_back(text.substr(start, comma - start));
            start = comma + 1;
        }
    } else {
        for (const auto& v : variables) names.push_back(py::str(v).cast<std::string>());
    }
    for (const auto& n : names)
        if (!io::set_trace_variable(o, n))
            throw ParameterError("record", fmt::format("expected variables among y, m, b, logits, spikes, got \"{}\"", n));
    if (!(o.y || o.m || o.b || o.logits || o.spikes))
        throw ParameterError("record", "expected at least one variable (y, m, b, logits, spikes)");
    if (decimate < 1) throw ParameterError("decimate", fmt::format("expected >= 1, got {}", decimate));
    o.decimate = decimate;
    o.final_logits_only = final_logits_only;
    if (!neurons.is_none()) {
        o.neurons = int32_vector(neurons, "neurons", 0, N - 1);
        if (o.neurons.empty()) throw ParameterError("neurons", "expected at least one neuron id (None: all)");
        std::sort(o.neurons.begin(), o.neurons.end());
        o.neurons.erase(std::unique(o.neurons.begin(), o.neurons.end()), o.neurons.end());
    }
    return o;
}

}  // namespace

void bind_simulation(py::module_& m) {
    m.def(
        "simulate",
        [](const std::string& model, const std::string& data, const py::object& samples, const py::object& labels,
           std::optional<std::string> mode, std::optional<double> resolution_ms, std::optional<double> max_dt_ms,
           std::optional<std::int64_t> first, std::optional<std::int64_t> end, int batch, const py::object& variables,
           const py::object& neurons, std::int64_t decimate, bool final_logits_only, const std::string& record,
           const std::string& trace, std::optional<std::int64_t> threads, const std::string& backend,
           std::optional<std::string> memory_gain, std::optional<std::string> memory_input) {
            workflow::SimulationRequest r;
            r.model_path = model;
            r.data_path = data;
            if (mode) r.mode = workflow::time_mode_from_string(*mode);
            r.resolution_ms = resolution_ms;
            r.max_dt_ms = max_dt_ms;
            if (memory_gain) r.memory_gain = models::memory_gain_from_string(*memory_gain);
            if (memory_input) r.memory_input = models::memory_input_from_string(*memory_input);
            r.first = first;
            r.end = end;
            r.batch = batch;
            r.threads = threads;
            r.backend = backend;
            r.created_by = created_by();
            if (batch < 1) throw ParameterError("batch", fmt::format("expected >= 1, got {}", batch));
            if (!samples.is_none()) {
                // The model's input channel count checks the samples: read it from the checkpoint first.
                const auto loaded = workflow::load_model(model);
                r.samples = std::make_shared<const io::SpikeDataset>(
                    spike_samples(samples, labels, loaded.checkpoint.net.cfg.C, "samples"));
            } else if (!labels.is_none()) {
                throw ParameterError("labels", "labels go with samples in memory (a file holds its own)");
            }
            auto recorder = io::make_recorder(record, trace);
            workflow::Simulation sim(r);
            sim.set_record(record_options(variables, neurons, decimate, final_logits_only, sim.model().checkpoint.net.cfg.N));
            workflow::SimulationResult result;
            {
                py::gil_scoped_release release;
                result = sim.run(*recorder);
            }
            py::dict d;
            d["stats"] = stats_to_python(result.stats, result.bytes);
            d["samples"] = result.samples;
            d["updates"] = result.updates;
            d["first"] = result.first;
            d["end"] = result.end;
            d["wall_seconds"] = result.wall_seconds;
            d["mode"] = workflow::to_string(sim.mode());
            d["notices"] = sim.notices();
            if (auto* memory = dynamic_cast<io::MemoryRecorder*>(recorder.get())) d["trace"] = trace_to_python(memory->take());
            if (record == "hdf5") d["trace_path"] = trace;
            return d;
        },
        py::arg("model"), py::arg("data") = "", py::arg("samples") = py::none(), py::arg("labels") = py::none(),
        py::arg("mode") = py::none(), py::arg("resolution_ms") = py::none(), py::arg("max_dt_ms") = py::none(),
        py::arg("first") = py::none(), py::arg("end") = py::none(), py::arg("batch") = 16, py::arg("variables") = "y",
        py::arg("neurons") = py::none(), py::arg("decimate") = 1, py::arg("final_logits_only") = false,
        py::arg("record") = "memory", py::arg("trace") = "", py::arg("threads") = py::none(),
        py::arg("backend") = "cpu", py::arg("memory_gain") = py::none(),
        py::arg("memory_input") = py::none());

    m.def(
        "generate",
        [](const std::string& model, const py::bytes& prompt, std::int64_t length, double temperature, std::uint64_t seed,
           std::optional<std::int64_t> threads, const std::string& backend) {
            workflow::GenerateRequest r;
            r.model_path = model;
            r.prompt = prompt.cast<std::string>();
            r.length = length;
            r.temperature = temperature;
            r.seed = seed;
            r.threads = threads;
            r.backend = backend;
            std::string out;
            {
                py::gil_scoped_release release;
                workflow::generate_text(r, [&out](std::string_view piece) { out.append(piece); });
            }
            return py::bytes(out);
        },
        py::arg("model"), py::arg("prompt") = py::bytes(""), py::arg("length") = 200, py::arg("temperature") = 0.8,
        py::arg("seed") = 1, py::arg("threads") = py::none(), py::arg("backend") = "cpu",
        "Text from a byte model, as `elmsim generate`: the prompt fed one byte per update, then `length` bytes "
        "drawn from softmax(logits / temperature) (0: the most likely byte), returned as bytes.");

    m.def("read_trace", [](const std::string& path) { return trace_to_python(io::read_trace(path)); }, py::arg("path"),
          "Load an elm-trace HDF5 file (checked against the format) as the dict simulate() returns under \"trace\".");

    m.def(
        "read_spike_dataset",
        [](const std::string& path, std::int64_t max_samples) {
            const auto ds = io::read_spike_dataset(path, max_samples);
            py::tuple t = samples_to_python(ds);
            return py::make_tuple(t[0], t[1], ds.num_channels);
        },
        py::arg("path"), py::arg("max_samples") = 0,
        "Read an SHD-format file: (samples, labels, num_channels); samples are (times_ms float64, channels int32) pairs.");
    m.def(
        "write_spike_dataset",
        [](const std::string& path, const py::object& samples, const py::object& labels, int num_channels) {
            io::SpikeDataset ds = spike_samples(samples, labels, num_channels, path);
            ds.path = path;
            ds.num_classes = std::max(ds.num_classes, 20);
            io::write_spike_dataset(path, ds);
        },
        py::arg("path"), py::arg("samples"), py::arg("labels") = py::none(), py::arg("num_channels") = 700,
        "Write samples in the SHD layout (times rounded to float16 seconds, as the real files store them).");
    m.def(
        "generate_shd",
        [](std::int64_t count, std::uint64_t seed) {
            const auto ds = io::generate_shd(count, seed);
            py::tuple t = samples_to_python(ds);
            return py::make_tuple(t[0], t[1], ds.num_channels);
        },
        py::arg("samples"), py::arg("seed") = 1,
        "Synthetic spoken-digit spikes, the samples `elmsim gen-shd` writes (before the file rounds times to float16):\n"
        "(samples, labels, num_channels).");
}

}  // namespace elm::python
