// numpy and Python objects <-> elmsim's C++ types, with one-line InputErrors naming the argument for
// anything that does not fit (wrong dtype, shape, non-finite values).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/sim/evaluation.hpp"
#include "elmsim/sim/loss.hpp"

namespace elm::python {

namespace py = pybind11;

// A 1-D numpy array (or sequence) of numbers as float64; `what` names it in errors.
std::vector<double> float64_vector(const py::handle& obj, const std::string& what);
// A 1-D array of integers (no floats, no bools) as int32, each in [lo, hi].
std::vector<std::int32_t> int32_vector(const py::handle& obj, const std::string& what, std::int64_t lo, std::int64_t hi);

// Samples given as a sequence of (times_ms, channels) pairs with one label each (labels may be None:
// all 0), for a task of `channels` input channels, checked as a file's samples are.
io::SpikeDataset spike_samples(const py::handle& samples, const py::handle& labels, int channels, const std::string& what);
// A dataset as (samples, labels): samples a list of (times_ms float64, channels int32) pairs.
py::tuple samples_to_python(const io::SpikeDataset& ds);

// A copy of `values` as a float32 / float64 / int32 array of `shape`.
py::array_t<float> float_array(const std::vector<float>& values, const std::vector<py::ssize_t>& shape);
py::array_t<double> double_array(const std::vector<double>& values);
py::array_t<std::int32_t> int_array(const std::vector<std::int32_t>& values, const std::vector<py::ssize_t>& shape);

// A recording (read from a file or recorded in memory) as a dict of numpy arrays.
py::dict trace_to_python(const io::TraceFile& trace);
py::dict stats_to_python(const sim::LossStats& stats, bool text);

}  // namespace elm::python
