// Trace reader (see trace_reader.hpp; spec files-and-cli.md "Traces"): root attributes, the sample
// groups, and shape checks that bind each size (T per sample; n_sel, d_m, n_b, n_out per file) the
// first time it is seen and require every later dataset to agree.
#include "elmsim/io/trace_reader.hpp"

#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/vlen_guard.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw InputError(where + ": " + what);
}

std::string attr_where(hid_t obj, const std::string& name) {
    return h5_location(obj) + ": attribute '" + name + "'";
}

std::int64_t optional_int(hid_t obj, const std::string& name, std::int64_t fallback) {
    return has_attribute(obj, name) ? read_attr_int(obj, name) : fallback;
}

// Binds `known` (-1 = not yet known) to `found`, or checks that they agree.
void bind_dim(std::int64_t& known, hsize_t found, const char* dim, const std::string& where,
              const std::vector<hsize_t>& shape) {
    if (known < 0) {
        known = static_cast<std::int64_t>(found);
        return;
    }
    if (known != static_cast<std::int64_t>(found))
        fail(where, std::string("expected ") + dim + " = " + std::to_string(known) +
                        " (as elsewhere in the file), found shape " + shape_string(shape));
}

template <class T>
std::vector<T> read_shaped(hid_t group, const std::string& name, const std::string& layout,
                           std::vector<std::int64_t*> dims, const std::vector<const char*>& dim_names) {
    const std::string where = h5_location(group, name);
    if (!has_path(group, name)) fail(where, "expected a dataset " + layout + ", found nothing");
    std::vector<hsize_t> shape;
    std::vector<T> data = read_dataset<T>(group, name, &shape);
    if (shape.size() != dims.size())
        fail(where, "expected a rank-" + std::to_string(dims.size()) + " dataset " + layout + ", found shape " +
                        shape_string(shape));
    for (std::size_t i = 0; i < dims.size(); ++i) bind_dim(*dims[i], shape[i], dim_names[i], where, shape);
    return data;
}

void parse_variables(const std::string& where, const std::string& text, TraceOptions& opt) {
    opt.y = opt.m = opt.b = opt.logits = opt.spikes = false;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t next = text.find(',', pos);
        if (next == std::string::npos) next = text.size();
        const std::string v = text.substr(pos, next - pos);
        if (!v.empty() && !set_trace_variable(opt, v))
            fail(where, "expected a comma list of y, m, b, logits, spikes, found '" + text + "'");
        pos = next + 1;
    }
}

// Times of updates and spikes: finite, >= 0 and non-decreasing, as the writer stores them. (The
// recorded states are read as stored, NaN included: a trace records what the network did.)
void check_times(hid_t g, const char* name, const std::vector<double>& t) {
    for (std::size_t k = 0; k < t.size(); ++k) {
        if (!std::isfinite(t[k]) || t[k] < 0.0)
            fail(h5_location(g, name), fmt::format("expected finite times >= 0 ms, found {} at [{}]", t[k], k));
        if (k > 0 && t[k] < t[k - 1])
            fail(h5_location(g, name), fmt::format("expected non-decreasing times, found {} after {} at [{}]", t[k], t[k - 1], k));
    }
}

void read_sample(hid_t g, TraceFile& tf, TraceSample& s) {
    s.source_index = read_attr_int(g, "source_index");
    s.label = static_cast<int>(optional_int(g, "label", -1));
    s.prediction = static_cast<int>(optional_int(g, "prediction", -1));
    const TraceOptions& r = tf.recorded;
    std::int64_t T = -1;
    s.time_ms = read_shaped<double>(g, "time_ms", "float64 [T]", {&T}, {"T"});
    s.T = T;
    check_times(g, "time_ms", s.time_ms);
    if (r.y) s.y = read_shaped<float>(g, "y", "float32 [T, n_sel]", {&T, &tf.n_sel}, {"T", "n_sel"});
    if (r.m)
        s.m = read_shaped<float>(g, "m", "float32 [T, n_sel, d_m]", {&T, &tf.n_sel, &tf.d_m}, {"T", "n_sel", "d_m"});
    if (r.b)
        s.b = read_shaped<float>(g, "b", "float32 [T, n_sel, n_b]", {&T, &tf.n_sel, &tf.n_b}, {"T", "n_sel", "n_b"});
    if (r.logits) {
        std::int64_t rows = -1;
        s.logits = read_shaped<float>(g, "logits", "float32 [T, n_out]", {&rows, &tf.n_out}, {"rows", "n_out"});
        // A final-readout trace holds one row ([0, n_out] when the sample was never ended).
        const bool ok = r.final_logits_only ? rows <= 1 : rows == T;
        if (!ok)
            fail(h5_location(g, "logits"),
                 r.final_logits_only
                     ? "expected [1, n_out] (final readout only), found " + std::to_string(rows) + " rows"
                     : "expected T = " + std::to_string(T) + " rows like time_ms, found " + std::to_string(rows));
        s.logits_rows = rows;
    }
    if (r.spikes) {
        std::int64_t S = -1;
        s.spike_times = read_shaped<double>(g, "spike_times", "float64 [S]", {&S}, {"S"});
        check_times(g, "spike_times", s.spike_times);
        s.spike_neurons =
            read_shaped<std::int32_t>(g, "spike_neurons", "int32 [S] (as long as spike_times)", {&S}, {"S"});
        for (const std::int32_t id : s.spike_neurons)
            if (!std::binary_search(r.neurons.begin(), r.neurons.end(), id))
                fail(h5_location(g, "spike_neurons"),
                     "expected ids of recorded neurons (root attribute 'neurons'), found " + std::to_string(id));
    }
}

}  // namespace

