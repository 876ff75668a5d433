// elmsim.Session in Python: one live stream through a trained model (sim/session.hpp), fed numpy
// arrays of event times and channels or bytes, with an optional in-memory recording of its updates
// (the recorder interface simulate() uses, so a session and simulate() compare trace to trace).
#include <fmt/format.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "elmsim/io/memory_recorder.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/workflow/evaluate.hpp"
#include "elmsim/sim/workflow/simulation.hpp"
#include "python_model.hpp"

namespace elm::python {

namespace {

class PythonSession {
public:
    PythonSession(const std::string& model, std::optional<std::string> mode, std::optional<double> resolution_ms,
                  std::optional<double> max_dt_ms, const py::object& variables, std::optional<std::int64_t> threads,
                  const std::string& backend)
        : model_(workflow::load_model(model)) {
        const auto& cfg = model_.config;
        bytes_ = cfg.task.kind == io::TaskKind::bytes;
        sim::SessionOptions so;
        so.event_mode = mode ? workflow::time_mode_from_string(*mode) == workflow::TimeMode::event
                             : cfg.train.time == models::TimeBase::event;
        if (!so.event_mode && (resolution_ms || max_dt_ms))
            throw ParameterError(resolution_ms ? "resolution_ms" : "max_dt_ms", "only event-mode sessions take it");
        so.resolution_ms = resolution_ms.value_or(workflow::default_resolution_ms(model_));
        so.max_dt_ms = max_dt_ms.value_or(workflow::default_max_dt_ms(model_));
        const auto scoring = workflow::scoring_options(cfg);
        so.score = scoring.loss;
        so.score_last_k = scoring.last_k;
        backend_ = workflow::open_backend(backend, model_.checkpoint.net, threads.value_or(1), cfg.train);
        sim::UpdateObserver observer;
        if (!variables.is_none()) {
            io::TraceOptions o;
            o.y = false;
            for (const auto& v : variables) {
                const std::string n = py::str(v).cast<std::string>();
                if (!io::set_trace_variable(o, n))
                    throw ParameterError("record", fmt::format("expected variables among y, m, b, logits, spikes, got \"{}\"", n));
            }
            const auto& mc = model_.checkpoint.net.cfg;
            recorder_ = std::make_unique<io::MemoryRecorder>();
            recorder_->prepare(io::RecordingSetup{o, mc.N, mc.d_m, mc.n_b, mc.n_out, model, so.event_mode ? "event" : "clock", created_by()});
            observer = [this](const sim::UpdateView& v) {
                if (sample_ < 0) sample_ = recorder_->begin_sample(samples_++, -1);
                recorder_->write(sample_, v.time_ms, v.y, v.m, v.b, v.logits);
            };
        }
        mode_ = so.event_mode ? "event" : "clock";
        session_ = std::make_unique<sim::Session>(*backend_, so, std::move(observer));
    }

    // Every call starts here, with the GIL held: a closed session, or one whose engine work another
    // Python thread is running (with the GIL released), is refused.
    sim::Session& session(const char* call) {
        if (!session_) throw InputError(fmt::format("Session.{}: the session is closed", call));
        if (busy_) throw InputError(fmt::format("Session.{}: another thread is running a call on this session", call));
        return *session_;
    }
    // Marks the session busy while its engine work runs without the GIL (declared before the release,
    // so it is cleared after the GIL is back).
    struct Busy {
        explicit Busy(bool& flag) : flag_(flag) { flag_ = true; }
        ~Busy() { flag_ = false; }
        bool& flag_;
    };
    void push_events(const py::object& times, const py::object& channels) {
        auto& s = session("push_events");
        if (bytes_) throw InputError("push_events: the model reads bytes (use push_bytes)");
        const auto t = float64_vector(times, "times_ms");
        const auto c = int32_vector(channels, "channels", 0, model_.checkpoint.net.cfg.C - 1);
        if (t.size() != c.size())
            throw InputError(fmt::format("push_events: expected as many channels as times, got {} and {}", c.size(), t.size()));
        s.push_events(t, c);
    }
    void push_bytes(const py::object& data) {
        auto& s = session("push_bytes");
        if (!bytes_) throw InputError("push_bytes: the model reads spike events, not bytes (use push_events)");
        std::vector<std::uint8_t> b;
        if (py::isinstance<py::bytes>(data) || py::isinstance<py::bytearray>(data)) {
            const std::string text = py::isinstance<py::bytes>(data) ? data.cast<std::string>()
                                                                     : std::string(py::reinterpret_borrow<py::bytearray>(data));
            b.assign(text.begin(), text.end());
        } else {
            for (const std::int32_t v : int32_vector(data, "bytes", 0, 255)) b.push_back(static_cast<std::uint8_t>(v));
        }
        Busy busy(busy_);
        py::gil_scoped_release release;
        s.push_bytes(b);
    }
    void advance_to(double t) {
        auto& s = session("advance_to");
        Busy busy(busy_);
        py::gil_scoped_release release;
        s.advance_to(t);
    }
    void finish(double t) {
        auto& s = session("finish");
        {
            Busy busy(busy_);
            py::gil_scoped_release release;
            s.finish(t);
        }
        end_sample();
    }
    void reset() {
        auto& s = session("reset");
        end_sample();
        s.reset();
    }
    void close() {
        if (busy_) throw InputError("Session.close: another thread is running a call on this session");
        session_.reset();
        backend_.reset();
    }
    py::array_t<float> logits() {
        auto& s = session("logits");
        const int n = model_.checkpoint.net.cfg.n_out;
        return float_array(std::vector<float>(s.logits(), s.logits() + n), {n});
    }
    py::object y() {
        auto& s = session("y");
        const sim::UpdateView v = s.view();
        if (!v.y) return py::none();
        const int n = model_.checkpoint.net.cfg.N;
        return float_array(std::vector<float>(v.y, v.y + n), {n});
    }
    py::dict trace() {
        if (!recorder_) throw InputError("Session.trace: the session records nothing (give variables= when opening it)");
        return trace_to_python(recorder_->trace());
    }
    const std::string& mode() const { return mode_; }

private:
    void end_sample() {
        if (!recorder_ || sample_ < 0) return;
        recorder_->end_sample(sample_, session_->logits(), session_->prediction());
        sample_ = -1;
    }

