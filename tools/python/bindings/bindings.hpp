// The Python module elmsim._core: one function per part registers its classes and functions
// (models.cpp, training.cpp, simulation.cpp, session.cpp, science.cpp); conversions between numpy
// and the C++ types live in convert.hpp. The Python package (tools/python/elmsim) wraps these with
// the argument forms of the README's Python section.
#pragma once

#include <pybind11/pybind11.h>

namespace elm::python {

void bind_models(pybind11::module_& m);
void bind_training(pybind11::module_& m);
void bind_simulation(pybind11::module_& m);
void bind_session(pybind11::module_& m);
void bind_science(pybind11::module_& m);

}  // namespace elm::python
