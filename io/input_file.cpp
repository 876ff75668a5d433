// The one check every input goes through before it is opened (input_file.hpp). stat() does not open
// the file, so it cannot block on a FIFO or start reading a device.
#include "elmsim/io/input_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "elmsim/io/file_kind.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {

void require_regular_input(const std::string& path, const char* what) {
    if (path.empty()) throw InputError(fmt::format("{}: expected a file name, found an empty string", what));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            throw InputError(fmt::format("{}: cannot open: the {} does not exist", path, what));
        throw InputError(fmt::format("{}: cannot open the {}: {}", path, what, std::strerror(err)));
    }
    if (!S_ISREG(st.st_mode))
        throw InputError(fmt::format("{}: cannot open the {}: found {}, expected a regular file", path, what,
                                     file_kind_name(st.st_mode)));
}

}  // namespace elm::io
