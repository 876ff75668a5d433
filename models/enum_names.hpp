// Name tables of the model's and training's enumerated settings ({"name", value} pairs, in the order an
// error lists them): one table per setting, read by the config parser, the checkpoint reader and
// to_string alike, so a name is spelled once.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::models {

// The name of `value` in `table` ("?" for a value the table lacks).
template <class Table, class E>
std::string name_in(const Table& table, E value) {
    for (const auto& [name, v] : table)
        if (v == value) return name;
    return "?";
}

// The value named `s` in `table`; otherwise ParameterError(parameter, `expected "a" or "b", got "s"`).
template <class Table>
auto value_in(const Table& table, std::string_view s, const char* parameter) {
    std::string expected;
    for (std::size_t k = 0; k < table.size(); ++k) {
        if (s == table[k].first) return table[k].second;
        expected += fmt::format("{}\"{}\"", k == 0 ? "" : k + 1 == table.size() ? " or " : ", ", table[k].first);
    }
    throw ParameterError(parameter, fmt::format("expected {}, got \"{}\"", expected, s));
}

}  // namespace elm::models
