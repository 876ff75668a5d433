// elmsim.TrainingRun and elmsim.evaluate in Python: the engine works with the GIL released; Python
// callbacks see every step and evaluation; Ctrl-C stops after the current step with a checkpoint, as
// the command line does, and then raises KeyboardInterrupt.
#include <csignal>
#include <memory>

#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "elmsim/io/split.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/trainer.hpp"
#include "elmsim/sim/workflow/evaluate.hpp"
#include "elmsim/sim/workflow/training.hpp"
#include "python_model.hpp"

namespace elm::python {

namespace {

py::dict eval_to_python(const sim::EvalResult& r) {
    py::dict d = stats_to_python(r.stats, r.text);
    d["metric"] = r.metric();
    return d;
}

// Hands every step and evaluation to Python callbacks (with the GIL), and turns a pending
// KeyboardInterrupt (Python's SIGINT handler, run here) into the trainer's stop request.
class PythonObserver final : public sim::TrainObserver {
public:
    PythonObserver(py::object on_step, py::object on_eval) : on_step_(std::move(on_step)), on_eval_(std::move(on_eval)) {}

    void on_step(const sim::StepReport& r) override {
        py::gil_scoped_acquire gil;
        check_signals();
        if (on_step_.is_none()) return;
        py::dict d = stats_to_python(r.stats, r.text);
        d["step"] = r.step;
        d["last_step"] = r.last_step;
        d["epoch"] = r.epoch;
        d["lr"] = r.lr;
        d["grad_norm"] = r.grad_norm;
        if (call(on_step_, d).equal(py::str("stop"))) stop_ = true;
    }
    void on_eval(const sim::EvalReport& r) override {
        py::gil_scoped_acquire gil;
        if (on_eval_.is_none()) return;
        py::dict d = eval_to_python(r.result);
        d["step"] = r.step;
        call(on_eval_, d);
    }
    bool wants_stop() const override { return stop_; }
    // The KeyboardInterrupt that stopped the run, re-raised once the checkpoint is written.
    bool interrupted() const { return interrupted_; }

private:
    void check_signals() {
        if (interrupted_ || PyErr_CheckSignals() == 0) return;
        if (!PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) throw py::error_already_set();
        PyErr_Clear();
        interrupt();
    }
    void interrupt() {
        interrupted_ = true;
        sim::request_training_stop(SIGINT);
    }
    // A callback's exception ends the run with it, except Ctrl-C: Python raises KeyboardInterrupt in
    // whatever Python code runs when the signal comes, often a callback, and Ctrl-C stops the run
    // after this step with its checkpoint.
    py::object call(const py::object& f, const py::dict& d) {
        try {
            return f(d);
        } catch (py::error_already_set& e) {
            if (!e.matches(PyExc_KeyboardInterrupt)) throw;
            interrupt();
            return py::none();
        }
    }

