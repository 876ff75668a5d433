// Trace writer (see trace_writer.hpp; spec files-and-cli.md "Traces"): the root attributes and
// per-sample extendible datasets fed through bounded row buffers.
#include "elmsim/io/trace_writer.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

#include "elmsim/io/hdf5_file.hpp"
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

// ---- one extendible dataset with its row buffer ------------------------------------------------

namespace {


struct Stream {
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
            H5Pset_shuffle(dcpl.id()) < 0 || H5Pset_deflate(dcpl.id(), kDeflateLevel) < 0 ||
            H5Pset_fletcher32(dcpl.id()) < 0)  // last: the checksum of the stored bytes, checked first on read
            fail(where, "cannot set up a chunked, compressed, checksummed dataset");
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

}  // namespace

// ---- writer ------------------------------------------------------------------------------------

struct TraceWriter::Impl {
    explicit Impl(const std::string& path) : out(path) {}

    void prepare(const RecordingSetup& setup);
    // One sample being written: its group and its extendible datasets.
    struct OpenSample {
        H5Handle group;
        std::vector<std::unique_ptr<Stream>> streams;  // time_ms, y, m, b, logits, spike_times, spike_neurons
        Stream *time = nullptr, *y = nullptr, *m = nullptr, *b = nullptr, *logits = nullptr;
        Stream *spike_t = nullptr, *spike_n = nullptr;
        std::int64_t updates = 0;
    };

    OpenSample& open_sample(int handle, const char* call);
    int begin_sample(std::int64_t source_index, int label);
    void write(int handle, double time_ms, const float* y, const float* m, const float* b, const float* logits);
    void end_sample(int handle, const float* final_logits, int prediction);
    void close_sample(OpenSample& s);
    void commit();

    AtomicOutput out;
    H5Handle file;  // declared after out: closed before AtomicOutput removes an uncommitted .tmp
    H5Handle samples_group;
    TraceOptions opt;
    int N = 0, d_m = 0, n_b = 0, n_out = 0;
    std::vector<std::int32_t> sel;  // recorded neuron ids (all of 0..N-1 when opt.neurons is empty)
    bool all_neurons = false;       // sel == 0..N-1: copy rows without gathering
    std::vector<float> row;         // gather scratch, one row of the widest variable

    std::map<int, OpenSample> open;  // by handle = the sample's number
    int last_begun = -1;             // the handle of the single-sample calls
    std::int64_t samples = 0;
    bool prepared = false;
    bool committed = false;
};

void TraceWriter::Impl::prepare(const RecordingSetup& setup) {
    if (prepared) throw std::logic_error("TraceWriter::prepare: called twice");
    const TraceOptions& o = setup.what;
    const std::string where = out.final_path() + ": trace";
    if (setup.mode != "clock" && setup.mode != "event")
        fail(where, "expected mode 'clock' or 'event', found '" + setup.mode + "'");
    if (!(o.y || o.m || o.b || o.logits || o.spikes))
        fail(where, "expected at least one variable to record (y, m, b, logits, spikes), found none");
    if (o.decimate < 1) fail(where, "expected decimate >= 1, found " + std::to_string(o.decimate));
    if (setup.N < 1) fail(where, "expected a network with N >= 1 neurons, found N = " + std::to_string(setup.N));
    const auto need = [&](bool on, int dim, const char* name) {
        if (on && dim < 1)
            fail(where, std::string("expected ") + name + " >= 1 to record it, found " + std::to_string(dim));
    };
    need(o.m, setup.d_m, "d_m");
    need(o.b, setup.n_b, "n_b");
    need(o.logits, setup.n_out, "n_out");

    // Sorted and unique is the documented form; normalising keeps a hand-built list usable.
    sel = o.neurons;
    std::sort(sel.begin(), sel.end());
    sel.erase(std::unique(sel.begin(), sel.end()), sel.end());
    for (const std::int32_t id : sel)
        if (id < 0 || id >= setup.N)
            fail(where, "neuron " + std::to_string(id) + " is out of range for " + id_range_text(setup.N));
    if (sel.empty())
        for (int i = 0; i < setup.N; ++i) sel.push_back(i);
    opt = o;
    N = setup.N;
    d_m = setup.d_m;
    n_b = setup.n_b;
    n_out = setup.n_out;
    all_neurons = static_cast<int>(sel.size()) == N;
    opt.neurons = sel;
    row.resize(sel.size() * static_cast<std::size_t>(std::max({1, o.m ? d_m : 1, o.b ? n_b : 1})));

    silence_hdf5_errors();
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0 || H5Zfilter_avail(H5Z_FILTER_SHUFFLE) <= 0)
        throw std::runtime_error("HDF5: the deflate and shuffle filters are not available in this HDF5 library");
    // The 1.10 format (set when the file is created: the root group's header format is fixed then):
    // attributes over 64 KiB (the `neurons` list of a network with more than 16k neurons), and
    // checksums on every piece of metadata, chunk indexes included, so damage is reported, never
    // read (io/hdf5_file.hpp). h5py, MATLAB R2021+ and HDF5 >= 1.10 read it.
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V110, H5F_LIBVER_V110) < 0)
        throw std::runtime_error("HDF5: cannot create a file-access property list");
    file = H5Handle(H5Fcreate(out.tmp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose);
    if (!file.valid()) fail(out.tmp_path(), "cannot create the HDF5 file");

    const hid_t root = file.id();
    write_attr_string(root, "format", "elm-trace");
    write_attr_int(root, "format_version", 1);
    write_attr_string(root, "model", setup.model);
    write_attr_string(root, "mode", setup.mode);
    write_attr_int32_array(root, "neurons", sel);
    write_attr_int(root, "decimate", o.decimate);
    write_attr_string(root, "variables", trace_variables_string(o));
    write_attr_string(root, "created_by", setup.created_by);
    write_attr_int(root, "N", N);
    write_attr_int(root, "d_m", d_m);
    write_attr_int(root, "n_b", n_b);
    write_attr_int(root, "n_out", n_out);
    write_attr_int(root, "final_logits_only", o.logits && o.final_logits_only ? 1 : 0);
    samples_group = create_group(root, "samples");
    prepared = true;
}

