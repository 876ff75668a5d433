// HDF5 utilities, core part (see hdf5_file.hpp): RAII handles, files, locations for messages,
// groups, checked numeric and string datasets. Attributes live in hdf5_attributes.cpp and atomic
// output in atomic_output.cpp. Implements the "everything is HDF5" rule of the spec
// (files-and-cli.md, first paragraph).
#include "elmsim/io/hdf5_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <type_traits>

#include "elmsim/io/input_file.hpp"
#include "elmsim/io/chunk_guard.hpp"
#include "elmsim/io/vlen_guard.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw InputError(where + ": " + what);
}

// Chunks above this are split (halving their largest dimension): small enough to read one at a
// time, large enough that a checkpoint's tensors are one chunk each.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
// Scalar datasets up to this size are stored in their object header (compact layout), which the
// file format's metadata checksum covers.
constexpr std::size_t kCompactBytes = 60000;

// The chunk shape of a checked dataset of `shape` with elements of `elem` bytes.
std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& shape, std::size_t elem) {
    std::vector<hsize_t> c = shape;
    const auto bytes = [&] {
        std::size_t n = elem;
        for (const hsize_t d : c) n *= static_cast<std::size_t>(d);
        return n;
    };
    while (bytes() > kChunkBytes) {
        auto big = std::max_element(c.begin(), c.end());
        if (*big <= 1) break;
        *big = (*big + 1) / 2;
    }
    return c;
}

// The creation properties of every dataset elmsim writes (spec files-and-cli.md, first paragraph):
// chunked with the Fletcher32 checksum, or, for a scalar, compact (inside the checksummed object
// header) when small. Datasets without elements have nothing to check and stay contiguous.
H5Handle checked_creation_plist(hid_t file_type, const std::vector<hsize_t>& shape) {
    H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (!dcpl.valid()) throw std::runtime_error("HDF5: cannot create a dataset-creation property list");
    // Variable-length data (the SHD layout's spike arrays) lives in the global heap, where no filter
    // reaches: those datasets stay as HDF5 makes them (contiguous), as in real SHD files.
    if (H5Tget_class(file_type) == H5T_VLEN || H5Tis_variable_str(file_type) > 0) return dcpl;
    const std::size_t elem = H5Tget_size(file_type);
    if (shape.empty()) {
        if (elem <= kCompactBytes && H5Pset_layout(dcpl.id(), H5D_COMPACT) < 0)
            throw std::runtime_error("HDF5: cannot set a compact layout");
        return dcpl;
    }
    if (element_count(shape) == 0) return dcpl;
    const auto chunk = chunk_shape(shape, elem);
    if (H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()) < 0 || H5Pset_fletcher32(dcpl.id()) < 0)
        throw std::runtime_error("HDF5: cannot set chunking and the Fletcher32 filter");
    return dcpl;
}

// Memory type for T (native byte order) and the file type written for it (little-endian IEEE /
// two's complement, the layout h5py, numpy and MATLAB expect on every platform).
template <class T> struct TypeOf;
#define ELM_H5_TYPE(T, MEM, FILE, NAME)           \
    template <> struct TypeOf<T> {                \
        static hid_t mem() { return MEM; }        \
        static hid_t file() { return FILE; }      \
        static constexpr const char* name = NAME; \
    };
ELM_H5_TYPE(float, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, "float32")
ELM_H5_TYPE(double, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, "float64")
ELM_H5_TYPE(std::int32_t, H5T_NATIVE_INT32, H5T_STD_I32LE, "int32")
ELM_H5_TYPE(std::uint16_t, H5T_NATIVE_UINT16, H5T_STD_U16LE, "uint16")
ELM_H5_TYPE(std::uint8_t, H5T_NATIVE_UINT8, H5T_STD_U8LE, "uint8")
ELM_H5_TYPE(std::int64_t, H5T_NATIVE_INT64, H5T_STD_I64LE, "int64")
ELM_H5_TYPE(std::uint64_t, H5T_NATIVE_UINT64, H5T_STD_U64LE, "uint64")
#undef ELM_H5_TYPE

H5Handle link_create_plist() {
    H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    if (!lcpl.valid() || H5Pset_create_intermediate_group(lcpl.id(), 1) < 0)
        throw std::runtime_error("HDF5: cannot create a link-creation property list");
    return lcpl;
}

