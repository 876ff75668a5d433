// Model checkpoint writer and validating reader (spec files-and-cli.md "Model checkpoint"); the
// layout and the extra attributes are documented in io/checkpoint.hpp. All HDF5 access goes through
// io/hdf5_file.hpp so that errors carry "<file>: <path in file>".
#include "elmsim/io/checkpoint.hpp"

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/vlen_guard.hpp"
#include "elmsim/models/connectivity.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/train_config.hpp"

namespace elm::io {

namespace {

using models::ModelConfig;
using models::Network;
using models::TensorSpec;

std::vector<hsize_t> to_hsize(const std::vector<std::size_t>& shape) {
    return std::vector<hsize_t>(shape.begin(), shape.end());
}

std::string shape_text(const std::vector<hsize_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
    return s + "]";
}

[[noreturn]] void fail(const std::string& file, const std::string& where, const std::string& what) {
    throw InputError(fmt::format("{}: {}: {}", file, where, what));
}

bool is_optimizer_name(const std::string& s) { return models::optimizer_from_string(s, nullptr); }

// The first non-finite value of a buffer, as " (nan at index 17)", or "" when all are finite.
std::string first_non_finite(const float* p, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k)
        if (!std::isfinite(p[k])) return fmt::format("{} at flat index {}", p[k], k);
    return "";
}

// ---- writing -------------------------------------------------------------------------------

void write_model_attrs(hid_t g, const ModelConfig& c) {
    write_attr_int(g, "N", c.N);
    write_attr_int(g, "C", c.input_width());
    write_attr_int(g, "C_task", c.C);
    write_attr_int(g, "n_out", c.n_out);
    write_attr_int(g, "d_m", c.d_m);
    write_attr_int(g, "d_h", c.d_h);
    write_attr_int(g, "n_b", c.n_b);
    write_attr_int(g, "l", c.l);
    write_attr_int(g, "k_c", c.k_c);
    write_attr_int(g, "k_in", c.k_in());
    write_attr_int(g, "C_e", c.C_e);
    write_attr_string(g, "output_mode", models::to_string(c.output_mode));
    write_attr_string(g, "phi", models::to_string(c.phi));
    write_attr_double(g, "dt_ms", c.dt_ms);
    write_attr_double(g, "lambda", c.lambda);
    write_attr_double(g, "tau_b_ms", c.tau_b_ms);
    write_attr_double(g, "tau_min_ms", c.tau_min_ms);
    write_attr_double(g, "tau_max_ms", c.tau_max_ms);
    write_attr_double(g, "theta", c.theta);
    write_attr_double(g, "beta", c.beta);
    // The seed is a uint64; the attribute is int64 (what h5py and most readers expect of an integer
    // attribute), so seeds >= 2^63 appear negative there but round-trip exactly here.
    write_attr_int(g, "seed", static_cast<std::int64_t>(c.seed));
    write_attr_int(g, "learn_tau_m", c.learn_tau_m ? 1 : 0);
    write_attr_double(g, "tau_v_ms", c.tau_v_ms);
    write_attr_double(g, "tau_init_min_ms", c.tau_init_min_ms);
    write_attr_double(g, "tau_init_max_ms", c.tau_init_max_ms);
    write_attr_double(g, "input_share", c.input_share);
    write_attr_int(g, "self_synapse", c.self_synapse ? 1 : 0);
    write_attr_string(g, "drive", models::to_string(c.drive));
    write_attr_string(g, "memory_gain", models::to_string(c.memory_gain));
    write_attr_string(g, "memory_input", models::to_string(c.memory_input));
}

void check_train_state(const std::string& path, const Network<float>& net, const models::TrainState& t) {
    if (!is_optimizer_name(t.optimizer))
        throw InputError(fmt::format("{}: /train: optimizer must be \"sgd\", \"adam\" or \"adamax\", got \"{}\"", path,
                                     t.optimizer));
    for (const auto* m : {&t.moment1, &t.moment2})
        if (!m->empty() && m->size() != net.params.size())
            throw std::invalid_argument(fmt::format("save_checkpoint {}: optimizer moment has {} values, the layout {}",
                                                    path, m->size(), net.params.size()));
    std::set<std::string> names;
    auto check_name = [&](const std::string& n) {
        if (n.empty() || n.find('/') != std::string::npos || n == "." || !names.insert(n).second)
            throw InputError(fmt::format("{}: /train/state: array name \"{}\" is empty, contains '/' or repeats",
                                         path, n));
    };
    for (const auto& [n, v] : t.int_arrays) check_name(n);
    for (const auto& [n, v] : t.float_arrays) check_name(n);
}

void write_train(hid_t file, const Network<float>& net, const models::TrainState& t) {
    H5Handle g = create_group(file, "train");
    write_attr_int(g.id(), "step", t.step);
    write_attr_int(g.id(), "epoch", t.epoch);
    write_attr_double(g.id(), "best_metric", t.best_metric);
    write_attr_string(g.id(), "optimizer", t.optimizer);
    write_attr_int(g.id(), "optimizer_t", t.optimizer_t);
    write_attr_uint64_array(g.id(), "rng_state", std::vector<std::uint64_t>(t.rng.begin(), t.rng.end()));
    const auto tensors = net.layout.tensors();
    for (const auto& [moment, group] : {std::pair{&t.moment1, "optimizer/m1"}, std::pair{&t.moment2, "optimizer/m2"}}) {
        if (moment->empty()) continue;
        H5Handle mg = create_group(g.id(), group);
        for (const TensorSpec* s : tensors)
            write_dataset<float>(mg.id(), s->name, moment->data() + s->offset, to_hsize(s->shape));
    }
    H5Handle sg = create_group(g.id(), "state");
    for (const auto& [name, v] : t.int_arrays) write_dataset<std::int64_t>(sg.id(), name, v.data(), {v.size()});
    for (const auto& [name, v] : t.float_arrays) write_dataset<float>(sg.id(), name, v.data(), {v.size()});
}

// ---- reading -------------------------------------------------------------------------------

struct AttrReader {
    const std::string& file;
    hid_t obj;
    const char* where;  // "/model"

