// The CLI's side of "library errors never name CLI flags": library calls throw ParameterError with the
// parameter's API name ("resolution_ms"); a command that fed that parameter from a flag reports it
// under the flag ("--resolution-ms: expected ..."), which is what its user typed.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "elmsim/models/error.hpp"

namespace elm::tools {

using FlagNames = std::initializer_list<std::pair<const char*, const char*>>;  // parameter -> flag

template <class F>
auto with_flag_names(FlagNames flags, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const ParameterError& e) {
        for (const auto& [parameter, flag] : flags)
            if (e.parameter() == parameter) throw InputError(std::string(flag) + ": " + e.problem());
        throw;
    }
}

}  // namespace elm::tools
