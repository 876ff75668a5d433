// elmsim._core: the engine as a Python extension (pybind11). C++ errors arrive as Python exceptions
// with the same one-line message: elmsim.InputError (a ValueError) for bad input, and its subclass
// elmsim.ParameterError (with .parameter) for one bad named argument.
#include "bindings.hpp"
#include "elmsim/models/error.hpp"
#include "python_model.hpp"

namespace elm::python {

std::string created_by() { return std::string("elmsim-python ") + ELMSIM_VERSION; }

}  // namespace elm::python

PYBIND11_MODULE(_core, m) {
    namespace py = pybind11;
    m.doc() = "elmsim's engine (C++): use it through the elmsim package";
    m.attr("__version__") = ELMSIM_VERSION;
    static py::exception<elm::InputError> input_error(m, "InputError", PyExc_ValueError);
    static py::exception<elm::ParameterError> parameter_error(m, "ParameterError", input_error.ptr());
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const elm::ParameterError& e) {
            py::object err = py::handle(parameter_error.ptr())(e.what());
            err.attr("parameter") = e.parameter();
            PyErr_SetObject(parameter_error.ptr(), err.ptr());
        } catch (const elm::InputError& e) {
            PyErr_SetString(input_error.ptr(), e.what());
        } catch (const elm::QuietExit& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
    });
    elm::python::bind_models(m);
    elm::python::bind_training(m);
    elm::python::bind_simulation(m);
    elm::python::bind_session(m);
    elm::python::bind_science(m);
}
