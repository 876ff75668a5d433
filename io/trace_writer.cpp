// Trace writer (see trace_writer.hpp; spec files-and-cli.md "Traces"): option parsing, the root
// attributes, and per-sample extendible datasets fed through bounded row buffers.
#include "elmsim/io/trace_writer.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "elmsim/models/error.hpp"

namespace elm::io {
namespace {

// Chunks of at most ~1 MiB: the size of HDF5's default per-dataset chunk cache, so a chunk being
// filled never has to be re-read and re-compressed, and a reader's cache holds a whole chunk.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
constexpr hsize_t kDenseChunkRows = 256;    // y, m, b, logits: rows per chunk (before the byte cap)
constexpr hsize_t kVectorChunkRows = 8192;  // time_ms and spikes: 64 KiB / 32 KiB per chunk
// Level 1: most of the gain on float traces comes from the shuffle filter; higher levels cost
// CPU time in the simulation loop for a few percent of size.
constexpr unsigned kDeflateLevel = 1;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw InputError(where + ": " + what);
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (true) {
        const std::size_t next = s.find(',', pos);
        out.push_back(trim(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos)));
        if (next == std::string::npos) return out;
        pos = next + 1;
    }
}

bool parse_int(const std::string& s, std::int64_t& out) {
    const char* end = s.data() + s.size();
    const auto r = std::from_chars(s.data(), end, out);
    return !s.empty() && r.ec == std::errc() && r.ptr == end;
}

std::string id_range_text(int N) {
    return "N = " + std::to_string(N) + " (ids 0.." + std::to_string(N - 1) + ")";
}

}  // namespace

// ---- options -----------------------------------------------------------------------------------

std::string trace_variables_string(const TraceOptions& opt) {
    std::string s;
    const auto add = [&](bool on, const char* name) {
        if (!on) return;
        if (!s.empty()) s += ',';
        s += name;
    };
    add(opt.y, "y");
    add(opt.m, "m");
    add(opt.b, "b");
    add(opt.logits, "logits");
    add(opt.spikes, "spikes");
    return s;
}

bool set_trace_variable(TraceOptions& opt, const std::string& name) {
    bool* flag = name == "y"        ? &opt.y
                 : name == "m"      ? &opt.m
                 : name == "b"      ? &opt.b
                 : name == "logits" ? &opt.logits
                 : name == "spikes" ? &opt.spikes
                                    : nullptr;
    if (flag) *flag = true;
    return flag != nullptr;
}

TraceOptions parse_trace_options(const std::string& record, const std::string& neurons, std::int64_t decimate, int N) {
    TraceOptions opt;
    opt.y = false;
    const std::string rec = trim(record);
    if (rec.empty()) fail("--record", "expected a comma list of y, m, b, logits, spikes, found nothing");
    for (const std::string& v : split_commas(rec)) {
        if (v.empty())
            fail("--record",
                 "expected a comma list of y, m, b, logits, spikes, found an empty item in '" + record + "'");
        if (!set_trace_variable(opt, v))
            fail("--record", "unknown variable '" + v + "' (expected y, m, b, logits or spikes)");
    }

    if (decimate < 1) fail("--decimate", "expected an integer >= 1, found " + std::to_string(decimate));
    opt.decimate = decimate;

    if (N < 1) fail("--neurons", "the network has no neurons (N = " + std::to_string(N) + ")");
    const std::string sel = trim(neurons);
    if (sel.empty() || sel == "all") return opt;  // empty list = all neurons
    const std::string expected = "expected 'all', neuron ids or half-open ranges such as 0:64 or 3,5,9";
    for (const std::string& item : split_commas(sel)) {
        if (item.empty()) fail("--neurons", expected + ", found an empty item in '" + neurons + "'");
        const auto colon = item.find(':');
        std::int64_t lo = 0, hi = N;
        if (colon == std::string::npos) {
            if (!parse_int(item, lo)) fail("--neurons", expected + ", found '" + item + "'");
            if (lo < 0 || lo >= N) fail("--neurons", "neuron " + item + " is out of range for " + id_range_text(N));
            hi = lo + 1;
        } else {
            const std::string a = trim(item.substr(0, colon)), b = trim(item.substr(colon + 1));
            if ((!a.empty() && !parse_int(a, lo)) || (!b.empty() && !parse_int(b, hi)))
                fail("--neurons", expected + ", found '" + item + "'");
            if (lo < 0 || hi > N)
                fail("--neurons",
                     "range " + item + " is out of range for " + id_range_text(N) + "; the end is exclusive");
            if (lo >= hi) fail("--neurons", "range " + item + " is empty (ranges are half-open: a:b is a..b-1)");
        }
        for (std::int64_t i = lo; i < hi; ++i) opt.neurons.push_back(static_cast<std::int32_t>(i));
    }
    std::sort(opt.neurons.begin(), opt.neurons.end());
    opt.neurons.erase(std::unique(opt.neurons.begin(), opt.neurons.end()), opt.neurons.end());
    return opt;
}