// Conversion-exception record filled by the transfer callback, so the error can say why.
struct ConvIssue {
    bool hit = false;
    H5T_conv_except_t kind = H5T_CONV_EXCEPT_RANGE_HI;
};
thread_local ConvIssue t_conv_issue;

H5T_conv_ret_t abort_on_lossy(H5T_conv_except_t kind, hid_t, hid_t, void*, void*, void*) {
    // Precision loss (e.g. int64 -> double) and infinities/NaN between float types are legitimate;
    // a value outside the target range or an integer read from a fraction is not.
    if (kind == H5T_CONV_EXCEPT_RANGE_HI || kind == H5T_CONV_EXCEPT_RANGE_LOW ||
        kind == H5T_CONV_EXCEPT_TRUNCATE) {
        t_conv_issue.hit = true;
        t_conv_issue.kind = kind;
        return H5T_CONV_ABORT;
    }
    return H5T_CONV_UNHANDLED;
}

H5Handle open_existing(const std::string& path, unsigned flags, const char* purpose) {
    silence_hdf5_errors();
    require_regular_input(path, "file");  // before libhdf5 opens it: a FIFO would block the open forever
    if (access(path.c_str(), flags == H5F_ACC_RDONLY ? R_OK : (R_OK | W_OK)) != 0)
        fail(path, std::string("cannot open for ") + purpose + ": permission denied");
    if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "expected an HDF5 file, found something else");
    H5Handle h(H5Fopen(path.c_str(), flags, H5P_DEFAULT), H5Fclose);
    if (!h.valid()) {
        const std::string damage = hdf5_damage();
        fail(path, !damage.empty() ? damage : std::string("cannot open the HDF5 file for ") + purpose + " (damaged or locked?)");
    }
    return h;
}

// libhdf5 1.10 crashes in its exit handler (H5_term_library -> H5F__close_cb, SIGSEGV) once a file
// has failed to close, as on a full disk: the flush inside H5Fclose fails and the half-closed file is
// visited again at exit. elmsim closes every file it opens (H5Handle, H5File), so the library's own
// clean-up at exit is not needed; it is switched off before the library starts (docs/reliability.md).
[[maybe_unused]] const bool kNoHdf5ExitHandler = [] {
    H5dont_atexit();
    return true;
}();

std::string name_of(hid_t id, ssize_t (*getter)(hid_t, char*, size_t), const char* fallback) {
    const ssize_t n = getter(id, nullptr, 0);
    if (n <= 0) return fallback;
    std::string s(static_cast<std::size_t>(n) + 1, '\0');
    getter(id, s.data(), s.size());
    s.resize(static_cast<std::size_t>(n));
    return s;
}

}  // namespace

void silence_hdf5_errors() {
    static std::once_flag once;
    std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::string hdf5_damage() {
    bool checksum = false;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_DOWNWARD,
        [](unsigned, const H5E_error2_t* e, void* found) -> herr_t {
            std::string text = e->desc ? e->desc : "";
            char minor[160] = {0};
            if (H5Eget_msg(e->min_num, nullptr, minor, sizeof minor) > 0) text += std::string(" ") + minor;
            std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
            if (text.find("checksum") != std::string::npos) *static_cast<bool*>(found) = true;
            return 0;
        },
        &checksum);
    return checksum ? "a checksum does not match: the file is damaged (corrupted on disk or in transfer)" : "";
}

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
    if (this != &other) {
        reset();
        id_ = other.id_;
        closer_ = other.closer_;
        other.id_ = -1;
    }
    return *this;
}

void H5Handle::reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
}

// ---- H5File ----------------------------------------------------------------------------------

H5File H5File::open_read(const std::string& path) {
    return H5File(open_existing(path, H5F_ACC_RDONLY, "reading"), path);
}

H5File H5File::open_rw(const std::string& path) {
    return H5File(open_existing(path, H5F_ACC_RDWR, "writing"), path);
}