TraceWriter::Impl::OpenSample& TraceWriter::Impl::open_sample(int handle, const char* call) {
    if (committed) throw std::logic_error(std::string("TraceWriter::") + call + ": the trace was already committed");
    const auto it = open.find(handle);
    if (it == open.end())
        throw std::logic_error(std::string("TraceWriter::") + call + ": sample " + std::to_string(handle) +
                               " is not open (call begin_sample first)");
    return it->second;
}

int TraceWriter::Impl::begin_sample(std::int64_t source_index, int label) {
    if (committed) throw std::logic_error("TraceWriter::begin_sample: the trace was already committed");
    if (!prepared) throw std::logic_error("TraceWriter::begin_sample: call prepare first");
    const int handle = static_cast<int>(samples);
    OpenSample& s = open[handle];
    s.group = create_group(samples_group.id(), std::to_string(samples));
    ++samples;
    last_begun = handle;
    const hid_t g = s.group.id();
    write_attr_int(g, "source_index", source_index);
    if (label >= 0) write_attr_int(g, "label", label);

    const hsize_t n_sel = sel.size();
    const auto add = [&](const char* name, hid_t file_type, hid_t mem, std::size_t size, std::vector<hsize_t> r,
                         hsize_t max_rows) {
        s.streams.push_back(std::make_unique<Stream>(g, name, file_type, mem, size, std::move(r), max_rows));
        return s.streams.back().get();
    };
    s.time = add("time_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double), {}, kVectorChunkRows);
    s.y = opt.y ? add("y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {n_sel}, kDenseChunkRows) : nullptr;
    s.m = opt.m ? add("m", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {n_sel, hsize_t(d_m)}, kDenseChunkRows)
                : nullptr;
    s.b = opt.b ? add("b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {n_sel, hsize_t(n_b)}, kDenseChunkRows)
                : nullptr;
    // The final readout is a single row: a one-row chunk avoids padding it to a full chunk.
    s.logits = opt.logits ? add("logits", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), {hsize_t(n_out)},
                                opt.final_logits_only ? 1 : kDenseChunkRows)
                          : nullptr;
    s.spike_t = opt.spikes ? add("spike_times", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double), {}, kVectorChunkRows)
                           : nullptr;
    s.spike_n = opt.spikes
                    ? add("spike_neurons", H5T_STD_I32LE, H5T_NATIVE_INT32, sizeof(std::int32_t), {}, kVectorChunkRows)
                    : nullptr;
    return handle;
}

void TraceWriter::Impl::write(int handle, double time_ms, const float* y, const float* m, const float* b,
                              const float* logits) {
    OpenSample& s = open_sample(handle, "write");
    const auto need = [](bool on, const float* p, const char* name) {
        if (on && !p)
            throw std::logic_error(std::string("TraceWriter::write: ") + name + " is recorded but was passed null");
    };
    need(opt.y || opt.spikes, y, "y");
    need(opt.m, m, "m");
    need(opt.b, b, "b");
    need(opt.logits && !opt.final_logits_only, logits, "logits");

    // Spikes are events: taken at every update, whatever the decimation.
    if (s.spike_t) {
        for (const std::int32_t id : sel) {
            if (y[id] == 0.0f) continue;
            s.spike_t->push(&time_ms);
            s.spike_n->push(&id);
        }
    }
    const bool keep = s.updates % opt.decimate == 0;
    ++s.updates;
    if (!keep) return;

    s.time->push(&time_ms);
    // Rows of `width` floats per neuron, gathered for the recorded neurons.
    const auto push_rows = [&](Stream* st, const float* src, std::size_t width) {
        if (all_neurons) {
            st->push(src);
            return;
        }
        for (std::size_t j = 0; j < sel.size(); ++j)
            std::memcpy(row.data() + j * width, src + static_cast<std::size_t>(sel[j]) * width, width * sizeof(float));
        st->push(row.data());
    };
    if (s.y) push_rows(s.y, y, 1);
    if (s.m) push_rows(s.m, m, static_cast<std::size_t>(d_m));
    if (s.b) push_rows(s.b, b, static_cast<std::size_t>(n_b));
    if (s.logits && !opt.final_logits_only) s.logits->push(logits);
}

void TraceWriter::Impl::end_sample(int handle, const float* final_logits, int prediction) {
    OpenSample& s = open_sample(handle, "end_sample");
    if (s.logits && opt.final_logits_only) {
        if (!final_logits)
            throw std::logic_error("TraceWriter::end_sample: final logits are recorded but were passed null");
        s.logits->push(final_logits);
    }
    write_attr_int(s.group.id(), "prediction", prediction);
    close_sample(s);
    open.erase(handle);
}

void TraceWriter::Impl::close_sample(OpenSample& s) {
    for (auto& st : s.streams) st->flush();
    s.streams.clear();
    s.group.reset();
}

void TraceWriter::Impl::commit() {
    if (committed) return;
    if (!prepared) throw std::logic_error("TraceWriter::commit: call prepare first");
    for (auto& [handle, s] : open) close_sample(s);
    open.clear();
    samples_group.reset();
    if (H5Fflush(file.id(), H5F_SCOPE_LOCAL) < 0) fail(out.tmp_path(), "cannot flush the trace (disk full?)");
    // Nothing may stay open, or H5Fclose would not write (and report) the rest (H5File::close).
    if (H5Fget_obj_count(file.id(), H5F_OBJ_ALL | H5F_OBJ_LOCAL) > 1)
        throw std::logic_error("TraceWriter::commit: " + out.tmp_path() + " still has open objects");
    // Release first: H5Fclose consumes the id even when it fails.
    if (H5Fclose(file.release()) < 0) fail(out.tmp_path(), "cannot close the trace (disk full?)");
    out.commit();
    committed = true;
}

// ---- the Recorder interface ---------------------------------------------------------------------

TraceWriter::TraceWriter(const std::string& path) : impl_(std::make_unique<Impl>(path)) {}

TraceWriter::TraceWriter(const std::string& path, const std::string& model_path, const std::string& mode,
                         const TraceOptions& opt, int N, int d_m, int n_b, int n_out, const std::string& created_by)
    : TraceWriter(path) {
    prepare(RecordingSetup{opt, N, d_m, n_b, n_out, model_path, mode, created_by});
}

TraceWriter::~TraceWriter() = default;

void TraceWriter::prepare(const RecordingSetup& setup) { impl_->prepare(setup); }
int TraceWriter::begin_sample(std::int64_t source_index, int label) { return impl_->begin_sample(source_index, label); }
void TraceWriter::write(int sample, double time_ms, const float* y, const float* m, const float* b,
                        const float* logits) {
    impl_->write(sample, time_ms, y, m, b, logits);
}
void TraceWriter::end_sample(int sample, const float* final_logits, int prediction) {
    impl_->end_sample(sample, final_logits, prediction);
}
void TraceWriter::write(double time_ms, const float* y, const float* m, const float* b, const float* logits) {
    impl_->write(impl_->last_begun, time_ms, y, m, b, logits);
}
void TraceWriter::end_sample(const float* final_logits, int prediction) {
    impl_->end_sample(impl_->last_begun, final_logits, prediction);
}
void TraceWriter::commit() { impl_->commit(); }
std::int64_t TraceWriter::samples_written() const { return impl_->samples; }

std::size_t TraceWriter::buffered_bytes() const {
    std::size_t total = impl_->row.capacity() * sizeof(float);
    for (const auto& [handle, s] : impl_->open)
        for (const auto& st : s.streams) total += st->buf.capacity();
    return total;
}

}  // namespace elm::io
