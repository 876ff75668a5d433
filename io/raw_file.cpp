// Bounds-checked reads of a file's bytes (raw_file.hpp), for the checks that look at HDF5 structures
// before libhdf5 does; only regular files are read.
#include "elmsim/io/raw_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "elmsim/io/file_kind.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {

std::uint64_t little_endian(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t k = n; k-- > 0;) v = (v << 8) | p[k];
    return v;
}

// O_NONBLOCK: opening a FIFO without a writer returns at once (and is refused below) instead of
// waiting for one; it changes nothing for a regular file.
RawFile::RawFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    struct stat st {};
    if (fd_ < 0 || fstat(fd_, &st) != 0) {
        if (fd_ >= 0) ::close(fd_);
        throw InputError(fmt::format("{}: cannot read the file", path));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw InputError(fmt::format("{}: cannot read the file: found {}, expected a regular file", path,
                                     file_kind_name(st.st_mode)));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
}

RawFile::~RawFile() { ::close(fd_); }

bool RawFile::read(std::uint64_t at, std::size_t n, unsigned char* out) const {
    if (at > size_ || n > size_ - at) return false;
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(at + done));
        if (r <= 0) return false;
        done += static_cast<std::size_t>(r);
    }
    return true;
}

}  // namespace elm::io
