// numpy <-> C++ conversions of the Python module (convert.hpp).
#include "convert.hpp"

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::python {

namespace {

// obj as a numpy array with a 1-D shape and a numeric dtype of one of `kinds` ("f", "iu", ...).
py::array numeric_1d(const py::handle& obj, const std::string& what, const char* kinds, const char* expected) {
    py::array a;
    try {
        a = py::array::ensure(obj);
    } catch (const py::error_already_set&) {
    }
    if (!a) throw InputError(fmt::format("{}: expected a 1-D array of {}, got {}", what, expected, std::string(py::str(py::type::of(obj)))));
    const char kind = a.dtype().kind();
    if (std::string(kinds).find(kind) == std::string::npos)
        throw InputError(fmt::format("{}: expected a 1-D array of {}, got dtype {}", what, expected, std::string(py::str(a.dtype()))));
    if (a.ndim() != 1) throw InputError(fmt::format("{}: expected a 1-D array, got {} dimensions", what, a.ndim()));
    return a;
}

}  // namespace

std::vector<double> float64_vector(const py::handle& obj, const std::string& what) {
    const py::array a = numeric_1d(obj, what, "fiu", "numbers");
    const auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
    std::vector<double> out(d.data(), d.data() + d.size());
    return out;
}

std::vector<std::int32_t> int32_vector(const py::handle& obj, const std::string& what, std::int64_t lo, std::int64_t hi) {
    const py::array a = numeric_1d(obj, what, "iu", "integers");
    const auto d = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    std::vector<std::int32_t> out(static_cast<std::size_t>(d.size()));
    for (py::ssize_t k = 0; k < d.size(); ++k) {
        const std::int64_t v = d.data()[k];
        if (v < lo || v > hi) throw InputError(fmt::format("{}: expected values in {}..{}, found {} at [{}]", what, lo, hi, v, k));
        out[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(v);
    }
    return out;
}

io::SpikeDataset spike_samples(const py::handle& samples, const py::handle& labels, int channels, const std::string& what) {
    if (!py::isinstance<py::sequence>(samples) || py::isinstance<py::str>(samples))
        throw InputError(fmt::format("{}: expected a sequence of (times_ms, channels) pairs", what));
    const auto seq = py::reinterpret_borrow<py::sequence>(samples);
    io::SpikeDataset ds;
    ds.path = what;
    ds.num_channels = channels;
    const std::size_t n = seq.size();
    std::vector<std::int32_t> label_values(n, 0);
    if (!labels.is_none()) {
        label_values = int32_vector(labels, what + ": labels", 0, 65535);
        if (label_values.size() != n)
            throw InputError(fmt::format("{}: expected one label per sample ({}), got {}", what, n, label_values.size()));
    }
    ds.samples.resize(n);
    int max_label = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const py::object item = seq[i];
        if (!py::isinstance<py::sequence>(item) || py::len(item) != 2)
            throw InputError(fmt::format("{}: sample {}: expected a (times_ms, channels) pair", what, i));
        const auto pair = py::reinterpret_borrow<py::sequence>(item);
        const std::string where = fmt::format("{}: sample {}", what, i);
        io::SpikeSample& s = ds.samples[i];
        s.times_ms = float64_vector(pair[0], where + ": times_ms");
        const auto ch = int32_vector(pair[1], where + ": channels", 0, channels - 1);
        s.units.assign(ch.begin(), ch.end());
        s.label = label_values[i];
        max_label = std::max(max_label, s.label);
    }
    ds.num_classes = max_label + 1;
    io::check_spike_samples(ds);
    return ds;
}

py::tuple samples_to_python(const io::SpikeDataset& ds) {
    py::list samples;
    std::vector<std::int32_t> labels;
    for (const auto& s : ds.samples) {
        std::vector<std::int32_t> ch(s.units.begin(), s.units.end());
        samples.append(py::make_tuple(double_array(s.times_ms), int_array(ch, {static_cast<py::ssize_t>(ch.size())})));
        labels.push_back(s.label);
    }
    return py::make_tuple(samples, int_array(labels, {static_cast<py::ssize_t>(labels.size())}));
}

py::array_t<float> float_array(const std::vector<float>& values, const std::vector<py::ssize_t>& shape) {
    py::array_t<float> a(shape);
    std::copy(values.begin(), values.end(), a.mutable_data());
    return a;
}

py::array_t<double> double_array(const std::vector<double>& values) {
    py::array_t<double> a(static_cast<py::ssize_t>(values.size()));
    std::copy(values.begin(), values.end(), a.mutable_data());
    return a;
}

py::array_t<std::int32_t> int_array(const std::vector<std::int32_t>& values, const std::vector<py::ssize_t>& shape) {
    py::array_t<std::int32_t> a(shape);
    std::copy(values.begin(), values.end(), a.mutable_data());
    return a;
}

py::dict trace_to_python(const io::TraceFile& tf) {
    const io::TraceOptions& r = tf.recorded;
    py::dict d;
    d["path"] = tf.path;
    d["model"] = tf.model;
    d["mode"] = tf.mode;
    d["created_by"] = tf.created_by;
    d["variables"] = io::trace_variables_string(r);
    d["neurons"] = int_array(r.neurons, {static_cast<py::ssize_t>(r.neurons.size())});
    d["decimate"] = r.decimate;
    d["final_logits_only"] = r.final_logits_only;
    d["N"] = tf.N;
    d["d_m"] = tf.d_m;
    d["n_b"] = tf.n_b;
    d["n_out"] = tf.n_out;
    const py::ssize_t n_sel = tf.n_sel;
    py::list samples;
    for (const io::TraceSample& s : tf.samples) {
        py::dict e;
        e["source_index"] = s.source_index;
        e["label"] = s.label;
        e["prediction"] = s.prediction;
        e["time_ms"] = double_array(s.time_ms);
        const py::ssize_t T = s.T;
        if (r.y) e["y"] = float_array(s.y, {T, n_sel});
        if (r.m) e["m"] = float_array(s.m, {T, n_sel, static_cast<py::ssize_t>(tf.d_m)});
        if (r.b) e["b"] = float_array(s.b, {T, n_sel, static_cast<py::ssize_t>(tf.n_b)});
        if (r.logits) e["logits"] = float_array(s.logits, {static_cast<py::ssize_t>(s.logits_rows), static_cast<py::ssize_t>(tf.n_out)});
        if (r.spikes) {
            e["spike_times"] = double_array(s.spike_times);
            e["spike_neurons"] = int_array(s.spike_neurons, {static_cast<py::ssize_t>(s.spike_neurons.size())});
        }
        samples.append(e);
    }
    d["samples"] = samples;
    return d;
}

py::dict stats_to_python(const sim::LossStats& st, bool text) {
    py::dict d;
    d["loss"] = st.loss();
    d["predictions"] = st.count;
    d["correct"] = st.correct;
    d["accuracy"] = st.accuracy();
    if (text) d["bpc"] = st.bpc();
    return d;
}

}  // namespace elm::python