    py::object on_step_, on_eval_;
    bool stop_ = false, interrupted_ = false;
};

struct PythonTrainingRun {
    std::unique_ptr<workflow::TrainingRun> run;
    std::unique_ptr<PythonObserver> observer;  // registered with the run for good: lives as long
    bool trained = false;
    bool running = false;  // run() or evaluate() is working without the GIL (another thread may call)
};

// Marks a run busy while the engine works without the GIL; declared before the release, so it is
// cleared after the GIL is back.
class Running {
public:
    explicit Running(PythonTrainingRun& run) : run_(run) {
        if (run_.running) throw InputError("TrainingRun: a call on this run is in progress (in a callback or another thread)");
        run_.running = true;
    }
    ~Running() { run_.running = false; }

private:
    PythonTrainingRun& run_;
};

py::dict result_to_python(const workflow::TrainResult& r) {
    py::dict d;
    d["model_path"] = r.model_path;
    d["metrics_path"] = r.metrics_path;
    d["step"] = r.step;
    d["final_eval"] = r.final_eval ? py::object(eval_to_python(*r.final_eval)) : py::object(py::none());
    d["stopped"] = r.stopped_by_signal;
    return d;
}

}  // namespace

void bind_training(py::module_& m) {
    py::class_<PythonTrainingRun>(m, "TrainingRun", R"(One training run, as `elmsim train` runs it.

The constructor checks and loads everything (config, data, an initial or resumed checkpoint, the
backend, the output paths) and trains nothing; run() trains. Checkpoints and the metrics log are
written as by the command line, so `elmsim train --resume` and elmsim.train(resume=...) continue each
other's runs bit for bit.)")
        .def(py::init([](const io::ExperimentConfig& cfg, const std::string& out, std::optional<std::int64_t> steps,
                         std::optional<std::int64_t> threads, const std::string& backend, const std::string& init,
                         const std::string& resume) {
                 workflow::TrainRequest r;
                 r.config = cfg;
                 r.out_path = out;
                 r.steps = steps;
                 r.threads = threads;
                 r.backend = backend;
                 r.init_path = init;
                 r.resume_path = resume;
                 r.created_by = created_by();
                 return PythonTrainingRun{std::make_unique<workflow::TrainingRun>(r), nullptr, false};
             }),
             py::arg("config"), py::arg("out") = "", py::arg("steps") = py::none(), py::arg("threads") = py::none(),
             py::arg("backend") = "cpu", py::arg("init") = "", py::arg("resume") = "")
        .def_property_readonly("first_step", [](const PythonTrainingRun& r) { return r.run->first_step(); })
        .def_property_readonly("last_step", [](const PythonTrainingRun& r) { return r.run->last_step(); })
        .def_property_readonly("model_path", [](const PythonTrainingRun& r) { return r.run->model_path(); })
        .def_property_readonly("metrics_path", [](const PythonTrainingRun& r) { return r.run->metrics_path(); })
        .def_property_readonly("backend", [](const PythonTrainingRun& r) { return r.run->backend().describe(); })
        .def_property_readonly("config", [](const PythonTrainingRun& r) { return r.run->config(); })
        .def(
            "run",
            [](PythonTrainingRun& self, py::object on_step, py::object on_eval) {
                if (self.running)
                    throw InputError("TrainingRun.run: a call on this run is in progress (in a callback or another thread)");
                if (self.trained)
                    throw InputError("TrainingRun.run: this run has trained already (make a new one, with resume= to continue)");
                self.trained = true;
                self.observer = std::make_unique<PythonObserver>(std::move(on_step), std::move(on_eval));
                PythonObserver& observer = *self.observer;
                self.run->add_observer(observer);
                workflow::TrainResult result;
                sim::request_training_stop(0);
                {
                    Running busy(self);
                    py::gil_scoped_release release;
                    result = self.run->run();
                }
                sim::request_training_stop(0);
                if (observer.interrupted()) {
                    PyErr_SetString(PyExc_KeyboardInterrupt,
                                    fmt::format("training stopped after step {}: checkpoint {} written; train again with "
                                                "resume=\"{}\" to continue", result.step, result.model_path, result.model_path)
                                        .c_str());
                    throw py::error_already_set();
                }
                return result_to_python(result);
            },
            py::arg("on_step") = py::none(), py::arg("on_eval") = py::none(),
            R"(Train the requested steps. on_step(dict) after every optimizer step (return "stop" to end the run
there, with the final evaluation and checkpoint); on_eval(dict) after every evaluation. Returns a dict:
model_path, metrics_path, step, final_eval, stopped. Ctrl-C stops after the current step, writes the
checkpoint and raises KeyboardInterrupt. A run can be trained once.)")
        .def(
            "evaluate",
            [](PythonTrainingRun& self, const std::string& split) {
                const io::Split s = io::split_from_string(split);
                sim::EvalResult r;
                {
                    Running busy(self);
                    py::gil_scoped_release release;
                    r = self.run->evaluate(s);
                }
                return eval_to_python(r);
            },
            py::arg("split") = "test", "Score the model as trained so far on one split of the task's data.");

    m.def(
        "evaluate",
        [](const std::string& model_path, const std::string& data, const std::string& split, std::optional<std::int64_t> threads,
           const std::string& backend) {
            workflow::EvalRequest r;
            r.model_path = model_path;
            r.data_path = data;
            r.split = io::split_from_string(split);
            r.threads = threads;
            r.backend = backend;
            sim::EvalResult e;
            {
                py::gil_scoped_release release;
                e = workflow::evaluate_model(r);
            }
            return eval_to_python(e);
        },
        py::arg("model"), py::arg("data"), py::arg("split") = "test", py::arg("threads") = py::none(), py::arg("backend") = "cpu",
        "Score a trained model on a dataset file, as `elmsim eval` does.");
}

}  // namespace elm::python
