// Byte streams with a train / valid / test split (spec elm-network.md section 1; see
// byte_stream.hpp).
#include "elmsim/io/byte_stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>
#include <iterator>
#include <stdexcept>

#include "elmsim/io/input_file.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/time_grid.hpp"

namespace elm::io {
namespace {

// floor(f * n) under the time-grid rounding rule (models/time_grid.hpp), so fractions written in
// decimal (0.9, 0.05) split round sizes exactly as intended.
std::int64_t split_floor(double f, std::int64_t n) {
    return static_cast<std::int64_t>(models::grid_floor(f * static_cast<double>(n)));
}

}  // namespace

ByteStream::ByteStream(const std::string& path, std::array<double, 3> fractions, std::int64_t min_split_bytes)
    : path_(path) {
    double sum = 0.0;
    for (std::size_t i = 0; i < 3; ++i) {
        if (!std::isfinite(fractions[i]) || fractions[i] < 0.0)
            throw InputError(path + ": split fraction for " + to_string(static_cast<Split>(i)) +
                             ": expected a number >= 0, got " + std::to_string(fractions[i]));
        sum += fractions[i];
    }
    if (std::fabs(sum - 1.0) > 1e-9)
        throw InputError(path + ": split fractions: expected them to sum to 1, got " + std::to_string(sum));

    if (path == "-") {
        data_.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (std::cin.bad()) throw InputError("-: cannot read standard input");
        total_ = static_cast<std::int64_t>(data_.size());
    } else {
        // A named pipe is refused like any other non-regular file (io/input_file.hpp): a stream is
        // read at random offsets, and piped bytes come in through "-".
        require_regular_input(path, "data file");
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw InputError(path + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd_);
            fd_ = -1;
            throw InputError(path + ": expected a regular file (not a directory or device)");
        }
        total_ = static_cast<std::int64_t>(st.st_size);
    }
    size_[0] = split_floor(fractions[0], total_);
    size_[1] = split_floor(fractions[1], total_);
    size_[2] = total_ - size_[0] - size_[1];
    begin_ = {0, size_[0], size_[0] + size_[1]};
    for (std::size_t i = 0; i < 3; ++i) {
        if (fractions[i] > 0.0 && size_[i] < min_split_bytes) {
            if (fd_ >= 0) ::close(fd_);  // no destructor runs for a constructor that throws
            fd_ = -1;
            throw InputError(path + ": " + to_string(static_cast<Split>(i)) + " split: expected at least " +
                             std::to_string(min_split_bytes) + " bytes, found " + std::to_string(size_[i]) + " (file has " +
                             std::to_string(total_) + " bytes)");
        }
    }
}

ByteStream::~ByteStream() {
    if (fd_ >= 0) ::close(fd_);
}

ByteStream::ByteStream(ByteStream&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), data_(std::move(other.data_)), total_(other.total_),
      begin_(other.begin_), size_(other.size_) {
    other.fd_ = -1;
}

ByteStream& ByteStream::operator=(ByteStream&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        path_ = std::move(other.path_);
        fd_ = other.fd_;
        data_ = std::move(other.data_);
        total_ = other.total_;
        begin_ = other.begin_;
        size_ = other.size_;
        other.fd_ = -1;
    }
    return *this;
}

void ByteStream::read(Split s, std::int64_t offset, std::int64_t len, std::uint8_t* out) const {
    const std::size_t k = index(s);
    if (offset < 0 || len < 0 || offset > size_[k] || len > size_[k] - offset)
        throw std::out_of_range(path_ + ": " + to_string(s) + " split: bytes [" + std::to_string(offset) + ", " +
                                std::to_string(offset + len) + ") outside [0, " + std::to_string(size_[k]) + ")");
    const std::int64_t start = begin_[k] + offset;
    if (len == 0) return;
    if (fd_ < 0) {
        std::memcpy(out, data_.data() + start, static_cast<std::size_t>(len));
        return;
    }
    std::int64_t done = 0;
    while (done < len) {
        const ssize_t got = ::pread(fd_, out + done, static_cast<std::size_t>(len - done), start + done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            throw InputError(path_ + ": cannot read bytes at offset " + std::to_string(start + done) + ": " +
                             (got < 0 ? std::strerror(errno) : "unexpected end of file (did it shrink?)"));
        done += got;
    }
}

}  // namespace elm::io
