#include "elmsim/io/split.hpp"

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::io {

std::string to_string(Split s) {
    switch (s) {
        case Split::train: return "train";
        case Split::valid: return "valid";
        case Split::test: return "test";
    }
    return "?";
}

Split split_from_string(const std::string& s) {
    if (s == "train") return Split::train;
    if (s == "valid") return Split::valid;
    if (s == "test") return Split::test;
    throw ParameterError("split", fmt::format("expected \"train\", \"valid\" or \"test\", got \"{}\"", s));
}

}  // namespace elm::io
