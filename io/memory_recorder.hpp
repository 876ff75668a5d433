// MemoryRecorder: the Recorder (io/recorder.hpp) that keeps a recording in memory, as the TraceFile
// that io::read_trace would load from the HDF5 trace of the same run: the same neuron selection,
// decimation (every K-th update of a sample in the dense variables, spikes at every update), final
// logits and predictions. What a Python caller or a test gets back without a file.
//
// make_recorder picks a recorder by name, so front ends offer the choice as a word:
//   "hdf5"    the HDF5 trace writer (io/trace_writer.hpp) at `path`
//   "memory"  a MemoryRecorder (`path` must be empty)
//   "none"    a DiscardingRecorder: scores only
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "elmsim/io/recorder.hpp"
#include "elmsim/io/trace_reader.hpp"

namespace elm::io {

class MemoryRecorder final : public Recorder {
public:
    void prepare(const RecordingSetup& setup) override;
    int begin_sample(std::int64_t source_index, int label) override;
    void write(int sample, double time_ms, const float* y, const float* m, const float* b, const float* logits) override;
    void end_sample(int sample, const float* final_logits, int prediction) override;
    void commit() override;

    // The recording so far (samples in begin order). After commit(), take() hands it over.
    const TraceFile& trace() const { return trace_; }
    TraceFile take() { return std::move(trace_); }

private:
    TraceSample& open_sample(int handle, const char* call);

    TraceFile trace_;
    std::map<int, std::int64_t> updates_;  // open samples: updates seen (decimation counter)
    bool prepared_ = false, committed_ = false, all_neurons_ = false;
};

// The recorder called `kind` ("hdf5", "memory" or "none"); ParameterError "record" for another word,
// an "hdf5" recorder without a path or one of the others with a path. An "hdf5" recorder checks its
// path at once (io/trace_writer.hpp).
std::unique_ptr<Recorder> make_recorder(const std::string& kind, const std::string& path = "");

}  // namespace elm::io
