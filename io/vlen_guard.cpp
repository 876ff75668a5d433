#include "elmsim/io/vlen_guard.hpp"

#include <cstring>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/object_header.hpp"
#include "elmsim/io/raw_file.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {

namespace {

constexpr std::uint64_t kMaxCollectionBytes = std::uint64_t{1} << 30;
constexpr std::uint64_t kMaxScannedFile = std::uint64_t{1} << 30;  // check_global_heaps: files up to 1 GiB

[[noreturn]] void damaged(const std::string& where, const std::string& what) {
    throw InputError(fmt::format("{}: the variable-length data is damaged ({}): the file is corrupted", where, what));
}

struct Sizes {
    std::size_t addr = 8, length = 8;
    std::uint64_t base = 0;  // user block
};

// Object index -> object size of the collection at `at`, or an error text.
std::string read_collection(const RawFile& f, std::uint64_t at, const Sizes& z, std::map<std::uint16_t, std::uint64_t>& objects) {
    unsigned char head[8 + 16];
    const std::size_t head_len = 8 + z.length;
    if (!f.read(at, head_len, head)) return fmt::format("a heap collection at {} lies outside the file", at);
    if (std::memcmp(head, "GCOL", 4) != 0) return fmt::format("no heap collection at {}", at);
    if (head[4] != 1) return fmt::format("a heap collection of version {}", head[4]);
    const std::uint64_t size = little_endian(head + 8, z.length);
    if (size < head_len || size > kMaxCollectionBytes || size > f.size() - at)
        return fmt::format("a heap collection of {} bytes at {} in a file of {}", size, at, f.size());
    std::vector<unsigned char> c(static_cast<std::size_t>(size));
    if (!f.read(at, c.size(), c.data())) return fmt::format("a heap collection at {} lies outside the file", at);
    // The walk libhdf5's own parser makes: an object header, then the object padded to 8 bytes; the
    // free space (index 0) counts its header in its size. A step that does not move would loop it
    // forever, a step past the end would read out of bounds.
    const std::size_t obj_head = 8 + z.length;
    std::size_t off = head_len;
    while (off + obj_head <= c.size()) {
        const auto index = static_cast<std::uint16_t>(little_endian(c.data() + off, 2));
        const std::uint64_t osize = little_endian(c.data() + off + 8, z.length);
        std::uint64_t step = 0;
        if (index == 0) {
            if (osize < obj_head || osize > c.size() - off)
                return fmt::format("a free-space record of {} bytes in the collection at {}", osize, at);
            step = osize;
        } else {
            if (osize > c.size() - off - obj_head)
                return fmt::format("heap object {} of {} bytes overruns its collection at {}", index, osize, at);
            if (!objects.emplace(index, osize).second)
                return fmt::format("heap object {} twice in the collection at {}", index, at);
            step = obj_head + (osize + 7) / 8 * 8;
            if (step > c.size() - off) return fmt::format("heap object {} overruns its collection at {}", index, at);
        }
        off += static_cast<std::size_t>(step);
    }
    return {};
}

// The sizes of offsets and lengths of the file that object `obj` (any object of it) is in.
Sizes sizes_of(hid_t obj) {
    Sizes z;
    H5Handle file(H5Iget_file_id(obj), H5Fclose);
    H5Handle fcpl(file.valid() ? H5Fget_create_plist(file.id()) : H5I_INVALID_HID, H5Pclose);
    size_t addr = 8, length = 8;
    hsize_t user = 0;
    if (fcpl.valid()) {
        H5Pget_sizes(fcpl.id(), &addr, &length);
        H5Pget_userblock(fcpl.id(), &user);
    }
    z.addr = addr;
    z.length = length;
    z.base = user;
    return z;
}

// Each of `count` stored variable-length elements at `raw` (length, collection address, object
// index) names an object of its collection whose size is exactly its length in bytes.
void check_heap_elements(const RawFile& f, const Sizes& z, const unsigned char* raw, std::uint64_t count,
                         std::size_t base_size, const std::string& where) {
    const std::size_t elem = 4 + z.addr + 4;
    std::map<std::uint64_t, std::map<std::uint16_t, std::uint64_t>> collections;
    for (std::uint64_t i = 0; i < count; ++i) {
        const unsigned char* e = raw + static_cast<std::size_t>(i) * elem;
        const std::uint64_t len = little_endian(e, 4);
        const std::uint64_t addr = little_endian(e + 4, z.addr);
        const std::uint64_t index = little_endian(e + 4 + z.addr, 4);
        if (len == 0) continue;
        auto it = collections.find(addr);
        if (it == collections.end()) {
            std::map<std::uint16_t, std::uint64_t> objects;
            const std::string bad = read_collection(f, z.base + addr, z, objects);
            if (!bad.empty()) damaged(fmt::format("{}[{}]", where, i), bad);
            it = collections.emplace(addr, std::move(objects)).first;
        }
        const auto obj = index <= 0xFFFF ? it->second.find(static_cast<std::uint16_t>(index)) : it->second.end();
        if (obj == it->second.end()) damaged(fmt::format("{}[{}]", where, i), fmt::format("no heap object {} at {}", index, addr));
        if (obj->second != len * base_size)
            damaged(fmt::format("{}[{}]", where, i),
                    fmt::format("{} values of {} bytes in a heap object of {} bytes", len, base_size, obj->second));
    }
}

}  // namespace

