// Atomic output files (spec files-and-cli.md: "written atomically: write NAME.tmp, flush, close,
// rename — a crash never leaves a torn file"). Plain files, no HDF5.
//
// What an output path may name, checked before any work (check_output_path):
//  - a new name in a writable directory, or an existing regular file (replaced by the rename);
//  - a symbolic link to a regular file: followed on purpose. NAME.tmp is written beside the link's
//    final target and renamed onto it, so the link stays a link and points at the new content;
//  - nothing else: a directory, a FIFO, a socket, a character or block device (/dev/null, /dev/full),
//    a dangling link or a link to any of these is refused in one line. (A rename over a device would
//    put a regular file where the device was, silently, for whoever may write there.)
// A stale NAME.tmp from an earlier crash is removed before it is written, never followed: a symbolic
// link or a regular file is unlinked (a link, not its target); anything else there is refused.
#pragma once

#include <string>

namespace elm::io {

// The file `path` writes: `path` itself, or for a symbolic link its final target (absolute). Throws
// InputError for an empty path, a path that exists and is not a regular file (links followed), a
// dangling link, or a missing, non-directory or unwritable directory of the file written.
std::string check_output_path(const std::string& path);

// check_output_path without the result: the checks every writer makes before it starts.
void ensure_writable_dir(const std::string& final_path);

// Usage: AtomicOutput out(path); { auto f = H5File::create(out.tmp_path()); ...; f.close(); }
// out.commit();  An exception before commit() leaves any existing final file untouched and
// removes the temporary file. tmp_suffix: ".tmp", or a suffix of its own for writers that may run in
// several processes at once (the sweep's shared files).
class AtomicOutput {
public:
    explicit AtomicOutput(std::string final_path, const std::string& tmp_suffix = ".tmp");
    ~AtomicOutput();
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;

    const std::string& tmp_path() const { return tmp_path_; }
    const std::string& final_path() const { return final_path_; }    // as given (for messages)
    const std::string& target_path() const { return target_path_; }  // what the rename replaces
    // Rename the temporary file over the target (atomic on POSIX within one file system).
    void commit();

private:
    std::string final_path_;
    std::string target_path_;
    std::string tmp_path_;
    bool committed_ = false;
};

}  // namespace elm::io
