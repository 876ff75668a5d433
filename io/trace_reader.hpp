// Trace reader (spec files-and-cli.md, "Traces"): loads a whole `elm-trace` file, as written by
// TraceWriter, into memory and checks it against the contract — format attributes, the consecutive
// /samples/<i> groups, and shapes that agree with each other and with the root attributes. Meant
// for tests and tools on traces that fit in memory; simulation never reads traces back.
//
// Root attributes beyond the contract (variables, N, d_m, n_b, n_out, final_logits_only) are used
// when present; without them the recorded variables are those found in /samples/0 and the sizes
// are taken from the first dataset that shows them, so traces written by other tools also load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elmsim/io/recorder.hpp"

namespace elm::io {

struct TraceSample {
    std::int64_t source_index = -1;
    int label = -1;                           // -1: not stored
    int prediction = -1;                      // -1: not stored
    std::int64_t T = 0;                       // stored updates (after decimation)
    std::int64_t logits_rows = 0;             // T, or 1 for a final-readout-only trace
    std::vector<double> time_ms;              // [T]
    std::vector<float> y;                     // [T, n_sel]          (empty when not recorded)
    std::vector<float> m;                     // [T, n_sel, d_m]
    std::vector<float> b;                     // [T, n_sel, n_b]
    std::vector<float> logits;                // [logits_rows, n_out]
    std::vector<double> spike_times;          // [S] ms
    std::vector<std::int32_t> spike_neurons;  // [S] neuron ids (from the recorded set)
};

struct TraceFile {
    std::string path;
    std::int64_t format_version = 0;
    std::string model, mode, created_by;
    TraceOptions recorded;  // variables, neurons (ids, never empty), decimate, final_logits_only
    std::int64_t N = -1;    // -1 where the file does not say and no dataset shows it
    std::int64_t n_sel = 0, d_m = -1, n_b = -1, n_out = -1;
    std::vector<TraceSample> samples;
};

// Throws InputError (file, path inside it, expected vs found) for a missing or non-HDF5 file, a
// format other than "elm-trace" version 1, a missing attribute or dataset, or inconsistent shapes.
TraceFile read_trace(const std::string& path);

}  // namespace elm::io