void check_global_heaps(const std::string& path) {
    const RawFile f(path);
    if (f.size() > kMaxScannedFile) return;  // a scan of a huge trace would cost more than its read
    // A file without heaps (elmsim's own, since checksums) costs one scan of its bytes.
    constexpr std::size_t kBlock = std::size_t{4} << 20;
    std::vector<unsigned char> buf(kBlock + 3);
    Sizes z;  // the default sizes: HDF5 files with other sizes are not what elmsim reads
    for (std::uint64_t at = 0; at < f.size(); at += kBlock) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock + 3, f.size() - at));
        if (!f.read(at, n, buf.data())) return;
        for (std::size_t k = 0; k + 4 <= n; ++k) {
            if (buf[k] != 'G' || std::memcmp(buf.data() + k, "GCOL", 4) != 0) continue;
            std::map<std::uint16_t, std::uint64_t> objects;
            const std::string bad = read_collection(f, at + k, z, objects);
            // A "GCOL" inside other data is no collection (HDF5 finds collections by address, and a
            // signature that does not match it rejects); one that claims to be version 1 must be sound.
            if (!bad.empty() && n >= k + 5 && buf[k + 4] == 1) damaged(path, bad);
        }
    }
}

void check_vlen_dataset(hid_t file, hid_t ds, const std::string& path, const std::string& where) {
    H5Handle type(H5Dget_type(ds), H5Tclose);
    if (!type.valid()) return;
    std::size_t base_size = 1;  // a variable-length string: its length in bytes
    if (H5Tget_class(type.id()) == H5T_VLEN) {
        H5Handle base(H5Tget_super(type.id()), H5Tclose);
        if (!base.valid()) return;
        base_size = H5Tget_size(base.id());
    } else if (H5Tis_variable_str(type.id()) <= 0) {
        return;
    }
    H5Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    if (!dcpl.valid() || H5Pget_layout(dcpl.id()) != H5D_CONTIGUOUS) return;
    const haddr_t offset = H5Dget_offset(ds);
    if (offset == HADDR_UNDEF) return;  // nothing stored
    H5Handle space(H5Dget_space(ds), H5Sclose);
    const hssize_t count = H5Sget_simple_extent_npoints(space.id());
    if (count <= 0) return;
    const Sizes z = sizes_of(file);
    const RawFile f(path);
    const std::size_t elem = 4 + z.addr + 4;
    const std::uint64_t bytes = static_cast<std::uint64_t>(count) * elem;
    if (bytes / elem != static_cast<std::uint64_t>(count) || z.base + offset > f.size() || bytes > f.size() - z.base - offset)
        damaged(where, fmt::format("{} elements at {} do not fit in the file's {} bytes", count, offset, f.size()));
    std::vector<unsigned char> raw(static_cast<std::size_t>(bytes));
    if (!f.read(z.base + offset, raw.size(), raw.data())) damaged(where, "its elements cannot be read");
    check_heap_elements(f, z, raw.data(), static_cast<std::uint64_t>(count), base_size, where);
}

void check_vlen_attribute(hid_t obj, const std::string& name, std::uint64_t count, const std::string& where) {
    if (count == 0) return;
    H5O_info_t info{};
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0 || info.addr == HADDR_UNDEF) damaged(where, "its object has no header address");
    const ssize_t n = H5Fget_name(obj, nullptr, 0);
    if (n <= 0) damaged(where, "its file has no name");
    std::string path(static_cast<std::size_t>(n) + 1, '\0');
    H5Fget_name(obj, path.data(), path.size());
    path.resize(static_cast<std::size_t>(n));
    const Sizes z = sizes_of(obj);
    const RawFile f(path);
    const AttributeBytes value = find_attribute_value(f, z.base + info.addr, z.addr, z.length, name);
    if (!value.damage.empty()) damaged(where, value.damage);
    // Dense or shared attribute storage (never in elmsim's files) is left to libhdf5.
    if (value.found == AttributeBytes::Found::elsewhere) return;
    if (value.found == AttributeBytes::Found::no) damaged(where, "the attribute is not in its object header");
    const std::size_t elem = 4 + z.addr + 4;
    if (count > value.size / elem)
        damaged(where, fmt::format("{} elements in an attribute value of {} bytes", count, value.size));
    std::vector<unsigned char> raw(static_cast<std::size_t>(count * elem));
    if (!f.read(value.at, raw.size(), raw.data())) damaged(where, "its value cannot be read");
    check_heap_elements(f, z, raw.data(), count, 1, where);
}

}  // namespace elm::io
