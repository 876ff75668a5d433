// Range checks of numeric flags, made before the value is used in any arithmetic (a product of two
// large sizes, a count plus one, a duration in clock ticks), so nothing wraps first. The error is one
// line naming the flag as typed: "--T: expected 1 to 1000000, got 2147483647".
#pragma once

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::tools {

// InputError unless lo <= value <= hi (NaN is outside every range).
template <class T>
void require_flag_range(const char* flag, T value, T lo, T hi) {
    if (!(value >= lo && value <= hi))
        throw InputError(fmt::format("{}: expected {} to {}, got {}", flag, lo, hi, value));
}

}  // namespace elm::tools
