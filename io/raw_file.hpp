// A file's bytes read on demand, every read bounds-checked: what io/vlen_guard and io/object_header
// use to look at HDF5 structures that libhdf5 would otherwise trust unchecked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace elm::io {

// The little-endian unsigned integer of n (at most 8) bytes at p.
std::uint64_t little_endian(const unsigned char* p, std::size_t n);

class RawFile {
public:
    explicit RawFile(const std::string& path);  // InputError when it cannot be opened or is no regular file
    ~RawFile();
    RawFile(const RawFile&) = delete;
    RawFile& operator=(const RawFile&) = delete;

    std::uint64_t size() const { return size_; }
    // Bytes [at, at + n) into out; false when they are not all inside the file.
    bool read(std::uint64_t at, std::size_t n, unsigned char* out) const;

private:
    int fd_;
    std::uint64_t size_ = 0;
};

}  // namespace elm::io