    workflow::LoadedModel model_;
    std::unique_ptr<sim::Backend> backend_;
    std::unique_ptr<io::MemoryRecorder> recorder_;
    std::unique_ptr<sim::Session> session_;
    std::string mode_;
    bool bytes_ = false, busy_ = false;
    int sample_ = -1;
    std::int64_t samples_ = 0;
};

}  // namespace

void bind_session(py::module_& m) {
    py::class_<PythonSession>(m, "Session", R"(One live stream through a trained model, as `elmsim serve` runs one.

Push events (times in ms, ascending, not before the session's time; channels) or bytes, advance time,
read the logits and the prediction; finish(duration) ends a sample exactly as `simulate` does, so a
session fed a sample's events in any pieces gives simulate's floats. mode defaults to the model's
time base (event for an event-trained model, else clock); variables=["y", "m", ...] records every
update in memory (trace()). Bad input raises elmsim.InputError and leaves the session unchanged.)")
        .def(py::init<const std::string&, std::optional<std::string>, std::optional<double>, std::optional<double>,
                      const py::object&, std::optional<std::int64_t>, const std::string&>(),
             py::arg("model"), py::arg("mode") = py::none(), py::arg("resolution_ms") = py::none(),
             py::arg("max_dt_ms") = py::none(), py::arg("variables") = py::none(), py::arg("threads") = py::none(),
             py::arg("backend") = "cpu")
        .def("push_events", &PythonSession::push_events, py::arg("times_ms"), py::arg("channels"))
        .def("push_bytes", &PythonSession::push_bytes, py::arg("data"))
        .def("advance_to", &PythonSession::advance_to, py::arg("time_ms"), "Run every update due at or before time_ms.")
        .def("finish", &PythonSession::finish, py::arg("time_ms"), "End a sample of this duration (as simulate ends one).")
        .def("reset", &PythonSession::reset, "Zero state, time 0, nothing pending.")
        .def("close", &PythonSession::close, "Free the session; any later call raises elmsim.InputError.")
        .def_property_readonly("logits", &PythonSession::logits)
        .def_property_readonly("y", &PythonSession::y, "Every neuron's output after the last update.")
        .def_property_readonly("prediction", [](PythonSession& s) { return s.session("prediction").prediction(); })
        .def_property_readonly("time_ms", [](PythonSession& s) { return s.session("time_ms").time_ms(); })
        .def_property_readonly("updates", [](PythonSession& s) { return s.session("updates").updates(); })
        .def_property_readonly("pending_events", [](PythonSession& s) { return s.session("pending_events").pending_events(); })
        .def_property_readonly("mode", &PythonSession::mode)
        .def("trace", &PythonSession::trace, "The updates recorded so far, as simulate() returns a trace.")
        .def("__enter__", [](PythonSession& s) -> PythonSession& { return s; }, py::return_value_policy::reference)
        .def("__exit__", [](PythonSession& s, const py::args&) { s.close(); });
}

}  // namespace elm::python
