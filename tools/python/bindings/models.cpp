// elmsim.Config, elmsim.Model and the budget search in Python.
#include <cmath>

#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/split.hpp"
#include "elmsim/models/budget.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/param_count.hpp"
#include "elmsim/sim/workflow/model_file.hpp"
#include "python_model.hpp"

namespace elm::python {

namespace {

py::dict model_dict(const models::ModelConfig& c) {
    py::dict d;
    d["N"] = c.N;
    d["C"] = c.C;
    d["n_out"] = c.n_out;
    d["d_m"] = c.d_m;
    d["d_h"] = c.d_h;
    d["n_b"] = c.n_b;
    d["l"] = c.l;
    d["k_c"] = c.k_c;
    d["k_in"] = c.k_in();
    d["k_rec"] = c.k_rec();
    d["C_e"] = c.C_e;
    d["output_mode"] = models::to_string(c.output_mode);
    d["phi"] = models::to_string(c.phi);
    d["drive"] = models::to_string(c.drive);
    d["memory_gain"] = models::to_string(c.memory_gain);
    d["memory_input"] = models::to_string(c.memory_input);
    d["dt_ms"] = c.dt_ms;
    d["seed"] = c.seed;
    return d;
}

py::dict info_dict(const models::ModelConfig& c) {
    const auto pc = models::count_params(c);
    py::dict d = model_dict(c);
    d["k_e"] = pc.k_e;
    d["P"] = pc.P;
    py::dict parts;
    parts["synapses"] = static_cast<std::int64_t>(c.N) * pc.k_c;
    parts["neurons"] = static_cast<std::int64_t>(c.N) * pc.k_e;
    parts["mlp"] = pc.mlp;
    parts["output"] = pc.output;
    parts["tau"] = pc.tau;
    parts["readout"] = pc.readout;
    parts["embedding"] = pc.embedding;
    d["parts"] = parts;
    return d;
}

const models::TensorSpec& find_tensor(const models::Network<float>& net, const std::string& name) {
    std::string names;
    for (const auto* t : net.layout.tensors()) {
        if (t->name == name) return *t;
        names += (names.empty() ? "" : ", ") + t->name;
    }
    throw ParameterError("name", fmt::format("no tensor \"{}\" in this model (it has {})", name, names));
}

// A copy of one tensor as float32 of its spec shape.
py::array_t<float> tensor_array(const models::Network<float>& net, const models::TensorSpec& t) {
    py::array_t<float> a(std::vector<py::ssize_t>(t.shape.begin(), t.shape.end()));
    std::copy_n(net.params.begin() + static_cast<std::ptrdiff_t>(t.offset), t.size, a.mutable_data());
    return a;
}

}  // namespace

void bind_models(py::module_& m) {
    py::class_<io::ExperimentConfig>(m, "Config", R"(An experiment config: task (data), model (structure) and train (learning mode).

Make one with elmsim.load_config(path | TOML text | dict); the same strict checks as the command line
apply, and a bad key or value raises elmsim.InputError naming it.)")
        .def_static("load", &io::load_experiment_config, py::arg("path"), "Read and check a TOML config file.")
        .def_static("parse", &io::parse_experiment_config, py::arg("text"), py::arg("origin") = "<config>",
                    py::arg("base_dir") = "", "Check TOML text; relative data paths resolve against base_dir.")
        .def_property_readonly("text", [](const io::ExperimentConfig& c) { return c.toml_text; }, "The TOML text, as saved in checkpoints.")
        .def_property_readonly("origin", [](const io::ExperimentConfig& c) { return c.origin; })
        .def_property_readonly("task", [](const io::ExperimentConfig& c) { return io::to_string(c.task.kind); },
                               "shd, shd-adding or bytes.")
        .def_property_readonly("model", [](const io::ExperimentConfig& c) { return model_dict(c.model); },
                               "The model's structure as a dict (N, d_m, k_c, ...).")
        .def_property_readonly("time", [](const io::ExperimentConfig& c) { return models::to_string(c.train.time); },
                               "The training time base: clock, event or any.")
        .def("info", [](const io::ExperimentConfig& c) { return info_dict(c.model); },
             "N, k_e, k_c, P and the parameter count of each part, as `elmsim info` prints them.")
        .def(
            "with_samples",
            [](const io::ExperimentConfig& c, const std::string& split, const py::object& samples, const py::object& labels) {
                if (c.task.kind == io::TaskKind::bytes)
                    throw ParameterError("split", fmt::format("{}: a byte task reads a byte file, not spike samples", c.origin));
                const io::Split which = io::split_from_string(split);
                io::ExperimentConfig out = c;
                auto ds = std::make_shared<const io::SpikeDataset>(
                    spike_samples(samples, labels, c.model.C, split + " samples"));
                switch (which) {
                    case io::Split::train: out.task.train_samples = ds; break;
                    case io::Split::valid: out.task.valid_samples = ds; break;
                    case io::Split::test: out.task.test_samples = ds; break;
                }
                return out;
            },
            py::arg("split"), py::arg("samples"), py::arg("labels") = py::none(),
            "A copy that trains or evaluates on samples in memory instead of the file of `split`.")
        .def("__repr__", [](const io::ExperimentConfig& c) {
            return fmt::format("<elmsim.Config {} task={} N={} P={}>", c.origin, io::to_string(c.task.kind), c.model.N,
                               models::count_params(c.model).P);
        });

    py::class_<PythonModel>(m, "Model", R"(An ELM Network: its structure, connectivity and parameters.

Model(config) builds the seeded, untrained network of a config (exactly what `elmsim init` saves);
Model.load(path) reads a checkpoint. Parameters are numpy arrays by name (ParamLayout order, the shapes
of the spec): model.params, model.param(name), model.set_param(name, array).)")
        .def(py::init([](const io::ExperimentConfig& cfg) { return PythonModel{cfg, models::make_network<float>(cfg.model), ""}; }),
             py::arg("config"))
        .def_static(
            "load",
            [](const std::string& path) {
                auto lm = workflow::load_model(path);
                return PythonModel{lm.config, std::move(lm.checkpoint.net), path};
            },
            py::arg("path"), "Read a checkpoint (every attribute, shape and value checked).")
        .def(
            "save",
            [](const PythonModel& self, const std::string& path) {
                io::ensure_writable_dir(path);
                io::save_checkpoint(path, self.net, self.config.toml_text, nullptr, created_by());
            },
            py::arg("path"), "Write the model as a checkpoint (atomically; no training state).")
        .def_property_readonly("config", [](const PythonModel& self) { return self.config; })
        .def_property_readonly("path", [](const PythonModel& self) { return self.path; })
        .def("info", [](const PythonModel& self) { return info_dict(self.net.cfg); })
        .def_property_readonly("param_names", [](const PythonModel& self) {
            std::vector<std::string> names;
            for (const auto* t : self.net.layout.tensors()) names.push_back(t->name);
            return names;
        })
        .def(
            "param",
            [](const PythonModel& self, const std::string& name) { return tensor_array(self.net, find_tensor(self.net, name)); },
            py::arg("name"), "A copy of one tensor as float32 of its spec shape.")
        .def_property_readonly(
            "params",
            [](const PythonModel& self) {
                py::dict d;
                for (const auto* t : self.net.layout.tensors()) d[py::str(t->name)] = tensor_array(self.net, *t);
                return d;
            },
            "Every tensor by name (copies, float32), in checkpoint order.")
        .def(
            "set_param",
            [](PythonModel& self, const std::string& name, const py::array& value) {
                const auto& t = find_tensor(self.net, name);
                const char kind = value.dtype().kind();
                if (kind != 'f' && kind != 'i' && kind != 'u')
                    throw InputError(fmt::format("{}: expected numbers, got dtype {}", name, std::string(py::str(value.dtype()))));
                std::vector<py::ssize_t> want(t.shape.begin(), t.shape.end());
                std::vector<py::ssize_t> got(value.shape(), value.shape() + value.ndim());
                if (got != want)
                    throw InputError(fmt::format("{}: expected shape {}, got {}", name, fmt::join(want, " x "), fmt::join(got, " x ")));
                const auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
                for (py::ssize_t k = 0; k < f.size(); ++k)
                    if (!std::isfinite(f.data()[k]))
                        throw InputError(fmt::format("{}: expected finite values, found {} at flat index {}", name, f.data()[k], k));
                std::copy(f.data(), f.data() + f.size(), self.net.params.begin() + static_cast<std::ptrdiff_t>(t.offset));
            },
            py::arg("name"), py::arg("value"), "Replace one tensor (same shape; finite values; stored as float32).")
        .def_property_readonly("src", [](const PythonModel& self) {
            return int_array(self.net.src, {self.net.cfg.N, self.net.cfg.k_c});
        }, "The connectivity draw: presynaptic index of each synapse, [N, k_c] (inputs first, then neurons at C + j).")
        .def("__repr__", [](const PythonModel& self) {
            return fmt::format("<elmsim.Model N={} P={}{}>", self.net.cfg.N, models::count_params(self.net.cfg).P,
                               self.path.empty() ? "" : " from " + self.path);
        });

    m.def(
        "budget",
        [](const io::ExperimentConfig& base, double P, const std::string& axis, double tolerance, int points_per_octave) {
            if (!std::isfinite(P) || P <= 0 || P > 9.0e15 || P != std::floor(P))
                throw ParameterError("P", fmt::format("expected a whole number of parameters > 0, got {}", P));
            const auto list = models::configs_for_budget(base.model, static_cast<std::int64_t>(P), models::axis_from_string(axis),
                                                         tolerance, points_per_octave);
            py::list out;
            for (const auto& c : list) {
                py::dict d = info_dict(c.cfg);
                out.append(d);
            }
            return out;
        },
        py::arg("config"), py::arg("P"), py::arg("axis") = "N", py::arg("tolerance") = 0.05, py::arg("points_per_octave") = 2,
        "Configurations of `config`'s model whose P is within `tolerance` of P, along axis N, k_e or k_c.");
}

}  // namespace elm::python
