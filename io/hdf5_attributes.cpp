// HDF5 attributes on any object (file root, group, dataset): int64, double, UTF-8 string, int32 and
// uint64 arrays (declared in hdf5_file.hpp). Used for the checkpoint and trace attributes of
// spec files-and-cli.md. H5Aread takes no transfer property list, so the checked-conversion
// callback of the dataset reads is not available here: integers are read in the widest type of
// their stored signedness and range-checked explicitly.
#include <limits>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/vlen_guard.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw InputError(where + ": " + what);
}

std::string attr_where(hid_t obj, const std::string& name) {
    return h5_location(obj) + ": attribute '" + name + "'";
}

struct OpenAttribute {
    H5Handle attr, type, space;
    std::string where;
    std::size_t count = 0;
};

OpenAttribute open_attribute(hid_t obj, const std::string& name) {
    if (!has_attribute(obj, name)) fail(h5_location(obj), "expected attribute '" + name + "', found none");
    OpenAttribute a;
    a.where = attr_where(obj, name);
    a.attr = H5Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!a.attr.valid()) fail(a.where, "cannot open the attribute");
    a.type = H5Handle(H5Aget_type(a.attr.id()), H5Tclose);
    a.space = H5Handle(H5Aget_space(a.attr.id()), H5Sclose);
    a.count = element_count(space_shape(a.space.id()));
    return a;
}

