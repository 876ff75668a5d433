// Recorder: where a simulation writes what every neuron did, with NEST's recording lifecycle —
//   open      construct the recorder (e.g. with a path: an unwritable one fails before any work);
//   prepare   once, before the run: which variables of which neurons, every K-th update, and the
//             sizes and provenance of the network (RecordingSetup);
//   write     per update of a sample, between its begin_sample and end_sample (samples may
//             interleave);
//   commit    close and make the recording visible (a recorder destroyed without commit leaves
//             nothing behind).
// The HDF5 trace writer (io/trace_writer.hpp) is one implementation; a server or a test can add
// others. Recorders are fed by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elm::io {

// What to record (spec files-and-cli.md, "Traces": the user chooses variables, neurons, decimation).
struct TraceOptions {
    bool y = true, m = false, b = false, logits = false, spikes = false;
    bool final_logits_only = false;     // logits stored as [1, n_out] (the final readout) instead of [T, n_out]
    std::vector<std::int32_t> neurons;  // neurons to record (sorted, unique); empty = all
    std::int64_t decimate = 1;          // keep every K-th update (1 = all)
};

// "y,m,b,logits,spikes" restricted to the recorded variables (the root attribute `variables`).
std::string trace_variables_string(const TraceOptions& opt);
// Turns on variable `name` (y, m, b, logits or spikes) in `opt`; false for any other name.
bool set_trace_variable(TraceOptions& opt, const std::string& name);

struct RecordingSetup {
    TraceOptions what;
    int N = 0, d_m = 0, n_b = 0, n_out = 0;  // the network's sizes
    std::string model;                       // the model file the recording comes from
    std::string mode;                        // "clock" | "event"
    std::string created_by;                  // "<tool> <version>"
};

class Recorder {
public:
    virtual ~Recorder() = default;
    // Once, before the first sample. InputError when `setup` does not fit (nothing recorded, a
    // neuron id >= N, decimate < 1, an unknown mode).
    virtual void prepare(const RecordingSetup& setup) = 0;
    // Opens sample i = 0, 1, ... (call order) from source sample `source_index`, with its label
    // (< 0: unknown), and returns its handle. Several samples may be open at once (a batched
    // simulation writes one per row, update by update).
    virtual int begin_sample(std::int64_t source_index, int label) = 0;
    // One engine update of ONE open sample, full-network arrays: y [N], m [N][d_m], b [N][n_b],
    // logits [n_out]. Pointers of variables not recorded may be null (y is needed for spikes).
    virtual void write(int sample, double time_ms, const float* y, const float* m, const float* b,
                       const float* logits) = 0;
    // Closes the sample with its prediction; final_logits [n_out] is what a final-readout-only
    // recording stores (may be null otherwise).
    virtual void end_sample(int sample, const float* final_logits, int prediction) = 0;
    // Closes any open sample (without prediction) and makes the recording permanent. Nothing may be
    // called afterwards.
    virtual void commit() = 0;
};

// A recorder that keeps nothing: a simulation run for its scores alone.
class DiscardingRecorder final : public Recorder {
public:
    void prepare(const RecordingSetup&) override {}
    int begin_sample(std::int64_t, int) override { return opened_++; }
    void write(int, double, const float*, const float*, const float*, const float*) override {}
    void end_sample(int, const float*, int) override {}
    void commit() override {}

private:
    int opened_ = 0;
};

}  // namespace elm::io
