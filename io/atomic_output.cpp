// Atomic output (atomic_output.hpp): every writer creates NAME.tmp, closes it, and renames
// it over NAME, so a crash or an error never leaves a torn file and never damages an existing one
// (spec files-and-cli.md, first paragraph and "Command line").
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace fs = std::filesystem;

void ensure_writable_dir(const std::string& final_path) {
    if (final_path.empty()) throw InputError("output path: expected a file name, found an empty string");
    const fs::path p(final_path);
    const auto fail = [&](const std::string& what) { throw InputError(final_path + ": " + what); };
    std::error_code ec;
    if (fs::is_directory(p, ec)) fail("expected an output file name, found a directory");
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (!fs::exists(dir, ec)) fail("cannot write: directory '" + dir.string() + "' does not exist");
    if (!fs::is_directory(dir, ec)) fail("cannot write: '" + dir.string() + "' is not a directory");
    if (access(dir.c_str(), W_OK | X_OK) != 0) fail("cannot write: directory '" + dir.string() + "' is not writable");
}

AtomicOutput::AtomicOutput(std::string final_path)
    : final_path_(std::move(final_path)), tmp_path_(final_path_ + ".tmp") {
    ensure_writable_dir(final_path_);
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
    fs::rename(tmp_path_, final_path_, ec);
    if (ec) throw InputError(final_path_ + ": cannot rename '" + tmp_path_ + "' into place: " + ec.message());
    committed_ = true;
}

}  // namespace elm::io