// ---- one extendible dataset with its row buffer ------------------------------------------------

struct TraceWriter::Stream {
    H5Handle ds;
    hid_t mem_type = -1;
    std::size_t elem_size = 0;
    std::vector<hsize_t> row_shape;  // dims after T
    std::size_t row_elems = 1;
    hsize_t chunk_rows = 1;
    hsize_t rows_written = 0;
    std::vector<unsigned char> buf;  // buffered rows, packed
    std::size_t buf_rows = 0;

    // Creates `name` in `group` as [0, row_shape...] with an unlimited first dimension.
    Stream(hid_t group, const std::string& name, hid_t file_type, hid_t mem, std::size_t size, std::vector<hsize_t> row,
           hsize_t max_rows)
        : mem_type(mem), elem_size(size), row_shape(std::move(row)) {
        for (const hsize_t d : row_shape) row_elems *= static_cast<std::size_t>(d);
        const std::size_t row_bytes = row_elems * elem_size;
        chunk_rows = std::clamp<hsize_t>(kChunkBytes / std::max<std::size_t>(row_bytes, 1), 1, max_rows);
        std::vector<hsize_t> dims{0}, maxdims{H5S_UNLIMITED}, chunk{chunk_rows};
        for (const hsize_t d : row_shape) {
            dims.push_back(d);
            maxdims.push_back(d);
            chunk.push_back(d);
        }
        // A single row wider than the cap (very large N): split the neuron axis too, so chunks
        // stay cache-sized for readers who slice a few neurons.
        if (row_bytes > kChunkBytes && chunk.size() > 1) {
            const std::size_t inner = row_bytes / static_cast<std::size_t>(row_shape[0]);
            chunk[1] = std::max<hsize_t>(1, kChunkBytes / std::max<std::size_t>(inner, 1));
        }
        const std::string where = h5_location(group, name);
        H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data()), H5Sclose);
        H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
        if (!space.valid() || !dcpl.valid() ||
            H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()) < 0 ||
            H5Pset_shuffle(dcpl.id()) < 0 || H5Pset_deflate(dcpl.id(), kDeflateLevel) < 0)
            fail(where, "cannot set up a chunked, compressed dataset");
        ds = H5Handle(H5Dcreate2(group, name.c_str(), file_type, space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                      H5Dclose);
        if (!ds.valid()) fail(where, "cannot create the dataset (is the file writable?)");
        buf.reserve(chunk_rows * row_elems * elem_size);
    }

    void push(const void* row) {
        const auto* p = static_cast<const unsigned char*>(row);
        buf.insert(buf.end(), p, p + row_elems * elem_size);
        if (++buf_rows >= chunk_rows) flush();
    }

    // Appends the buffered rows to the dataset (one extent change, one write). Rows arrive one at
    // a time and are written at chunk_rows, so every write but a sample's last fills whole chunks.
    void flush() {
        if (buf_rows == 0) return;
        std::vector<hsize_t> dims{rows_written + buf_rows}, start{rows_written}, count{buf_rows};
        for (const hsize_t d : row_shape) {
            dims.push_back(d);
            start.push_back(0);
            count.push_back(d);
        }
        const auto failed = [&] { fail(h5_location(ds.id()), "cannot append rows to the dataset (disk full?)"); };
        if (H5Dset_extent(ds.id(), dims.data()) < 0) failed();
        H5Handle file_space(H5Dget_space(ds.id()), H5Sclose);
        // The memory space has the selection's own shape: HDF5 then copies whole rows instead of
        // mapping a flat buffer element by element (several times faster).
        H5Handle mem_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
        if (!file_space.valid() || !mem_space.valid() ||
            H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0 ||
            H5Dwrite(ds.id(), mem_type, mem_space.id(), file_space.id(), H5P_DEFAULT, buf.data()) < 0)
            failed();
        rows_written += buf_rows;
        buf.clear();  // keeps the capacity: one chunk, reused for the whole sample
        buf_rows = 0;
    }
};

// ---- writer ------------------------------------------------------------------------------------

