// The exact reading of whole-number flags (integer_flags.hpp).
#include "tools/cli/integer_flags.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

namespace elm::tools {

std::string integer_flag_problem(const std::string& text, bool is_unsigned) {
    std::size_t k = 0;
    while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
    if (is_unsigned && k < text.size() && text[k] == '-')
        return fmt::format("expected a whole number >= 0, got {}", text);
    // CLI11 decides whether the text is a number of the flag's exact type; only the range of the
    // 64-bit conversion it goes through is checked here (a narrower type's range is CLI11's).
    errno = 0;
    char* end = nullptr;
    if (is_unsigned)
        static_cast<void>(std::strtoull(text.c_str(), &end, 0));
    else
        static_cast<void>(std::strtoll(text.c_str(), &end, 0));
    if (errno == ERANGE)
        return is_unsigned ? fmt::format("expected a whole number from 0 to 18446744073709551615, got {}", text)
                           : fmt::format("expected a whole number from -9223372036854775808 to 9223372036854775807, "
                                         "got {}", text);
    return "";
}

void check_integer_flags(CLI::App& app) {
    for (CLI::Option* opt : app.get_options()) {
        const std::string type = opt->get_type_name();
        if (type != "INT" && type != "UINT") continue;
        const bool is_unsigned = type == "UINT";
        opt->check(CLI::Validator([is_unsigned](std::string& text) { return integer_flag_problem(text, is_unsigned); },
                                  "", "exact integer"));
    }
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) check_integer_flags(*sub);
}

}  // namespace elm::tools
