// The words for what a path names when it is not a regular file ("a FIFO (named pipe)", "a
// character device", ...), shared by the input check (input_file.hpp) and the output check
// (atomic_output.hpp) so both refuse a special file in the same terms.
#pragma once

#include <sys/stat.h>

namespace elm::io {

// `mode` is st_mode from stat()/lstat(). Never empty; "a regular file" for a regular file.
inline const char* file_kind_name(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "a special file";
}

}  // namespace elm::io