TraceWriter::TraceWriter(const std::string& path, const std::string& model_path, const std::string& mode,
                         const TraceOptions& opt, int N, int d_m, int n_b, int n_out, const std::string& created_by)
    : out_(path), opt_(opt), N_(N), d_m_(d_m), n_b_(n_b), n_out_(n_out) {
    const std::string where = path + ": trace";
    if (mode != "clock" && mode != "event") fail(where, "expected mode 'clock' or 'event', found '" + mode + "'");
    if (!(opt.y || opt.m || opt.b || opt.logits || opt.spikes))
        fail(where, "expected at least one variable to record (y, m, b, logits, spikes), found none");
    if (opt.decimate < 1) fail(where, "expected decimate >= 1, found " + std::to_string(opt.decimate));
    if (N < 1) fail(where, "expected a network with N >= 1 neurons, found N = " + std::to_string(N));
    const auto need = [&](bool on, int dim, const char* name) {
        if (on && dim < 1)
            fail(where, std::string("expected ") + name + " >= 1 to record it, found " + std::to_string(dim));
    };
    need(opt.m, d_m, "d_m");
    need(opt.b, n_b, "n_b");
    need(opt.logits, n_out, "n_out");

    // Sorted and unique is the documented form; normalising keeps a hand-built list usable.
    sel_ = opt.neurons;
    std::sort(sel_.begin(), sel_.end());
    sel_.erase(std::unique(sel_.begin(), sel_.end()), sel_.end());
    for (const std::int32_t id : sel_)
        if (id < 0 || id >= N) fail(where, "neuron " + std::to_string(id) + " is out of range for " + id_range_text(N));
    if (sel_.empty())
        for (int i = 0; i < N; ++i) sel_.push_back(i);
    all_neurons_ = static_cast<int>(sel_.size()) == N;
    opt_.neurons = sel_;
    row_.resize(sel_.size() * static_cast<std::size_t>(std::max({1, opt.m ? d_m : 1, opt.b ? n_b : 1})));

    silence_hdf5_errors();
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0 || H5Zfilter_avail(H5Z_FILTER_SHUFFLE) <= 0)
        throw std::runtime_error("HDF5: the deflate and shuffle filters are not available in this HDF5 library");
    // The 1.8 object-header format is needed for attributes over 64 KiB (the `neurons` list of a
    // network with more than 16k neurons); h5py, MATLAB and HDF5 >= 1.8 all read it. It must be
    // set when the file is created: the root group's header format is fixed then.
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V18, H5F_LIBVER_V18) < 0)
        throw std::runtime_error("HDF5: cannot create a file-access property list");
    file_ = H5Handle(H5Fcreate(out_.tmp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose);
    if (!file_.valid()) fail(out_.tmp_path(), "cannot create the HDF5 file");

    const hid_t root = file_.id();
    write_attr_string(root, "format", "elm-trace");
    write_attr_int(root, "format_version", 1);
    write_attr_string(root, "model", model_path);
    write_attr_string(root, "mode", mode);
    write_attr_int32_array(root, "neurons", sel_);
    write_attr_int(root, "decimate", opt.decimate);
    write_attr_string(root, "variables", trace_variables_string(opt));
    write_attr_string(root, "created_by", created_by);
    write_attr_int(root, "N", N);
    write_attr_int(root, "d_m", d_m);
    write_attr_int(root, "n_b", n_b);
    write_attr_int(root, "n_out", n_out);
    write_attr_int(root, "final_logits_only", opt.logits && opt.final_logits_only ? 1 : 0);
    samples_group_ = create_group(root, "samples");
}

TraceWriter::~TraceWriter() = default;

std::size_t TraceWriter::buffered_bytes() const {
    std::size_t total = row_.capacity() * sizeof(float);
    for (const auto& s : streams_) total += s->buf.capacity();
    return total;
}

void TraceWriter::require_open(const char* call) const {
    if (committed_) throw std::logic_error(std::string("TraceWriter::") + call + ": the trace was already committed");
    if (!sample_open_)
        throw std::logic_error(std::string("TraceWriter::") + call + ": no open sample (call begin_sample first)");
}

