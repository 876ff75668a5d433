// Any file as a byte stream with a train / valid / test split (spec elm-network.md section 1,
// "Text"): train = [0, floor(f0 size)), valid = the next floor(f1 size) bytes, test = the rest;
// for enwik8 (1e8 bytes, 0.9/0.05/0.05) exactly 90e6 / 5e6 / 5e6. Reads use pread on the open
// file, so a stream never holds the file in memory; the path "-" reads standard input fully into
// memory instead (for `simulate` on piped text). Any other path must be a regular file: a named pipe,
// a device or a directory is refused before it is opened (io/input_file.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "elmsim/io/split.hpp"

namespace elm::io {


class ByteStream {
public:
    // Errors (InputError): missing or unreadable file, not a regular file (a directory, a FIFO, a
    // device), fractions negative / NaN / not summing to 1 within 1e-9, a split with a non-zero
    // fraction but fewer than min_split_bytes bytes (a split with fraction exactly 0 is allowed and
    // empty).
    explicit ByteStream(const std::string& path, std::array<double, 3> fractions = {0.9, 0.05, 0.05},
                        std::int64_t min_split_bytes = 2);
    ~ByteStream();
    ByteStream(ByteStream&& other) noexcept;
    ByteStream& operator=(ByteStream&& other) noexcept;
    ByteStream(const ByteStream&) = delete;
    ByteStream& operator=(const ByteStream&) = delete;

    const std::string& path() const { return path_; }
    std::int64_t total_size() const { return total_; }
    std::int64_t size(Split s) const { return size_[index(s)]; }
    std::int64_t begin(Split s) const { return begin_[index(s)]; }  // offset of the split in the file
    // Copies bytes [offset, offset + len) of split s into out. Thread-safe (pread). Throws
    // std::out_of_range when the range leaves the split, InputError when the file cannot be read
    // (e.g. it shrank since it was opened).
    void read(Split s, std::int64_t offset, std::int64_t len, std::uint8_t* out) const;

private:
    static std::size_t index(Split s) { return static_cast<std::size_t>(s); }
    std::string path_;
    int fd_ = -1;                       // -1 for standard input (data_ holds it)
    std::vector<std::uint8_t> data_;
    std::int64_t total_ = 0;
    std::array<std::int64_t, 3> begin_{}, size_{};
};

}  // namespace elm::io