H5File H5File::create(const std::string& path) {
    silence_hdf5_errors();
    ensure_writable_dir(path);
    // The 1.10 file format: the superblock, object headers (attributes, small datasets) and chunk
    // indexes all carry checksums, so damaged metadata is reported instead of read. (In the 1.8
    // format chunks are indexed by v1 B-trees, which have none: a damaged key makes a chunk read as
    // missing, i.e. as zeros.) HDF5 1.10+ (h5py, MATLAB R2021+, Julia) reads it.
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!fapl.valid() || H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_V110, H5F_LIBVER_LATEST) < 0)
        throw std::runtime_error("HDF5: cannot set the file format version");
    H5Handle h(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), H5Fclose);
    if (!h.valid()) fail(path, "cannot create the HDF5 file");
    return H5File(std::move(h), path);
}

void H5File::flush() {
    if (handle_.valid() && H5Fflush(handle_.id(), H5F_SCOPE_LOCAL) < 0) fail(path_, "cannot flush the file");
}

void H5File::close() {
    if (!handle_.valid()) return;
    // H5Fclose returns success while an object of the file is still open (the default, weak close
    // degree): the real close, where the data is written, would come later, where a failed write (a
    // full disk) goes unseen. So every object must be closed first. (The strong degree is no way out:
    // after it fails, closing the objects it closed crashes libhdf5 1.10.)
    if (H5Fget_obj_count(handle_.id(), H5F_OBJ_ALL | H5F_OBJ_LOCAL) > 1)
        throw std::logic_error("H5File::close: " + path_ + " still has open objects (close them first)");
    // Release ownership first: H5Fclose consumes the id even when it fails.
    if (H5Fclose(handle_.release()) < 0) fail(path_, "cannot close the file (disk full?)");
}

// ---- types, shapes, locations ----------------------------------------------------------------

std::string describe_h5_type(hid_t type) {
    const std::string bytes = std::to_string(H5Tget_size(type)) + "-byte";
    switch (H5Tget_class(type)) {
        case H5T_INTEGER:
            return bytes + (H5Tget_sign(type) == H5T_SGN_NONE ? " unsigned integer" : " signed integer");
        case H5T_FLOAT: return bytes + " float";
        case H5T_STRING: return H5Tis_variable_str(type) > 0 ? "variable-length string" : bytes + " string";
        case H5T_VLEN: {
            H5Handle base(H5Tget_super(type), H5Tclose);
            return "variable-length array of " + (base.valid() ? describe_h5_type(base.id()) : std::string("?"));
        }
        case H5T_COMPOUND: return "compound";
        case H5T_ENUM: return "enum";
        case H5T_ARRAY: return "array type";
        case H5T_OPAQUE: return "opaque";
        case H5T_REFERENCE: return "reference";
        case H5T_BITFIELD: return "bitfield";
        default: return "unknown type";
    }
}