void TraceWriter::begin_sample(std::int64_t source_index, int label) {
    if (committed_) throw std::logic_error("TraceWriter::begin_sample: the trace was already committed");
    if (sample_open_) close_sample();
    sample_group_ = create_group(samples_group_.id(), std::to_string(samples_));
    ++samples_;
    sample_open_ = true;
    updates_in_sample_ = 0;
    const hid_t g = sample_group_.id();
    write_attr_int(g, "source_index", source_index);
    if (label >= 0) write_attr_int(g, "label", label);

    const hsize_t n_sel = sel_.size();
    const auto add = [&](const char* name, hid_t file_type, hid_t mem, std::size_t size, std::vector<hsize_t> row,
                         hsize_t max_rows) {
        streams_.push_back(std::make_unique<Stream>(g, name, file_type, mem, size, std::move(row), max_rows));
        return streams_.back().get();
    };
    time_ = add("time_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double), {}, kVectorChunkRows);
    y_ = opt_.y ? add("y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {n_sel}, kDenseChunkRows) : nullptr;
    m_ = opt_.m ? add("m", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {n_sel, hsize_t(d_m_)}, kDenseChunkRows)
                : nullptr;
    b_ = opt_.b ? add("b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {n_sel, hsize_t(n_b_)}, kDenseChunkRows)
                : nullptr;
    // The final readout is a single row: a one-row chunk avoids padding it to a full chunk.
    logits_ = opt_.logits ? add("logits", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {hsize_t(n_out_)},
                                opt_.final_logits_only ? 1 : kDenseChunkRows)
                          : nullptr;
    spike_t_ = opt_.spikes ? add("spike_times", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double), {}, kVectorChunkRows)
                           : nullptr;
    spike_n_ = opt_.spikes
                   ? add("spike_neurons", H5T_STD_I32LE, H5T_NATIVE_INT32, sizeof(std::int32_t), {}, kVectorChunkRows)
                   : nullptr;
}

void TraceWriter::append(double time_ms, const float* y, const float* m, const float* b, const float* logits) {
    require_open("append");
    const auto need = [](bool on, const float* p, const char* name) {
        if (on && !p)
            throw std::logic_error(std::string("TraceWriter::append: ") + name + " is recorded but was passed null");
    };
    need(opt_.y || opt_.spikes, y, "y");
    need(opt_.m, m, "m");
    need(opt_.b, b, "b");
    need(opt_.logits && !opt_.final_logits_only, logits, "logits");

    // Spikes are events: taken at every update, whatever the decimation.
    if (spike_t_) {
        for (const std::int32_t id : sel_) {
            if (y[id] == 0.0f) continue;
            spike_t_->push(&time_ms);
            spike_n_->push(&id);
        }
    }
    const bool keep = updates_in_sample_ % opt_.decimate == 0;
    ++updates_in_sample_;
    if (!keep) return;

    time_->push(&time_ms);
    // Rows of `width` floats per neuron, gathered for the recorded neurons.
    const auto push_rows = [&](Stream* s, const float* src, std::size_t width) {
        if (all_neurons_) {
            s->push(src);
            return;
        }
        for (std::size_t j = 0; j < sel_.size(); ++j)
            std::memcpy(row_.data() + j * width, src + static_cast<std::size_t>(sel_[j]) * width,
                        width * sizeof(float));
        s->push(row_.data());
    };
    if (y_) push_rows(y_, y, 1);
    if (m_) push_rows(m_, m, static_cast<std::size_t>(d_m_));
    if (b_) push_rows(b_, b, static_cast<std::size_t>(n_b_));
    if (logits_ && !opt_.final_logits_only) logits_->push(logits);
}

void TraceWriter::end_sample(const float* final_logits, int prediction) {
    require_open("end_sample");
    if (logits_ && opt_.final_logits_only) {
        if (!final_logits)
            throw std::logic_error("TraceWriter::end_sample: final logits are recorded but were passed null");
        logits_->push(final_logits);
    }
    write_attr_int(sample_group_.id(), "prediction", prediction);
    close_sample();
}

void TraceWriter::close_sample() {
    for (auto& s : streams_) s->flush();
    streams_.clear();
    time_ = y_ = m_ = b_ = logits_ = spike_t_ = spike_n_ = nullptr;
    sample_group_.reset();
    sample_open_ = false;
}

void TraceWriter::commit() {
    if (committed_) return;
    if (sample_open_) close_sample();
    samples_group_.reset();
    if (H5Fflush(file_.id(), H5F_SCOPE_LOCAL) < 0) fail(out_.tmp_path(), "cannot flush the trace (disk full?)");
    // Release first: H5Fclose consumes the id even when it fails.
    if (H5Fclose(file_.release()) < 0) fail(out_.tmp_path(), "cannot close the trace (disk full?)");
    out_.commit();
    committed_ = true;
}

}  // namespace elm::io