TraceFile read_trace(const std::string& path) {
    check_in_isolated_process(IsolatedKind::trace, path);  // a file without checksums: read apart first
    H5File file = H5File::open_read(path);
    check_global_heaps(path);  // traces from before checksums keep their strings there
    const hid_t root = file.id();
    TraceFile tf;
    tf.path = path;

    if (!has_attribute(root, "format"))
        fail(h5_location(root),
             "expected attribute format = 'elm-trace' (a trace written by elmsim's simulation), found none");
    const std::string format = read_attr_string(root, "format");
    if (format != "elm-trace") fail(attr_where(root, "format"), "expected 'elm-trace', found '" + format + "'");
    tf.format_version = read_attr_int(root, "format_version");
    if (tf.format_version != 1)
        fail(attr_where(root, "format_version"),
             "expected 1 (the version this reader knows), found " + std::to_string(tf.format_version));
    tf.model = read_attr_string(root, "model");
    tf.mode = read_attr_string(root, "mode");
    if (tf.mode != "clock" && tf.mode != "event")
        fail(attr_where(root, "mode"), "expected 'clock' or 'event', found '" + tf.mode + "'");
    if (has_attribute(root, "created_by")) tf.created_by = read_attr_string(root, "created_by");

    TraceOptions& r = tf.recorded;
    r.decimate = read_attr_int(root, "decimate");
    if (r.decimate < 1)
        fail(attr_where(root, "decimate"), "expected an integer >= 1, found " + std::to_string(r.decimate));
    r.neurons = read_attr_int32_array(root, "neurons");
    if (r.neurons.empty()) fail(attr_where(root, "neurons"), "expected the recorded neuron ids, found an empty list");
    tf.N = optional_int(root, "N", -1);
    for (std::size_t i = 0; i < r.neurons.size(); ++i) {
        const std::int32_t id = r.neurons[i];
        if (id < 0 || (i > 0 && id <= r.neurons[i - 1]) || (tf.N >= 0 && id >= tf.N))
            fail(attr_where(root, "neurons"), "expected sorted unique ids in [0, N), found " + std::to_string(id) +
                                                  " at position " + std::to_string(i));
    }
    tf.n_sel = static_cast<std::int64_t>(r.neurons.size());
    tf.d_m = optional_int(root, "d_m", -1);
    tf.n_b = optional_int(root, "n_b", -1);
    tf.n_out = optional_int(root, "n_out", -1);
    r.final_logits_only = optional_int(root, "final_logits_only", 0) != 0;

    H5Handle samples = open_group(root, "samples");
    H5G_info_t info{};
    if (H5Gget_info(samples.id(), &info) < 0) fail(h5_location(samples.id()), "cannot list the sample groups");
    const auto count = static_cast<std::int64_t>(info.nlinks);

    if (has_attribute(root, "variables")) {
        parse_variables(attr_where(root, "variables"), read_attr_string(root, "variables"), r);
    } else {
        // Another tool's trace: the variables are the datasets of the first sample.
        const bool any = count > 0 && has_path(samples.id(), "0");
        r.y = any && has_path(samples.id(), "0/y");
        r.m = any && has_path(samples.id(), "0/m");
        r.b = any && has_path(samples.id(), "0/b");
        r.logits = any && has_path(samples.id(), "0/logits");
        r.spikes = any && has_path(samples.id(), "0/spike_times");
    }

    tf.samples.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) {
        const std::string name = std::to_string(i);
        if (!has_path(samples.id(), name))
            fail(h5_location(samples.id(), name),
                 "expected sample groups named 0.." + std::to_string(count - 1) + ", found no group '" + name + "'");
        H5Handle g = open_group(samples.id(), name);
        read_sample(g.id(), tf, tf.samples[static_cast<std::size_t>(i)]);
    }
    return tf;
}

}  // namespace elm::io
