// Strict reader of sweep files ([sweep] and its [[sweep.scan]] entries) on io::Section.
#include "elmsim/io/sweep_config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "elmsim/io/input_file.hpp"
#include "elmsim/io/toml_section.hpp"

namespace elm::io {

namespace {

constexpr std::array<std::pair<const char*, SweepMetric>, 3> kMetricNames{
    {{"test_loss", SweepMetric::test_loss}, {"test_accuracy", SweepMetric::test_accuracy},
     {"test_bpc", SweepMetric::test_bpc}}};

const toml::array& array_of(Section& s, std::string_view key, const toml::node& n, const std::string& expected) {
    const auto* arr = n.as_array();
    if (!arr || arr->empty()) s.fail_value(key, expected, n);
    return *arr;
}

std::vector<double> read_budgets(Section& s) {
    const toml::node* n = s.take("budgets");
    if (!n) s.fail("budgets", "missing: the target parameter counts P, e.g. budgets = [2e3, 2e4, 2e5]");
    const std::string expected = "a non-empty array of budgets P > 0";
    std::vector<double> out;
    for (const auto& e : array_of(s, "budgets", *n, expected)) {
        double v = 0.0;
        if (const auto* i = e.as_integer()) v = static_cast<double>(i->get());
        else if (const auto* f = e.as_floating_point()) v = f->get();
        else s.fail("budgets", fmt::format("element {}: expected a number, got {}", out.size(), type_name(e)), n);
        if (!std::isfinite(v) || v < 1.0 || v > 1e15)
            s.fail("budgets", fmt::format("element {}: expected a budget P in [1, 1e15], got {}", out.size(), describe(e)), n);
        if (std::find(out.begin(), out.end(), v) != out.end())
            s.fail("budgets", fmt::format("element {}: budget {} appears twice", out.size(), describe(e)), n);
        out.push_back(v);
    }
    return out;
}

std::vector<int> read_ints(Section& s, std::string_view key, const toml::node& n, int min, const std::string& expected) {
    std::vector<int> out;
    for (const auto& e : array_of(s, key, n, expected)) {
        const auto* i = e.as_integer();
        if (!i || i->get() < min || i->get() > std::numeric_limits<int>::max())
            s.fail(key, fmt::format("element {}: expected an integer >= {}, got {}", out.size(), min, describe(e)), &n);
        if (std::find(out.begin(), out.end(), static_cast<int>(i->get())) != out.end())
            s.fail(key, fmt::format("element {}: {} appears twice", out.size(), i->get()), &n);
        out.push_back(static_cast<int>(i->get()));
    }
    return out;
}

std::vector<models::Axis> read_axes(Section& s) {
    const toml::node* n = s.take("axes");
    if (!n) return {models::Axis::k_e};
    const std::string expected = "a non-empty array of axes \"N\" | \"k_e\" | \"k_c\"";
    std::vector<models::Axis> out;
    for (const auto& e : array_of(s, "axes", *n, expected)) {
        const auto* v = e.as_string();
        if (!v || (v->get() != "N" && v->get() != "k_e" && v->get() != "k_c"))
            s.fail("axes", fmt::format("element {}: expected \"N\" | \"k_e\" | \"k_c\", got {}", out.size(), describe(e)), n);
        const models::Axis a = models::axis_from_string(v->get());
        if (std::find(out.begin(), out.end(), a) != out.end())
            s.fail("axes", fmt::format("element {}: axis {} appears twice", out.size(), v->get()), n);
        out.push_back(a);
    }
    return out;
}

SweepScan read_scan(const toml::node& n, const std::string& origin, std::size_t index) {
    const std::string name = fmt::format("sweep.scan[{}]", index);
    if (!n.is_table()) throw InputError(fmt::format("{}: {}: expected a table, got {}{}", origin, name, type_name(n), line_of(n)));
    Section s(origin, name, n.as_table());
    SweepScan scan;
    const auto axis = s.string("axis");
    if (!axis) s.fail("axis", "missing: the axis this scan varies, \"N\" | \"d_m\" | \"k_c\"");
    if (*axis == "k_e")
        s.fail("axis", "scan k_e through \"d_m\" (the values are then d_m; k_e follows from d_m and d_h)", s.node("axis"));
    if (*axis != "N" && *axis != "d_m" && *axis != "k_c") s.fail_value("axis", "\"N\" | \"d_m\" | \"k_c\"", *s.node("axis"));
    scan.axis = *axis;
    const toml::node* values = s.take("values");
    if (!values) s.fail("values", "missing: the values of the scanned axis, e.g. values = [16, 32, 64]");
    scan.values = read_ints(s, "values", *values, 1, "a non-empty array of integers >= 1");
    if (scan.values.size() < 2) s.fail("values", "expected at least 2 values for a scan", values);
    if (const toml::node* f = s.take("fixed")) {
        if (!f->is_table()) s.fail_value("fixed", "a table such as { d_m = 8, k_c = 16 }", *f);
        for (const auto& [k, v] : *f->as_table()) {
            const std::string key(k.str());
            static const std::set<std::string> allowed = {"N", "d_m", "d_h", "k_c", "n_b", "l"};
            if (!allowed.count(key))
                s.fail("fixed", fmt::format("unknown key '{}' (expected N, d_m, d_h, k_c, n_b, l)", key), &v);
            if (key == scan.axis) s.fail("fixed", fmt::format("'{}' is the scanned axis", key), &v);
            const auto* i = v.as_integer();
            if (!i || i->get() < 1 || i->get() > std::numeric_limits<int>::max())
                s.fail("fixed", fmt::format("{}: expected an integer >= 1, got {}", key, describe(v)), &v);
            scan.fixed[key] = static_cast<int>(i->get());
        }
    }
    s.reject_unknown();
    return scan;
}

std::string resolve(const std::string& p, const std::string& base_dir) {
    namespace fs = std::filesystem;
    if (base_dir.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(base_dir) / p).lexically_normal().string();
}

}  // namespace

std::string to_string(SweepMetric m) {
    for (const auto& [name, v] : kMetricNames)
        if (v == m) return name;
    return "?";
}

SweepConfig parse_sweep_config(const std::string& toml_text, const std::string& origin, const std::string& base_dir) {
    const toml::table root = parse_toml(toml_text, origin);
    for (const auto& [k, node] : root)
        if (k.str() != "sweep")
            throw InputError(fmt::format("{}: unknown key '{}'{} (a sweep file has one table, [sweep])", origin, k.str(),
                                         line_of(node)));
    const toml::node* top = root.get("sweep");
    if (!top || !top->is_table())
        throw InputError(fmt::format("{}: sweep: missing the table [sweep] (is this an experiment config? a sweep file "
                                     "names one in sweep.base)", origin));
    Section s(origin, "sweep", top->as_table());
    SweepConfig c;
    c.origin = origin;
    c.toml_text = toml_text;
    const auto base = s.string("base");
    if (!base) s.fail("base", "missing: the experiment config every run starts from");
    c.base_path = resolve(*base, base_dir);
    c.budgets = read_budgets(s);
    s.read("tolerance", c.tolerance, "a relative tolerance in (0, 1)", [](double v) { return v > 0.0 && v < 1.0; });
    c.axes = read_axes(s);
    s.read("points", c.points, 2);
    if (const toml::node* n = s.take("seeds")) {
        c.seeds.clear();
        for (int v : read_ints(s, "seeds", *n, 0, "a non-empty array of seeds (integers >= 0)"))
            c.seeds.push_back(static_cast<std::uint64_t>(v));
    }
    const bool has_steps = s.has("steps"), has_minutes = s.has("minutes");
    if (has_steps && has_minutes) s.fail("minutes", "given together with sweep.steps; a run is bounded by one of them", s.node("minutes"));
    if (!has_steps && !has_minutes) s.fail("steps", "missing: optimizer steps per run (or minutes = a wall-clock budget per run)");
    s.read("steps", c.steps, 1);
    s.read("minutes", c.minutes, "a duration > 0 minutes", [](double v) { return v > 0.0 && v < 1e6; });
    s.read_enum("metric", c.metric, kMetricNames);
    s.read("workers", c.workers, 1);
    s.read("threads", c.threads, 1);
    s.read("checkpoint_every", c.checkpoint_every, 0);
    s.read("stale_minutes", c.stale_minutes, "a duration > 0 minutes", [](double v) { return v > 0.0; });
    if (const toml::node* n = s.take("scan")) {
        const auto* arr = n->as_array();
        if (!arr) s.fail_value("scan", "an array of tables [[sweep.scan]]", *n);
        for (std::size_t k = 0; k < arr->size(); ++k) c.scans.push_back(read_scan(*arr->get(k), origin, k));
    }
    s.reject_unknown();
    return c;
}

SweepConfig load_sweep_config(const std::string& path) {
    require_regular_input(path, "sweep file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open sweep file ({})", path, std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_sweep_config(text.str(), path, std::filesystem::path(path).parent_path().string());
}

}  // namespace elm::io
