// Atomic output files (spec files-and-cli.md: "written atomically: write NAME.tmp, flush, close,
// rename — a crash never leaves a torn file"). Plain files, no HDF5.
#pragma once

#include <string>

namespace elm::io {

// Throws InputError when the directory of final_path does not exist, is not a directory or is
// not writable, or when final_path itself is a directory.
void ensure_writable_dir(const std::string& final_path);

// Usage: AtomicOutput out(path); { auto f = H5File::create(out.tmp_path()); ...; f.close(); }
// out.commit();  An exception before commit() leaves any existing final file untouched and
// removes the temporary file.
class AtomicOutput {
public:
    explicit AtomicOutput(std::string final_path);
    ~AtomicOutput();
    AtomicOutput(const AtomicOutput&) = delete;
    AtomicOutput& operator=(const AtomicOutput&) = delete;

    const std::string& tmp_path() const { return tmp_path_; }
    const std::string& final_path() const { return final_path_; }
    // Rename the temporary file over the final path (atomic on POSIX within one file system).
    void commit();

private:
    std::string final_path_;
    std::string tmp_path_;
    bool committed_ = false;
};

}  // namespace elm::io
