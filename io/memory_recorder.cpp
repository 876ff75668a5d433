// The in-memory recorder and the recorder chosen by name (memory_recorder.hpp).
#include "elmsim/io/memory_recorder.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {

void MemoryRecorder::prepare(const RecordingSetup& setup) {
    if (prepared_) throw std::logic_error("MemoryRecorder::prepare: called twice");
    const TraceOptions& o = setup.what;
    const auto fail = [](const std::string& what) { throw InputError("recording: " + what); };
    if (setup.mode != "clock" && setup.mode != "event")
        fail(fmt::format("expected mode 'clock' or 'event', found '{}'", setup.mode));
    if (!(o.y || o.m || o.b || o.logits || o.spikes))
        fail("expected at least one variable to record (y, m, b, logits, spikes), found none");
    if (o.decimate < 1) fail(fmt::format("expected decimate >= 1, found {}", o.decimate));
    if (setup.N < 1) fail(fmt::format("expected a network with N >= 1 neurons, found N = {}", setup.N));
    const auto need = [&](bool on, int dim, const char* name) {
        if (on && dim < 1) fail(fmt::format("expected {} >= 1 to record it, found {}", name, dim));
    };
    need(o.m, setup.d_m, "d_m");
    need(o.b, setup.n_b, "n_b");
    need(o.logits, setup.n_out, "n_out");
    std::vector<std::int32_t> sel = o.neurons;
    std::sort(sel.begin(), sel.end());
    sel.erase(std::unique(sel.begin(), sel.end()), sel.end());
    for (const std::int32_t id : sel)
        if (id < 0 || id >= setup.N)
            fail(fmt::format("neuron {} is out of range for a network of N = {} (ids 0..{})", id, setup.N, setup.N - 1));
    if (sel.empty())
        for (int i = 0; i < setup.N; ++i) sel.push_back(i);
    trace_ = TraceFile{};
    trace_.format_version = 1;
    trace_.model = setup.model;
    trace_.mode = setup.mode;
    trace_.created_by = setup.created_by;
    trace_.recorded = o;
    trace_.recorded.neurons = sel;
    trace_.recorded.final_logits_only = o.logits && o.final_logits_only;
    trace_.N = setup.N;
    trace_.n_sel = static_cast<std::int64_t>(sel.size());
    trace_.d_m = setup.d_m;
    trace_.n_b = setup.n_b;
    trace_.n_out = setup.n_out;
    all_neurons_ = trace_.n_sel == setup.N;
    prepared_ = true;
}

int MemoryRecorder::begin_sample(std::int64_t source_index, int label) {
    if (committed_) throw std::logic_error("MemoryRecorder::begin_sample: the recording was already committed");
    if (!prepared_) throw std::logic_error("MemoryRecorder::begin_sample: call prepare first");
    const int handle = static_cast<int>(trace_.samples.size());
    TraceSample& s = trace_.samples.emplace_back();
    s.source_index = source_index;
    s.label = label >= 0 ? label : -1;
    updates_[handle] = 0;
    return handle;
}

TraceSample& MemoryRecorder::open_sample(int handle, const char* call) {
    if (committed_) throw std::logic_error(std::string("MemoryRecorder::") + call + ": the recording was already committed");
    if (!updates_.contains(handle))
        throw std::logic_error(fmt::format("MemoryRecorder::{}: sample {} is not open (call begin_sample first)", call, handle));
    return trace_.samples[static_cast<std::size_t>(handle)];
}

void MemoryRecorder::write(int handle, double time_ms, const float* y, const float* m, const float* b,
                           const float* logits) {
    TraceSample& s = open_sample(handle, "write");
    const TraceOptions& o = trace_.recorded;
    const auto need = [](bool on, const float* p, const char* name) {
        if (on && !p) throw std::logic_error(std::string("MemoryRecorder::write: ") + name + " is recorded but was passed null");
    };
    need(o.y || o.spikes, y, "y");
    need(o.m, m, "m");
    need(o.b, b, "b");
    need(o.logits && !o.final_logits_only, logits, "logits");
    // As the HDF5 writer: spikes at every update, the dense variables at updates 0, K, 2K, ...
    if (o.spikes)
        for (const std::int32_t id : o.neurons)
            if (y[id] != 0.0f) {
                s.spike_times.push_back(time_ms);
                s.spike_neurons.push_back(id);
            }
    std::int64_t& count = updates_[handle];
    const bool keep = count % o.decimate == 0;
    ++count;
    if (!keep) return;
    s.time_ms.push_back(time_ms);
    ++s.T;
    const auto append = [&](std::vector<float>& dst, const float* src, std::size_t width) {
        if (all_neurons_) {
            dst.insert(dst.end(), src, src + o.neurons.size() * width);
            return;
        }
        for (const std::int32_t id : o.neurons)
            dst.insert(dst.end(), src + static_cast<std::size_t>(id) * width, src + static_cast<std::size_t>(id + 1) * width);
    };
    if (o.y) append(s.y, y, 1);
    if (o.m) append(s.m, m, static_cast<std::size_t>(trace_.d_m));
    if (o.b) append(s.b, b, static_cast<std::size_t>(trace_.n_b));
    if (o.logits && !o.final_logits_only) {
        s.logits.insert(s.logits.end(), logits, logits + trace_.n_out);
        ++s.logits_rows;
    }
}

void MemoryRecorder::end_sample(int handle, const float* final_logits, int prediction) {
    TraceSample& s = open_sample(handle, "end_sample");
    if (trace_.recorded.logits && trace_.recorded.final_logits_only) {
        if (!final_logits) throw std::logic_error("MemoryRecorder::end_sample: final logits are recorded but were passed null");
        s.logits.assign(final_logits, final_logits + trace_.n_out);
        s.logits_rows = 1;
    }
    s.prediction = prediction;
    updates_.erase(handle);
}

void MemoryRecorder::commit() {
    if (!prepared_) throw std::logic_error("MemoryRecorder::commit: call prepare first");
    updates_.clear();
    committed_ = true;
}

std::unique_ptr<Recorder> make_recorder(const std::string& kind, const std::string& path) {
    if (kind == "hdf5") {
        if (path.empty()) throw ParameterError("record", "an \"hdf5\" recording needs a trace file path");
        return std::make_unique<TraceWriter>(path);
    }
    if (kind != "memory" && kind != "none")
        throw ParameterError("record", fmt::format("expected \"hdf5\", \"memory\" or \"none\", got \"{}\"", kind));
    if (!path.empty())
        throw ParameterError("record", fmt::format("a \"{}\" recording writes no file, but a path was given ({})", kind, path));
    if (kind == "memory") return std::make_unique<MemoryRecorder>();
    return std::make_unique<DiscardingRecorder>();
}

}  // namespace elm::io
