// HDF5 utilities: move-only RAII handles over the C API, typed dataset and attribute helpers, and
// atomic output (write NAME.tmp, close, rename). Every file format of the project (checkpoints,
// traces, spike datasets; spec files-and-cli.md) is written and read through these helpers, so
// errors are uniform: one elm::InputError line "<file>: <path in file>: <expected>, <found>".
//
// Implementation: hdf5_file.cpp (handles, files, groups, datasets, strings), hdf5_attributes.cpp;
// atomic output (NAME.tmp, rename) is io/atomic_output.hpp.
//
// Reads convert from the stored type through HDF5's own conversion (so a uint8 or int64 dataset
// reads as float, float16 as double), with two guards: the stored type CLASS must fit (numbers
// are never read from strings), and a value that does not fit the requested type (out of range, or
// a fraction read as an integer) is an error instead of HDF5's default silent clamping.
#pragma once

#include <hdf5.h>

#include "elmsim/io/atomic_output.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace elm::io {

// Turn off HDF5's automatic printing of its error stack to stderr (our exceptions carry the
// message). Idempotent and thread-safe; every entry point below calls it.
void silence_hdf5_errors();
// Right after a failed HDF5 call (before any other, which clears the error stack): a sentence
// saying the file is damaged when a checksum (Fletcher32 on data, the metadata checksums of the
// 1.10 format) did not match, else "".
std::string hdf5_damage();

// One owned hid_t and the H5*close function that releases it. Move-only.
class H5Handle {
public:
    using Closer = herr_t (*)(hid_t);
    H5Handle() = default;
    H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
    ~H5Handle() { reset(); }
    H5Handle(H5Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
    H5Handle& operator=(H5Handle&& other) noexcept;
    H5Handle(const H5Handle&) = delete;
    H5Handle& operator=(const H5Handle&) = delete;

    hid_t id() const { return id_; }
    bool valid() const { return id_ >= 0; }
    // Close now (errors ignored: used on cleanup paths).
    void reset();
    // Give up ownership without closing; returns the id.
    hid_t release() {
        const hid_t id = id_;
        id_ = -1;
        return id;
    }

private:
    hid_t id_ = -1;
    Closer closer_ = nullptr;
};

class H5File {
public:
    // Open an existing file read-only. Errors: missing file, not a regular file (a directory, a FIFO, a
    // device: refused before libhdf5 opens it, io/input_file.hpp), unreadable, not HDF5.
    static H5File open_read(const std::string& path);
    // Open an existing file for reading and writing (appending traces, updating attributes).
    static H5File open_rw(const std::string& path);
    // Create a new file, truncating any existing one (callers write to AtomicOutput::tmp_path()).
    static H5File create(const std::string& path);

