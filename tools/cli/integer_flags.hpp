// Whole-number flags are read exactly or refused. CLI11 (2.1) reads an unsigned flag through
// strtoull, which takes "-1" as 18446744073709551615, and saturates a 64-bit flag past its range
// (99999999999999999999 becomes the largest int64) without a word; a command's own range check then
// sees a value its user never typed, or arithmetic on it wraps. This adds one check to every integer
// flag of every command, run on the text before CLI11 converts it.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace elm::tools {

// "" when `text` is a whole number that fits the flag's 64-bit type (no minus sign for an unsigned
// one); otherwise what is wrong, for CLI11's "FLAG: MESSAGE" line.
std::string integer_flag_problem(const std::string& text, bool is_unsigned);

// Adds the check to every option of `app` and its subcommands whose type is a signed or unsigned
// integer (CLI11's type names INT and UINT; optional and vector values included). Call after every
// command is registered.
void check_integer_flags(CLI::App& app);

}  // namespace elm::tools
