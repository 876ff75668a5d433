// The CLI forms of a trace selection (`simulate --record y,m --neurons 0:64 --decimate K`) as
// io::TraceOptions. Errors name the flag the user typed.
#pragma once

#include <cstdint>
#include <string>

#include "elmsim/io/recorder.hpp"

namespace elm::tools {

// `record` is a comma list of y, m, b, logits, spikes; `neurons` is "all" (or empty), or a comma list
// of ids and half-open ranges "a:b" (Python-slice style, "a:" and ":b" allowed), e.g. "0:64" or
// "3,5,9" or "0:8,100". Throws InputError naming the flag (--record, --neurons, --decimate) on
// unknown variables, empty or out-of-range neuron sets, decimate < 1.
io::TraceOptions parse_trace_options(const std::string& record, const std::string& neurons, std::int64_t decimate,
                                     int N);

}  // namespace elm::tools
