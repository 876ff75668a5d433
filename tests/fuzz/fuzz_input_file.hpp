// What the file-reading fuzz targets share: each input is written to one scratch file of this
// process (a reader of elmsim's takes a path), which the target then opens. An HDF5 input without
// checksummed metadata (superblock 0 or 1) is skipped: the command line reads such files in an
// isolated helper process first (io/isolated_read.hpp), so libhdf5's unchecked decoding of them never
// runs in elmsim's own process; the targets fuzz what does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "elmsim/io/isolated_read.hpp"

namespace elm::fuzz {

inline const std::string& scratch_path() {
    static const std::string path = [] {
        char name[] = "/tmp/elmsim_fuzz_XXXXXX";
        const int fd = mkstemp(name);
        if (fd < 0) std::abort();
        close(fd);
        return std::string(name);
    }();
    return path;
}

inline const std::string& write_input(const std::uint8_t* data, std::size_t size) {
    const std::string& path = scratch_path();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path;
}

// Whether the command line would read this file in an isolated process first (then: skip it).
inline bool read_in_isolation(const std::string& path) { return elm::io::needs_isolation(path); }

}  // namespace elm::fuzz