// Create (replacing) attribute `name` of the given file type and shape and write `data` to it.
void write_attribute(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type,
                     const std::vector<hsize_t>& shape, const void* data) {
    if (has_attribute(obj, name) && H5Adelete(obj, name.c_str()) < 0)
        fail(attr_where(obj, name), "cannot replace the existing attribute");
    // An empty array is stored with a null dataspace (h5py reads it as an empty attribute).
    const bool empty = !shape.empty() && element_count(shape) == 0;
    H5Handle space = empty ? H5Handle(H5Screate(H5S_NULL), H5Sclose) : make_space(shape);
    H5Handle attr(H5Acreate2(obj, name.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) fail(attr_where(obj, name), "cannot create the attribute (is the file writable?)");
    if (!empty && H5Awrite(attr.id(), mem_type, data) < 0) fail(attr_where(obj, name), "cannot write the attribute");
}

// Integer attribute values, kept in the stored signedness so no value is clamped on the way.
struct IntValues {
    bool is_unsigned = false;
    std::vector<std::int64_t> s;
    std::vector<std::uint64_t> u;
    std::string where;
};

IntValues read_int_values(hid_t obj, const std::string& name) {
    OpenAttribute a = open_attribute(obj, name);
    if (H5Tget_class(a.type.id()) != H5T_INTEGER)
        fail(a.where, "expected integers, found " + describe_h5_type(a.type.id()));
    IntValues v;
    v.where = a.where;
    v.is_unsigned = H5Tget_sign(a.type.id()) == H5T_SGN_NONE;
    herr_t rc = 0;
    if (v.is_unsigned) {
        v.u.assign(a.count, 0);
        if (a.count) rc = H5Aread(a.attr.id(), H5T_NATIVE_UINT64, v.u.data());
    } else {
        v.s.assign(a.count, 0);
        if (a.count) rc = H5Aread(a.attr.id(), H5T_NATIVE_INT64, v.s.data());
    }
    if (rc < 0) fail(a.where, "cannot read the attribute");
    return v;
}

// Converts to T with a range check; `what` names T in the message.
template <class T>
std::vector<T> narrow(const IntValues& v, const char* what) {
    std::vector<T> out;
    const auto bad = [&](const std::string& value) {
        fail(v.where, std::string("expected values that fit ") + what + ", found " + value);
    };
    if (v.is_unsigned) {
        for (const std::uint64_t x : v.u) {
            if (x > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) bad(std::to_string(x));
            out.push_back(static_cast<T>(x));
        }
    } else {
        for (const std::int64_t x : v.s) {
            if (x < 0 && std::numeric_limits<T>::min() == 0) bad(std::to_string(x));
            if (x < 0 ? x < static_cast<std::int64_t>(std::numeric_limits<T>::min())
                      : static_cast<std::uint64_t>(x) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
                bad(std::to_string(x));
            out.push_back(static_cast<T>(x));
        }
    }
    return out;
}

}  // namespace

bool has_attribute(hid_t obj, const std::string& name) {
    silence_hdf5_errors();
    const htri_t found = H5Aexists(obj, name.c_str());
    // A failed lookup (a damaged object header or attribute heap) is an error, never "absent": an
    // optional attribute that read as absent would silently load a different model.
    if (found < 0) {
        const std::string damage = hdf5_damage();
        fail(attr_where(obj, name), damage.empty() ? "cannot look the attribute up (is the file damaged?)" : damage);
    }
    return found > 0;
}

void write_attr_int(hid_t obj, const std::string& name, std::int64_t value) {
    write_attribute(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
}

void write_attr_double(hid_t obj, const std::string& name, double value) {
    write_attribute(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value);
}

void write_attr_string(hid_t obj, const std::string& name, const std::string& value) {
    // Fixed-length, NUL-terminated: the value lives in the (checksummed) object header, never in the
    // global heap.
    H5Handle type = fixed_utf8_string_type(value);
    write_attribute(obj, name, type.id(), type.id(), {}, value.c_str());
}

void write_attr_int32_array(hid_t obj, const std::string& name, const std::vector<std::int32_t>& values) {
    write_attribute(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, {values.size()}, values.data());
}

void write_attr_uint64_array(hid_t obj, const std::string& name, const std::vector<std::uint64_t>& values) {
    write_attribute(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, {values.size()}, values.data());
}

std::int64_t read_attr_int(hid_t obj, const std::string& name) {
    const IntValues v = read_int_values(obj, name);
    const std::size_t n = v.is_unsigned ? v.u.size() : v.s.size();
    if (n != 1) fail(v.where, "expected one integer, found " + std::to_string(n) + " values");
    return narrow<std::int64_t>(v, "int64")[0];
}

double read_attr_double(hid_t obj, const std::string& name) {
    OpenAttribute a = open_attribute(obj, name);
    const H5T_class_t cls = H5Tget_class(a.type.id());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        fail(a.where, "expected a number, found " + describe_h5_type(a.type.id()));
    if (a.count != 1) fail(a.where, "expected one number, found " + std::to_string(a.count) + " values");
    double value = 0.0;
    if (H5Aread(a.attr.id(), H5T_NATIVE_DOUBLE, &value) < 0) fail(a.where, "cannot read the attribute");
    return value;
}

std::string read_attr_string(hid_t obj, const std::string& name) {
    OpenAttribute a = open_attribute(obj, name);
    if (H5Tget_class(a.type.id()) != H5T_STRING)
        fail(a.where, "expected a string, found " + describe_h5_type(a.type.id()));
    if (a.count != 1)
        fail(a.where, "expected one string, found " + std::to_string(a.count) + " values");
    // A variable-length string (files from before checksums, h5py's) lives in the global heap: its
    // stored reference is checked before HDF5 follows it (io/vlen_guard.hpp).
    if (H5Tis_variable_str(a.type.id()) > 0) check_vlen_attribute(obj, name, a.count, a.where);
    const hid_t attr = a.attr.id();
    return read_strings(a.type.id(), a.space.id(), a.where,
                        [attr](hid_t mem, void* buf) { return H5Aread(attr, mem, buf); })[0];
}

std::vector<std::int32_t> read_attr_int32_array(hid_t obj, const std::string& name) {
    return narrow<std::int32_t>(read_int_values(obj, name), "int32");
}

std::vector<std::uint64_t> read_attr_uint64_array(hid_t obj, const std::string& name) {
    return narrow<std::uint64_t>(read_int_values(obj, name), "uint64");
}

}  // namespace elm::io