H5Handle make_space(const std::vector<hsize_t>& shape) {
    H5Handle space = shape.empty()
                         ? H5Handle(H5Screate(H5S_SCALAR), H5Sclose)
                         : H5Handle(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
    if (!space.valid()) throw std::runtime_error("HDF5: cannot create a dataspace");
    return space;
}

std::vector<hsize_t> space_shape(hid_t space) {
    if (H5Sget_simple_extent_type(space) == H5S_NULL) return {0};
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(rank > 0 ? rank : 0);
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    return dims;
}

std::size_t element_count(const std::vector<hsize_t>& shape) {
    std::size_t n = 1;
    for (const hsize_t d : shape) n *= static_cast<std::size_t>(d);
    return n;
}

std::string shape_string(const std::vector<hsize_t>& shape) {
    if (shape.empty()) return "scalar";
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string h5_location(hid_t loc) {
    silence_hdf5_errors();
    return name_of(loc, H5Fget_name, "<hdf5>") + ": " + name_of(loc, H5Iget_name, "/");
}

std::string h5_location(hid_t loc, const std::string& name) {
    const std::string base = h5_location(loc);
    if (!name.empty() && name[0] == '/') return base.substr(0, base.rfind(": ")) + ": " + name;
    if (!base.empty() && base.back() == '/') return base + name;
    return base + "/" + name;
}

// ---- groups and objects ----------------------------------------------------------------------

namespace {

// A lookup that failed (rather than finding nothing): a damaged group, never "absent".
[[noreturn]] void unreadable(hid_t loc, const std::string& path, const std::string& damage) {
    fail(h5_location(loc, path), damage.empty() ? "cannot look this path up: the file is damaged" : damage);
}

// True only for an object that opens and is a dataset (a damaged one does not open).
bool is_dataset(hid_t loc, const std::string& path) {
    H5Handle obj(H5Oopen(loc, path.c_str(), H5P_DEFAULT), H5Oclose);
    return obj.valid() && H5Iget_type(obj.id()) == H5I_DATASET;
}

}  // namespace

bool has_path(hid_t loc, const std::string& path) {
    silence_hdf5_errors();
    if (path.empty() || path == "/" || path == ".") return true;
    // H5Lexists fails (rather than returning false) when an intermediate link is missing, so test
    // one component at a time.
    std::string prefix = path[0] == '/' ? "/" : "", parent;
    std::size_t pos = path[0] == '/' ? 1 : 0;
    while (pos < path.size()) {
        std::size_t next = path.find('/', pos);
        if (next == std::string::npos) next = path.size();
        if (next > pos) {
            if (!prefix.empty() && prefix.back() != '/') prefix += '/';
            prefix += path.substr(pos, next - pos);
            const htri_t link = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
            if (link < 0) {
                const std::string damage = hdf5_damage();
                if (!parent.empty() && is_dataset(loc, parent)) return false;  // a path under a dataset
                unreadable(loc, prefix, damage);
            }
            if (link == 0) return false;
            parent = prefix;
        }
        pos = next + 1;
    }
    const htri_t obj = H5Oexists_by_name(loc, path.c_str(), H5P_DEFAULT);
    if (obj < 0) unreadable(loc, path, hdf5_damage());
    return obj > 0;
}

H5Handle open_object(hid_t loc, const std::string& path) {
    if (!has_path(loc, path)) fail(h5_location(loc, path), "expected an object here, found nothing");
    H5Handle obj(H5Oopen(loc, path.c_str(), H5P_DEFAULT), H5Oclose);
    if (!obj.valid()) {
        const std::string damage = hdf5_damage();
        fail(h5_location(loc, path), damage.empty() ? "cannot open the object" : damage);
    }
    return obj;
}

H5Handle open_group(hid_t loc, const std::string& path) {
    if (!has_path(loc, path)) fail(h5_location(loc, path), "expected a group, found nothing");
    H5Handle obj = open_object(loc, path);
    if (H5Iget_type(obj.id()) != H5I_GROUP) fail(h5_location(loc, path), "expected a group, found a dataset");
    return obj;
}

H5Handle open_dataset(hid_t loc, const std::string& path) {
    if (!has_path(loc, path)) fail(h5_location(loc, path), "expected a dataset, found nothing");
    H5Handle obj = open_object(loc, path);
    if (H5Iget_type(obj.id()) != H5I_DATASET) fail(h5_location(loc, path), "expected a dataset, found a group");
    return obj;
}

H5Handle create_group(hid_t parent, const std::string& path) {
    silence_hdf5_errors();
    if (has_path(parent, path)) return open_group(parent, path);
    H5Handle lcpl = link_create_plist();
    H5Handle g(H5Gcreate2(parent, path.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.valid()) fail(h5_location(parent, path), "cannot create the group (is the file writable?)");
    return g;
}

H5Handle create_dataset(hid_t loc, const std::string& name, hid_t file_type, const std::vector<hsize_t>& shape) {
    silence_hdf5_errors();
    const std::string where = h5_location(loc, name);
    if (has_path(loc, name)) fail(where, "cannot write the dataset: the path already exists");
    H5Handle space = make_space(shape);
    H5Handle lcpl = link_create_plist();
    H5Handle dcpl = checked_creation_plist(file_type, shape);
    H5Handle ds(H5Dcreate2(loc, name.c_str(), file_type, space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT), H5Dclose);
    if (!ds.valid()) fail(where, "cannot create the dataset (is the file writable?)");
    return ds;
}

// ---- checked conversions ---------------------------------------------------------------------

H5Handle checked_transfer_plist() {
    silence_hdf5_errors();
    H5Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
    if (!dxpl.valid() || H5Pset_type_conv_cb(dxpl.id(), abort_on_lossy, nullptr) < 0)
        throw std::runtime_error("HDF5: cannot create a transfer property list");
    return dxpl;
}

void reset_conversion_issue() { t_conv_issue = ConvIssue{}; }

std::string conversion_issue_text(const std::string& target) {
    if (!t_conv_issue.hit) return "could not be read as " + target;
    if (t_conv_issue.kind == H5T_CONV_EXCEPT_TRUNCATE)
        return "expected whole numbers for " + target + ", found a value with a fractional part";
    return "expected values that fit " + target + ", found one out of range";
}

// ---- numeric datasets ------------------------------------------------------------------------

template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data, const std::vector<hsize_t>& shape) {
    H5Handle ds = create_dataset(loc, name, TypeOf<T>::file(), shape);
    if (element_count(shape) > 0 && H5Dwrite(ds.id(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        fail(h5_location(loc, name), "cannot write the dataset (disk full?)");
}

template <class T>
std::vector<T> read_dataset(hid_t loc, const std::string& name, std::vector<hsize_t>* shape_out) {
    const std::string where = h5_location(loc, name);
    H5Handle ds = open_dataset(loc, name);
    H5Handle type(H5Dget_type(ds.id()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls != H5T_INTEGER && !(std::is_floating_point_v<T> && cls == H5T_FLOAT))
        fail(where, std::string("expected ") + (std::is_floating_point_v<T> ? "numbers" : "integers") + " (read as " +
                        TypeOf<T>::name + "), found " + describe_h5_type(type.id()));
    H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    const auto shape = space_shape(space.id());
    std::vector<T> out(element_count(shape));
    if (!out.empty()) {
        check_chunk_sizes(ds.id(), where);
        H5Handle dxpl = checked_transfer_plist();
        reset_conversion_issue();
        if (H5Dread(ds.id(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, dxpl.id(), out.data()) < 0) {
            const std::string damage = hdf5_damage();  // before any other HDF5 call clears the stack
            fail(where, !damage.empty() ? damage
                                        : conversion_issue_text(TypeOf<T>::name) + " (stored " +
                                              describe_h5_type(type.id()) + ")");
        }
    }
    if (shape_out) *shape_out = shape;
    return out;
}

#define ELM_INSTANTIATE_DATASET_IO(T)                                                                  \
    template void write_dataset<T>(hid_t, const std::string&, const T*, const std::vector<hsize_t>&); \
    template std::vector<T> read_dataset<T>(hid_t, const std::string&, std::vector<hsize_t>*);
ELM_INSTANTIATE_DATASET_IO(float)
ELM_INSTANTIATE_DATASET_IO(double)
ELM_INSTANTIATE_DATASET_IO(std::int32_t)
ELM_INSTANTIATE_DATASET_IO(std::uint16_t)
ELM_INSTANTIATE_DATASET_IO(std::uint8_t)
ELM_INSTANTIATE_DATASET_IO(std::int64_t)
ELM_INSTANTIATE_DATASET_IO(std::uint64_t)
#undef ELM_INSTANTIATE_DATASET_IO

std::vector<hsize_t> dataset_shape(hid_t loc, const std::string& name) {
    H5Handle ds = open_dataset(loc, name);
    H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    return space_shape(space.id());
}

// ---- strings ---------------------------------------------------------------------------------

H5Handle vl_utf8_string_type() {
    H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!type.valid() || H5Tset_size(type.id(), H5T_VARIABLE) < 0 || H5Tset_cset(type.id(), H5T_CSET_UTF8) < 0)
        throw std::runtime_error("HDF5: cannot create a string type");
    return type;
}

std::vector<std::string> read_strings(hid_t file_type, hid_t space, const std::string& where,
                                      const std::function<herr_t(hid_t, void*)>& read) {
    if (H5Tget_class(file_type) != H5T_STRING)
        fail(where, "expected strings, found " + describe_h5_type(file_type));
    const std::size_t n = element_count(space_shape(space));
    std::vector<std::string> out;
    if (n == 0) return out;
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    // HDF5 does not convert between the ASCII and UTF-8 character sets, so read in the stored one.
    H5Tset_cset(mem.id(), H5Tget_cset(file_type));
    if (H5Tis_variable_str(file_type) > 0) {
        H5Tset_size(mem.id(), H5T_VARIABLE);
        std::vector<char*> ptrs(n, nullptr);
        if (read(mem.id(), ptrs.data()) < 0) {
            const std::string damage = hdf5_damage();
            fail(where, damage.empty() ? "cannot read the strings" : damage);
        }
        for (char* p : ptrs) {
            out.emplace_back(p ? p : "");
            H5free_memory(p);
        }
        return out;
    }
    const std::size_t width = H5Tget_size(file_type);
    const H5T_str_t pad = H5Tget_strpad(file_type);
    H5Tset_size(mem.id(), width);
    H5Tset_strpad(mem.id(), pad);
    std::string packed(width * n, '\0');
    if (read(mem.id(), packed.data()) < 0) {
        const std::string damage = hdf5_damage();
        fail(where, damage.empty() ? "cannot read the strings" : damage);
    }
    for (std::size_t i = 0; i < n; ++i) {
        std::string v = packed.substr(i * width, width);
        const auto nul = v.find('\0');
        if (nul != std::string::npos) v.resize(nul);
        if (pad == H5T_STR_SPACEPAD) v.resize(v.find_last_not_of(' ') + 1);  // npos + 1 == 0
        out.push_back(std::move(v));
    }
    return out;
}

H5Handle fixed_utf8_string_type(const std::string& value) {
    H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!type.valid() || H5Tset_size(type.id(), value.size() + 1) < 0 || H5Tset_strpad(type.id(), H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(type.id(), H5T_CSET_UTF8) < 0)
        throw std::runtime_error("HDF5: cannot create a string type");
    return type;
}

void write_string_dataset(hid_t loc, const std::string& name, const std::string& value) {
    H5Handle type = fixed_utf8_string_type(value);
    H5Handle ds = create_dataset(loc, name, type.id(), {});
    if (H5Dwrite(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.c_str()) < 0)
        fail(h5_location(loc, name), "cannot write the string (disk full?)");
}

std::string read_string_dataset(hid_t loc, const std::string& name) {
    const std::string where = h5_location(loc, name);
    H5Handle ds = open_dataset(loc, name);
    H5Handle type(H5Dget_type(ds.id()), H5Tclose);
    H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    const auto shape = space_shape(space.id());
    if (H5Tget_class(type.id()) != H5T_STRING) fail(where, "expected a string, found " + describe_h5_type(type.id()));
    if (element_count(shape) != 1) fail(where, "expected a single string, found shape " + shape_string(shape));
    // A variable-length string (files from before checksums, h5py's) lives in the global heap: its
    // reference and length are checked before HDF5 trusts them (io/vlen_guard.hpp).
    if (H5Tis_variable_str(type.id()) > 0) check_vlen_dataset(loc, ds.id(), name_of(loc, H5Fget_name, ""), where);
    check_chunk_sizes(ds.id(), where);
    return read_strings(type.id(), space.id(), where, [&](hid_t mem, void* buf) {
        return H5Dread(ds.id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    })[0];
}

void write_fixed_string_array(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
    std::size_t width = 1;
    for (const auto& v : values) width = std::max(width, v.size());
    std::string packed(width * values.size(), '\0');
    for (std::size_t i = 0; i < values.size(); ++i) packed.replace(i * width, values[i].size(), values[i]);
    H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!type.valid() || H5Tset_size(type.id(), width) < 0 || H5Tset_strpad(type.id(), H5T_STR_NULLPAD) < 0)
        throw std::runtime_error("HDF5: cannot create a string type");
    H5Handle ds = create_dataset(loc, name, type.id(), {values.size()});
    if (!values.empty() && H5Dwrite(ds.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()) < 0)
        fail(h5_location(loc, name), "cannot write the strings (disk full?)");
}

std::vector<std::string> read_string_array(hid_t loc, const std::string& name) {
    const std::string where = h5_location(loc, name);
    H5Handle ds = open_dataset(loc, name);
    H5Handle type(H5Dget_type(ds.id()), H5Tclose);
    H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    const auto shape = space_shape(space.id());
    if (shape.size() > 1) fail(where, "expected a 1-D array of strings, found shape " + shape_string(shape));
    if (H5Tis_variable_str(type.id()) > 0) check_vlen_dataset(loc, ds.id(), name_of(loc, H5Fget_name, ""), where);
    check_chunk_sizes(ds.id(), where);
    return read_strings(type.id(), space.id(), where, [&](hid_t mem, void* buf) {
        return H5Dread(ds.id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
}

}  // namespace elm::io