    int integer(const char* name, std::int64_t min = std::numeric_limits<int>::min()) const {
        const std::int64_t v = read_attr_int(obj, name);
        if (v < min || v > std::numeric_limits<int>::max())
            fail(file, where, fmt::format("attribute {}: expected an integer >= {}, found {}", name, min, v));
        return static_cast<int>(v);
    }
    bool flag(const char* name) const {
        const std::int64_t v = read_attr_int(obj, name);
        if (v != 0 && v != 1) fail(file, where, fmt::format("attribute {}: expected 0 or 1, found {}", name, v));
        return v == 1;
    }
    double real(const char* name) const {
        const double v = read_attr_double(obj, name);
        if (!std::isfinite(v)) fail(file, where, fmt::format("attribute {}: expected a finite number, found {}", name, v));
        return v;
    }
    bool has(const char* name) const { return has_attribute(obj, name); }
};

ModelConfig read_model_config(const std::string& file, hid_t g) {
    const AttrReader a{file, g, "/model"};
    ModelConfig c;
    c.N = a.integer("N", 1);
    c.n_out = a.integer("n_out", 1);
    c.d_m = a.integer("d_m", 0);
    c.d_h = a.integer("d_h", 0);
    c.n_b = a.integer("n_b", 0);
    c.l = a.integer("l", 0);
    c.k_c = a.integer("k_c", 1);
    c.C_e = a.integer("C_e", 0);
    const int width = a.integer("C", 1);
    const int k_in = a.integer("k_in", 0);
    try {
        c.output_mode = models::output_mode_from_string(read_attr_string(g, "output_mode"));
        c.phi = models::phi_from_string(read_attr_string(g, "phi"));
    } catch (const InputError& e) {
        fail(file, "/model", fmt::format("attribute {}", e.what()));
    }
    c.dt_ms = a.real("dt_ms");
    c.lambda = a.real("lambda");
    c.tau_b_ms = a.real("tau_b_ms");
    c.tau_min_ms = a.real("tau_min_ms");
    c.tau_max_ms = a.real("tau_max_ms");
    c.theta = a.real("theta");
    c.beta = a.real("beta");
    c.seed = static_cast<std::uint64_t>(read_attr_int(g, "seed"));
    c.learn_tau_m = a.flag("learn_tau_m");
    c.tau_v_ms = a.real("tau_v_ms");
    // Extras of this writer; defaults for files from other writers.
    if (a.has("tau_init_min_ms")) c.tau_init_min_ms = a.real("tau_init_min_ms");
    if (a.has("tau_init_max_ms")) c.tau_init_max_ms = a.real("tau_init_max_ms");
    if (a.has("self_synapse")) c.self_synapse = a.flag("self_synapse");
    // A named rule written since it became a choice; `before` is the rule of files without it.
    const auto rule = [&](const char* name, auto before, auto from_string) -> decltype(before) {
        if (!a.has(name)) return before;
        try {
            return from_string(read_attr_string(g, name));
        } catch (const InputError& e) {
            fail(file, "/model", fmt::format("attribute {}", e.what()));
        }
    };
    c.drive = rule("drive", models::DriveRule::per_update, models::drive_rule_from_string);  // spec section 5
    c.memory_gain = rule("memory_gain", models::MemoryGain::lambda_decay, models::memory_gain_from_string);
    c.memory_input = rule("memory_input", models::MemoryInput::step_decay, models::memory_input_from_string);
    c.input_share = a.has("input_share") ? a.real("input_share") : static_cast<double>(k_in) / c.k_c;
    // With an embedding the task is bytes (C = 256, checked by validate); without, C is the task's C.
    c.C = a.has("C_task") ? a.integer("C_task", 1) : (c.C_e > 0 ? 256 : width);

    if (width != c.input_width())
        fail(file, "/model", fmt::format("attribute C = {} does not match the input width {} (C_e = {}, C_task = {})",
                                         width, c.input_width(), c.C_e, c.C));
    if (k_in != c.k_in())
        fail(file, "/model", fmt::format("attribute k_in = {} does not match round(k_c * input_share) = round({} * {}) = {}",
                                         k_in, c.k_c, c.input_share, c.k_in()));
    try {
        c.validate();
    } catch (const InputError& e) {
        fail(file, "/model", e.what());
    }
    return c;
}

// Shape check before reading, so a corrupted file cannot make us allocate its bogus size.
void expect_shape(const std::string& file, hid_t loc, const std::string& path, const std::vector<hsize_t>& expected) {
    const auto found = dataset_shape(loc, path);
    if (found != expected)
        fail(file, path, fmt::format("expected shape {}, found {}", shape_text(expected), shape_text(found)));
}

std::vector<std::int32_t> read_src(const std::string& file, hid_t f, const ModelConfig& c) {
    const std::string path = "/model/src";
    expect_shape(file, f, path, {static_cast<hsize_t>(c.N), static_cast<hsize_t>(c.k_c)});
    auto src = read_dataset<std::int32_t>(f, path);
    try {
        models::validate_connectivity(c, src);
    } catch (const InputError& e) {
        throw InputError(fmt::format("{}: /{}", file, e.what()));
    }
    // The attrs promise k_in inputs per row; an engine that trusts them must not meet other rows.
    const int width = c.input_width();
    for (int i = 0; i < c.N; ++i) {
        int inputs = 0;
        for (int k = 0; k < c.k_c; ++k) inputs += src[static_cast<std::size_t>(i) * c.k_c + k] < width;
        if (inputs != c.k_in())
            fail(file, path, fmt::format("row {} has {} input sources, expected k_in = {}", i, inputs, c.k_in()));
    }
    return src;
}

// Reads /<group>/<name> for every present tensor into `out` (ParamLayout order), checking shapes;
// non-finite values are errors when `finite` is set.
void read_tensors(const std::string& file, hid_t f, const std::string& group, const models::ParamLayout& layout,
                  std::vector<float>& out, bool finite) {
    out.assign(layout.total_size(), 0.0f);
    for (const TensorSpec* s : layout.tensors()) {
        const std::string path = group + "/" + s->name;
        expect_shape(file, f, path, to_hsize(s->shape));
        const auto v = read_dataset<float>(f, path);
        if (finite) {
            const std::string bad = first_non_finite(v.data(), v.size());
            if (!bad.empty()) fail(file, path, fmt::format("expected finite parameters, found {}", bad));
        }
        std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(s->offset));
    }
}

