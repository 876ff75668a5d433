// TraceWriter: the HDF5 Recorder (io/recorder.hpp) behind `elmsim simulate --trace` (spec
// files-and-cli.md, "Traces"): one HDF5 group per simulated sample with the chosen variables over
// time, appended while the simulation runs.
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
// whatever the run length (per open sample: a batched simulation keeps one open per row). Output is atomic: NAME.tmp is created by prepare() and renamed by
// commit(); a writer destroyed without commit() leaves no file behind and never touches an existing
// NAME. Spikes (recorded neurons with y != 0) are taken at EVERY update; the dense datasets keep
// updates 0, K, 2K, ... of a sample (K = decimate).
//
// The HDF5 handles live in the implementation (trace_writer.cpp): this header pulls in no HDF5.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "elmsim/io/recorder.hpp"

namespace elm::io {

class TraceWriter final : public Recorder {
public:
    // Open: InputError when the directory of `path` does not exist or is not writable, or `path` is a
    // directory. No file is created before prepare().
    explicit TraceWriter(const std::string& path);
    // Open and prepare in one: the writer for `mode` of a network of these sizes.
    TraceWriter(const std::string& path, const std::string& model_path, const std::string& mode,
                const TraceOptions& opt, int N, int d_m, int n_b, int n_out, const std::string& created_by);
    ~TraceWriter() override;  // without commit(): removes the .tmp
    TraceWriter(const TraceWriter&) = delete;
    TraceWriter& operator=(const TraceWriter&) = delete;

    void prepare(const RecordingSetup& setup) override;
    int begin_sample(std::int64_t source_index, int label) override;
    void write(int sample, double time_ms, const float* y, const float* m, const float* b, const float* logits) override;
    void end_sample(int sample, const float* final_logits, int prediction) override;
    void commit() override;
    // For one sample at a time: write to / end the sample begun last.
    void write(double time_ms, const float* y, const float* m, const float* b, const float* logits);
    void end_sample(const float* final_logits, int prediction);

    std::int64_t samples_written() const;
    // Bytes held by the row buffers (their capacity): bounded by about one chunk per dataset.
    std::size_t buffered_bytes() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace elm::io