    hid_t id() const { return handle_.id(); }
    const std::string& path() const { return path_; }
    void flush();
    // Close now and report a failure to close (the destructor closes silently). Every object of the
    // file must be closed before (std::logic_error otherwise): only then does H5Fclose write the rest.
    void close();

private:
    H5File(H5Handle handle, std::string path) : handle_(std::move(handle)), path_(std::move(path)) {}
    H5Handle handle_;
    std::string path_;
};

// "<file>: <object path>" for any location id (file, group, dataset), for error messages.
std::string h5_location(hid_t loc);
// "<file>: <object path>/<name>" (name may be relative or absolute).
std::string h5_location(hid_t loc, const std::string& name);

// ---- groups and objects ----------------------------------------------------------------------
// Create group `path` (e.g. "a/b"), creating missing intermediate groups; an existing group at
// `path` is opened instead. Returns the open group.
H5Handle create_group(hid_t parent, const std::string& path);
// True when every component of `path` (relative to loc, or absolute) exists. Never throws for a
// missing path; a lookup that fails (a damaged group) is an InputError, so damage never reads as
// "absent".
bool has_path(hid_t loc, const std::string& path);
// Open any object (group or dataset) by path; errors name the missing path.
H5Handle open_object(hid_t loc, const std::string& path);
H5Handle open_group(hid_t loc, const std::string& path);
H5Handle open_dataset(hid_t loc, const std::string& path);

// Create dataset `name` of `file_type` and `shape` ({} = scalar) with intermediate groups; the
// path must not exist yet. Used for layouts the typed helpers do not cover (VL arrays, strings).
// Every dataset is checked (spec files-and-cli.md): chunked (chunks up to 1 MiB) with the
// Fletcher32 filter, or a small scalar kept in its checksummed object header; files are created
// in the 1.10 format, whose metadata carries checksums.
H5Handle create_dataset(hid_t loc, const std::string& name, hid_t file_type, const std::vector<hsize_t>& shape);

// ---- types and shapes (for callers that use the C API directly, e.g. VL datasets) --------------
// "2-byte float", "variable-length array of 2-byte unsigned integer", ... for messages.
std::string describe_h5_type(hid_t type);
H5Handle make_space(const std::vector<hsize_t>& shape);  // {} = scalar
std::vector<hsize_t> space_shape(hid_t space);             // {} for scalar, {0} for a null space
std::size_t element_count(const std::vector<hsize_t>& shape);
std::string shape_string(const std::vector<hsize_t>& shape);  // "[2, 3]" or "scalar"

// A dataset-transfer property list whose conversion callback turns out-of-range and truncating
// conversions into errors (see the header comment). Used by every read here. After a failed
// H5Dread with it, conversion_issue_text(target) says why ("expected values that fit uint16,
// found one out of range"); call reset_conversion_issue() before the read (per thread).
H5Handle checked_transfer_plist();
void reset_conversion_issue();
std::string conversion_issue_text(const std::string& target);

// ---- numeric datasets ------------------------------------------------------------------------
// T: float, double, int32_t, uint16_t, uint8_t, int64_t, uint64_t. Row-major; an empty shape
// writes a scalar. The dataset must not exist yet. Intermediate groups are created.
template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data, const std::vector<hsize_t>& shape);

// Reads any integer (or, for floating T, any integer or float) stored type, converted to T.
// shape_out (optional) receives the stored shape ({} for a scalar).
template <class T>
std::vector<T> read_dataset(hid_t loc, const std::string& name, std::vector<hsize_t>* shape_out = nullptr);

std::vector<hsize_t> dataset_shape(hid_t loc, const std::string& name);

// ---- string datasets (scalar, fixed-length NUL-terminated UTF-8; reads variable-length too) ---
H5Handle vl_utf8_string_type();
// The fixed-length, NUL-terminated UTF-8 type that holds `value` (size + 1 bytes).
H5Handle fixed_utf8_string_type(const std::string& value);
// Reads all strings of a dataset or attribute whose stored type is `file_type` (fixed or variable
// length) through `read(mem_type, buffer)`; errors name `where`.
std::vector<std::string> read_strings(hid_t file_type, hid_t space, const std::string& where,
                                      const std::function<herr_t(hid_t, void*)>& read);
void write_string_dataset(hid_t loc, const std::string& name, const std::string& value);
std::string read_string_dataset(hid_t loc, const std::string& name);
// 1-D arrays of strings: written as fixed-length NUL-padded byte strings (numpy "S" dtype, as in
// SHD's /extra/keys); read from fixed-length or variable-length strings.
void write_fixed_string_array(hid_t loc, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_string_array(hid_t loc, const std::string& name);

// ---- attributes on any object (pass a file id for the root group "/") -------------------------
// Writing an existing attribute replaces it.
bool has_attribute(hid_t obj, const std::string& name);
void write_attr_int(hid_t obj, const std::string& name, std::int64_t value);
void write_attr_double(hid_t obj, const std::string& name, double value);
void write_attr_string(hid_t obj, const std::string& name, const std::string& value);
void write_attr_int32_array(hid_t obj, const std::string& name, const std::vector<std::int32_t>& values);
void write_attr_uint64_array(hid_t obj, const std::string& name, const std::vector<std::uint64_t>& values);

std::int64_t read_attr_int(hid_t obj, const std::string& name);
double read_attr_double(hid_t obj, const std::string& name);
std::string read_attr_string(hid_t obj, const std::string& name);
std::vector<std::int32_t> read_attr_int32_array(hid_t obj, const std::string& name);
std::vector<std::uint64_t> read_attr_uint64_array(hid_t obj, const std::string& name);

}  // namespace elm::io