// Names of the links in a group, in HDF5's name order.
std::vector<std::string> group_members(const std::string& file, hid_t g, const std::string& where) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) fail(file, where, "cannot list the group");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (len < 0) fail(file, where, "cannot read a member name");
        std::string name(static_cast<std::size_t>(len) + 1, '\0');
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
        name.resize(static_cast<std::size_t>(len));
        names.push_back(name);
    }
    return names;
}

models::TrainState read_train(const std::string& file, hid_t f, const models::ParamLayout& layout) {
    H5Handle g = open_group(f, "/train");
    models::TrainState t;
    t.step = read_attr_int(g.id(), "step");
    t.epoch = read_attr_int(g.id(), "epoch");
    t.best_metric = read_attr_double(g.id(), "best_metric");
    t.optimizer = read_attr_string(g.id(), "optimizer");
    if (!is_optimizer_name(t.optimizer))
        fail(file, "/train", fmt::format("attribute optimizer: expected \"sgd\", \"adam\" or \"adamax\", found \"{}\"",
                                         t.optimizer));
    t.optimizer_t = read_attr_int(g.id(), "optimizer_t");
    if (t.step < 0 || t.epoch < 0 || t.optimizer_t < 0)
        fail(file, "/train", fmt::format("attributes step, epoch, optimizer_t: expected >= 0, found {}, {}, {}", t.step,
                                         t.epoch, t.optimizer_t));
    const auto rng = read_attr_uint64_array(g.id(), "rng_state");
    if (rng.size() != t.rng.size())
        fail(file, "/train", fmt::format("attribute rng_state: expected 4 values, found {}", rng.size()));
    if (rng[0] == 0 && rng[1] == 0 && rng[2] == 0 && rng[3] == 0)
        fail(file, "/train", "attribute rng_state: all zero (xoshiro256** would only ever return 0)");
    std::copy(rng.begin(), rng.end(), t.rng.begin());
    if (has_path(f, "/train/optimizer/m1")) read_tensors(file, f, "/train/optimizer/m1", layout, t.moment1, true);
    if (has_path(f, "/train/optimizer/m2")) read_tensors(file, f, "/train/optimizer/m2", layout, t.moment2, true);
    if (has_path(f, "/train/state")) {
        H5Handle sg = open_group(f, "/train/state");
        for (const auto& name : group_members(file, sg.id(), "/train/state")) {
            const std::string path = "/train/state/" + name;
            const auto shape = dataset_shape(f, path);
            if (shape.size() != 1) fail(file, path, fmt::format("expected a 1-D array, found shape {}", shape_text(shape)));
            H5Handle ds = open_dataset(f, path);
            H5Handle type(H5Dget_type(ds.id()), H5Tclose);
            if (H5Tget_class(type.id()) == H5T_INTEGER)
                t.int_arrays.emplace_back(name, read_dataset<std::int64_t>(f, path));
            else
                t.float_arrays.emplace_back(name, read_dataset<float>(f, path));
        }
    }
    return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const Network<float>& net, const std::string& config_toml,
                     const models::TrainState* train, const std::string& created_by) {
    if (net.params.size() != net.layout.total_size() ||
        net.src.size() != static_cast<std::size_t>(net.cfg.N) * net.cfg.k_c)
        throw std::invalid_argument(fmt::format("save_checkpoint {}: network buffers do not match its config", path));
    try {
        net.cfg.validate();
    } catch (const InputError& e) {
        fail(path, "/model", e.what());
    }
    // Refuse to write what load_checkpoint would reject: a NaN model is a failed run, not a checkpoint.
    for (const TensorSpec* s : net.layout.tensors()) {
        const std::string bad = first_non_finite(net.tensor(s->id), s->size);
        if (!bad.empty()) fail(path, "/model/" + s->name, fmt::format("refusing to save non-finite parameters: {}", bad));
    }
    if (train) check_train_state(path, net, *train);

    ensure_writable_dir(path);
    AtomicOutput out(path);
    {
        H5File f = H5File::create(out.tmp_path());
        write_attr_string(f.id(), "format", kCheckpointFormat);
        write_attr_int(f.id(), "format_version", kCheckpointFormatVersion);
        write_attr_string(f.id(), "created_by", created_by);
        write_string_dataset(f.id(), "config", config_toml);
        H5Handle g = create_group(f.id(), "model");
        write_model_attrs(g.id(), net.cfg);
        write_dataset<std::int32_t>(g.id(), "src", net.src.data(),
                                    {static_cast<hsize_t>(net.cfg.N), static_cast<hsize_t>(net.cfg.k_c)});
        for (const TensorSpec* s : net.layout.tensors())
            write_dataset<float>(g.id(), s->name, net.tensor(s->id), to_hsize(s->shape));
        g.reset();
        if (train) write_train(f.id(), net, *train);
        f.close();
    }
    out.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
    check_in_isolated_process(IsolatedKind::checkpoint, path);  // a file without checksums: read apart first
    H5File f = H5File::open_read(path);
    // Checkpoints written before checksums keep their strings in the global heap: checked first.
    check_global_heaps(path);
    const std::string format = read_attr_string(f.id(), "format");
    if (format != kCheckpointFormat)
        fail(path, "/", fmt::format("attribute format: expected \"{}\", found \"{}\"", kCheckpointFormat, format));
    const std::int64_t version = read_attr_int(f.id(), "format_version");
    if (version != kCheckpointFormatVersion)
        fail(path, "/", fmt::format("attribute format_version: expected {}, found {} (written by a newer elmsim?)",
                                    kCheckpointFormatVersion, version));
    std::string config = read_string_dataset(f.id(), "/config");

    H5Handle g = open_group(f.id(), "/model");
    const ModelConfig cfg = read_model_config(path, g.id());
    Network<float> net(cfg);
    net.src = read_src(path, f.id(), cfg);
    read_tensors(path, f.id(), "/model", net.layout, net.params, true);

    std::optional<models::TrainState> train;
    if (has_path(f.id(), "/train")) train = read_train(path, f.id(), net.layout);
    const bool drive_declared = has_attribute(g.id(), "drive");
    const bool memory_gain_declared = has_attribute(g.id(), "memory_gain");
    const bool memory_input_declared = has_attribute(g.id(), "memory_input");
    return Checkpoint{std::move(net),   std::move(config),    std::move(train), drive_declared, memory_gain_declared,
                      memory_input_declared};
}

}  // namespace elm::io
