// Trace writer for `elmsim simulate --trace` (spec files-and-cli.md, "Traces"): one HDF5 group per
// simulated sample with the chosen variables over time, appended while the simulation runs.
//
// Layout (the contract; extended with a few root attributes that make the file self-describing):
//   /                    attrs format="elm-trace", format_version=1, model, mode, neurons (int32 ids),
//                        decimate, variables ("y,m,..."), created_by, N, d_m, n_b, n_out,
//                        final_logits_only (0|1)
//   /samples/<i>         attrs source_index, label (when >= 0), prediction (set by end_sample)
//   /samples/<i>/time_ms float64 [T];  y float32 [T, n_sel];  m [T, n_sel, d_m];  b [T, n_sel, n_b];
//                        logits [T, n_out] (or [1, n_out]);  spike_times float64 [S], spike_neurons int32 [S]
// Every dataset is chunked (unlimited along T), shuffled and deflated; rows are buffered per dataset
// and written one whole chunk at a time, so memory stays bounded by about one chunk per dataset
// whatever the run length. Output is atomic: NAME.tmp is written and renamed by commit(); a writer
// destroyed without commit() leaves no file behind and never touches an existing NAME.
//
// Not thread-safe: one writer is fed by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "elmsim/io/hdf5_file.hpp"

namespace elm::io {

struct TraceOptions {
    bool y = true, m = false, b = false, logits = false, spikes = false;
    bool final_logits_only = false;     // logits stored as [1, n_out] (the final readout) instead of [T, n_out]
    std::vector<std::int32_t> neurons;  // neurons to record (sorted, unique); empty = all
    std::int64_t decimate = 1;          // keep every K-th update (1 = all)
};

// Parse the CLI forms: `record` is a comma list of y, m, b, logits, spikes; `neurons` is "all" (or
// empty), or a comma list of ids and half-open ranges "a:b" (Python-slice style, "a:" and ":b"
// allowed), e.g. "0:64" or "3,5,9" or "0:8,100". Throws InputError naming the flag (--record,
// --neurons, --decimate) on unknown variables, empty or out-of-range neuron sets, decimate < 1.
TraceOptions parse_trace_options(const std::string& record, const std::string& neurons, std::int64_t decimate, int N);

// "y,m,b,logits,spikes" restricted to the recorded variables (the root attribute `variables`).
std::string trace_variables_string(const TraceOptions& opt);
// Turns on variable `name` (y, m, b, logits or spikes) in `opt`; false for any other name.
bool set_trace_variable(TraceOptions& opt, const std::string& name);

class TraceWriter {
public:
    // Creates `path`.tmp at once (so an unwritable path fails before any simulation) and writes the
    // root attributes. Throws InputError for an unwritable path, a mode other than "clock"/"event",
    // or options that do not fit the network (neuron id >= N, decimate < 1, nothing recorded).
    TraceWriter(const std::string& path, const std::string& model_path, const std::string& mode,
                const TraceOptions& opt, int N, int d_m, int n_b, int n_out, const std::string& created_by);
    ~TraceWriter();  // without commit(): removes the .tmp
    TraceWriter(const TraceWriter&) = delete;
    TraceWriter& operator=(const TraceWriter&) = delete;

    // Opens group /samples/<i> (i = 0, 1, ... in call order) with attrs source_index and label
    // (when label >= 0). A sample still open (no end_sample) is closed first, without prediction.
    void begin_sample(std::int64_t source_index, int label);
    // One engine update for ONE sample, full-network arrays: y [N], m [N][d_m], b [N][n_b],
    // logits [n_out]. Pointers of variables not recorded may be null (y is needed for spikes).
    // Keeps updates 0, K, 2K, ... of the sample (K = decimate) for the dense datasets; spikes
    // (recorded neurons with y != 0) are taken at EVERY update.
    void append(double time_ms, const float* y, const float* m, const float* b, const float* logits);
    // Closes the sample: writes the attr prediction and, when final_logits_only (and logits are
    // recorded), `final_logits` [n_out] as logits [1, n_out]; otherwise final_logits may be null.
    void end_sample(const float* final_logits, int prediction);
    // Closes any open sample, flushes, closes the file and renames .tmp -> path. Nothing may be
    // called afterwards.
    void commit();

    std::int64_t samples_written() const { return samples_; }
    // Bytes held by the row buffers (their capacity): bounded by about one chunk per dataset.
    std::size_t buffered_bytes() const;

private:
    // One extendible dataset of the open sample with its row buffer (defined in the .cpp).
    struct Stream;

    void close_sample();
    void require_open(const char* call) const;

    AtomicOutput out_;
    H5Handle file_;  // declared after out_: closed before AtomicOutput removes an uncommitted .tmp
    H5Handle samples_group_;
    TraceOptions opt_;
    int N_, d_m_, n_b_, n_out_;
    std::vector<std::int32_t> sel_;  // recorded neuron ids (all of 0..N-1 when opt.neurons is empty)
    bool all_neurons_ = false;       // sel_ == 0..N-1: copy rows without gathering
    std::vector<float> row_;         // gather scratch, one row of the widest variable

    H5Handle sample_group_;
    std::vector<std::unique_ptr<Stream>> streams_;  // time_ms, y, m, b, logits, spike_times, spike_neurons
    Stream *time_ = nullptr, *y_ = nullptr, *m_ = nullptr, *b_ = nullptr, *logits_ = nullptr;
    Stream *spike_t_ = nullptr, *spike_n_ = nullptr;
    std::int64_t updates_in_sample_ = 0;
    std::int64_t samples_ = 0;
    bool sample_open_ = false;
    bool committed_ = false;
};

}  // namespace elm::io
