// Strict reading of one TOML table for elmsim's config files (experiment configs, sweep files): every
// read marks its key as used, and reject_unknown() turns any key nobody asked for into an error, so a
// typo is never a silently ignored setting. Errors are InputErrors that name the file, the key and
// the line: "demo.toml: train.lr: expected a positive number, got -1 (line 7)".
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "elmsim/models/error.hpp"

namespace elm::io {

// "a string", "an integer", ... for "expected X, got Y" messages.
std::string type_name(const toml::node& n);
// The value as it appears in the file.
std::string describe(const toml::node& n);
// " (line 7)", or "" when the node has no source position.
std::string line_of(const toml::node& n);

// The document of `toml_text`; a syntax error is an InputError "origin:line:column: TOML syntax error: ...".
toml::table parse_toml(const std::string& toml_text, const std::string& origin);

// One TOML table ([task], [sweep], ...) with bookkeeping of the keys that were read.
class Section {
public:
    Section(std::string origin, std::string name, const toml::table* table)
        : origin_(std::move(origin)), name_(std::move(name)), table_(table) {}

    std::string key_path(std::string_view key) const { return fmt::format("{}.{}", name_, key); }

    const toml::node* node(std::string_view key) const { return table_ ? table_->get(key) : nullptr; }
    bool has(std::string_view key) const { return node(key) != nullptr; }

    [[noreturn]] void fail(std::string_view key, const std::string& what, const toml::node* n = nullptr) const {
        throw InputError(fmt::format("{}: {}: {}{}", origin_, key_path(key), what, n ? line_of(*n) : ""));
    }

    [[noreturn]] void fail_value(std::string_view key, const std::string& expected, const toml::node& n) const {
        fail(key, fmt::format("expected {}, got {}", expected, describe(n)), &n);
    }

    // The node of `key` (marked as read), or nullptr when absent.
    const toml::node* take(std::string_view key) {
        if (!table_) return nullptr;
        const toml::node* n = table_->get(key);
        if (n) used_.insert(std::string(key));
        return n;
    }

    std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                        const std::string& expected) {
        const toml::node* n = take(key);
        if (!n) return std::nullopt;
        // A float where an integer is expected (N = 64.0) is a type error: it usually means the
        // wrong key or a unit mix-up, and silently truncating 64.5 would hide it.
        const auto* v = n->as_integer();
        if (!v) fail(key, fmt::format("expected {}, got {} ({})", expected, type_name(*n), describe(*n)), n);
        if (v->get() < min || v->get() > max) fail_value(key, expected, *n);
        return v->get();
    }

    void read(std::string_view key, int& out, int min) {
        const auto v = integer(key, min, std::numeric_limits<int>::max(), fmt::format("an integer >= {}", min));
        if (v) out = static_cast<int>(*v);
    }

    void read(std::string_view key, std::int64_t& out, std::int64_t min) {
        const auto v = integer(key, min, std::numeric_limits<std::int64_t>::max(),
                               fmt::format("an integer >= {}", min));
        if (v) out = *v;
    }

    void read(std::string_view key, std::uint64_t& out) {
        const auto v = integer(key, 0, std::numeric_limits<std::int64_t>::max(), "an integer >= 0");
        if (v) out = static_cast<std::uint64_t>(*v);
    }

    // Integers are accepted where a number is expected (lr = 1 means 1.0). `ok` is the range test,
    // `expected` says it in words; NaN and inf never pass.
    void read(std::string_view key, double& out, const std::string& expected, const std::function<bool(double)>& ok) {
        const auto v = number(key, expected);
        if (!v) return;
        if (!std::isfinite(*v) || !ok(*v)) fail_value(key, expected, *table_->get(key));
        out = *v;
    }

    std::optional<double> number(std::string_view key, const std::string& expected) {
        const toml::node* n = take(key);
        if (!n) return std::nullopt;
        if (const auto* i = n->as_integer()) return static_cast<double>(i->get());
        if (const auto* f = n->as_floating_point()) return f->get();
        fail(key, fmt::format("expected {}, got {} ({})", expected, type_name(*n), describe(*n)), n);
    }

    void read(std::string_view key, bool& out) {
        const toml::node* n = take(key);
        if (!n) return;
        const auto* v = n->as_boolean();
        if (!v) fail(key, fmt::format("expected a boolean (true or false), got {} ({})", type_name(*n), describe(*n)), n);
        out = v->get();
    }

    std::optional<std::string> string(std::string_view key) {
        const toml::node* n = take(key);
        if (!n) return std::nullopt;
        const auto* v = n->as_string();
        if (!v) fail(key, fmt::format("expected a string, got {} ({})", type_name(*n), describe(*n)), n);
        if (v->get().empty()) fail(key, "expected a non-empty string, got \"\"", n);
        return v->get();
    }

    void read(std::string_view key, std::string& out) {
        if (auto v = string(key)) out = *v;
    }

    template <class E, std::size_t K>
    void read_enum(std::string_view key, E& out, const std::array<std::pair<const char*, E>, K>& choices) {
        const auto v = string(key);
        if (!v) return;
        std::string list;
        for (const auto& [name, value] : choices) {
            if (*v == name) {
                out = value;
                return;
            }
            list += fmt::format("{}\"{}\"", list.empty() ? "" : " | ", name);
        }
        fail_value(key, list, *table_->get(key));
    }

    // After every read: any key nobody asked for is a typo or a setting this version does not know.
    void reject_unknown() const {
        if (!table_) return;
        for (const auto& [k, node] : *table_)
            if (!used_.count(std::string(k.str())))
                throw InputError(fmt::format("{}: unknown key '{}'{}", origin_, key_path(k.str()), line_of(node)));
    }

    const std::string& origin() const { return origin_; }

private:
    std::string origin_;
    std::string name_;
    const toml::table* table_;
    std::set<std::string> used_;
};
}  // namespace elm::io
