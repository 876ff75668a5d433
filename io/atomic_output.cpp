// Atomic output (atomic_output.hpp): every writer creates NAME.tmp, closes it, and renames
// it over NAME, so a crash or an error never leaves a torn file and never damages an existing one
// (spec files-and-cli.md, first paragraph and "Command line"). What a name may be — a new file, a
// regular file, a link to one — is checked here, before the writer starts.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/file_kind.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw InputError(path + ": " + what); }

// The directory that will hold `file` exists and may be written (the temporary file is created there).
void check_directory_of(const std::string& shown, const fs::path& file) {
    std::error_code ec;
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    if (!fs::exists(dir, ec)) fail(shown, "cannot write: directory '" + dir.string() + "' does not exist");
    if (!fs::is_directory(dir, ec)) fail(shown, "cannot write: '" + dir.string() + "' is not a directory");
    if (access(dir.c_str(), W_OK | X_OK) != 0)
        fail(shown, "cannot write: directory '" + dir.string() + "' is not writable");
}

// A leftover NAME.tmp (an earlier run that crashed, or something planted) is removed, never written
// through: unlink() removes a symbolic link itself, not what it points to.
void remove_stale_tmp(const std::string& tmp) {
    struct stat st {};
    if (::lstat(tmp.c_str(), &st) != 0) return;  // none (or unreachable: the create will say so)
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        fail(tmp, std::string("cannot write the temporary file: found ") + file_kind_name(st.st_mode) +
                      " there (remove it or choose another output name)");
    if (::unlink(tmp.c_str()) != 0)
        fail(tmp, std::string("cannot remove the stale temporary file: ") + std::strerror(errno));
}

}  // namespace

std::string check_output_path(const std::string& path) {
    if (path.empty()) throw InputError("output path: expected a file name, found an empty string");
    struct stat link {};
    if (::lstat(path.c_str(), &link) != 0) {
        // Nothing there yet (or a directory on the way is missing: the directory check names it).
        check_directory_of(path, fs::path(path));
        return path;
    }
    const bool is_link = S_ISLNK(link.st_mode);
    struct stat target = link;
    if (is_link && ::stat(path.c_str(), &target) != 0) {
        std::error_code ec;
        const auto to = fs::read_symlink(path, ec);
        fail(path, "expected an output file name, found a dangling symbolic link" +
                       (ec ? std::string() : " (to '" + to.string() + "')") +
                       ": elmsim does not create files through links");
    }
    if (!S_ISREG(target.st_mode))
        fail(path, std::string("expected an output file name, found ") + (is_link ? "a symbolic link to " : "") +
                       file_kind_name(target.st_mode));
    if (!is_link) {
        check_directory_of(path, fs::path(path));
        return path;
    }
    std::error_code ec;
    const fs::path resolved = fs::canonical(path, ec);
    if (ec) fail(path, "cannot resolve the symbolic link: " + ec.message());
    check_directory_of(path, resolved);
    return resolved.string();
}

void ensure_writable_dir(const std::string& final_path) { (void)check_output_path(final_path); }

AtomicOutput::AtomicOutput(std::string final_path, const std::string& tmp_suffix)
    : final_path_(std::move(final_path)), target_path_(check_output_path(final_path_)),
      tmp_path_(target_path_ + tmp_suffix) {
    remove_stale_tmp(tmp_path_);
}

AtomicOutput::~AtomicOutput() {
    if (committed_) return;
    std::error_code ec;
    fs::remove(tmp_path_, ec);  // best effort; a leftover .tmp never replaces the final file
}

void AtomicOutput::commit() {
    if (committed_) return;
    std::error_code ec;
    if (!fs::exists(tmp_path_, ec)) throw InputError(tmp_path_ + ": cannot commit: the temporary file was not written");
    fs::rename(tmp_path_, target_path_, ec);
    if (ec) throw InputError(final_path_ + ": cannot rename '" + tmp_path_ + "' into place: " + ec.message());
    committed_ = true;
}

}  // namespace elm::io
