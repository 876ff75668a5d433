#include "elmsim/io/toml_section.hpp"

namespace elm::io {

std::string type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::array: return "an array";
        case toml::node_type::table: return "a table";
        default: return "a date/time";
    }
}

std::string describe(const toml::node& n) {
    if (auto v = n.as_integer()) return fmt::format("{}", v->get());
    if (auto v = n.as_floating_point()) {
        // fmt prints 64.0 as "64"; keep the decimal point so "expected an integer, got 64.0" reads right.
        std::string text = fmt::format("{}", v->get());
        if (text.find_first_of(".eEni") == std::string::npos) text += ".0";
        return text;
    }
    if (auto v = n.as_boolean()) return v->get() ? "true" : "false";
    if (auto v = n.as_string()) return fmt::format("\"{}\"", v->get());
    return type_name(n);
}

std::string line_of(const toml::node& n) {
    const auto& b = n.source().begin;
    return b.line > 0 ? fmt::format(" (line {})", b.line) : std::string();
}

toml::table parse_toml(const std::string& toml_text, const std::string& origin) {
    try {
        return toml::parse(toml_text, origin);
    } catch (const toml::parse_error& e) {
        const auto& b = e.source().begin;
        throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", origin, b.line, b.column, e.description()));
    }
}

}  // namespace elm::io
