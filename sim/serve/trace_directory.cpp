#include "elmsim/sim/serve/trace_directory.hpp"

#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <unistd.h>

#include "elmsim/models/error.hpp"

namespace elm::serve {

TraceDirectory::TraceDirectory(std::string dir, std::string model_path, std::string created_by, int max_open)
    : dir_(std::move(dir)), model_path_(std::move(model_path)), created_by_(std::move(created_by)), max_open_(max_open) {
    if (max_open < 1 || max_open > 100000)
        throw ParameterError("max_traces", fmt::format("expected 1 to 100000 open traces, found {}", max_open));
    std::error_code ec;
    if (!std::filesystem::is_directory(dir_, ec))
        throw ParameterError("trace_dir", fmt::format("{}: not an existing directory", dir_));
    if (access(dir_.c_str(), W_OK | X_OK) != 0)
        throw ParameterError("trace_dir", fmt::format("{}: not writable", dir_));
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &utc);
    stamp_ = fmt::format("{}-{}", buf, static_cast<long>(getpid()));
}

std::unique_ptr<io::TraceWriter> TraceDirectory::open(const std::string& mode, const models::ModelConfig& cfg,
                                                      std::string* name) {
    io::TraceOptions what;
    what.y = true;
    what.logits = true;
    std::lock_guard lock(mu_);
    if (open_.load() >= max_open_)
        throw InputError(fmt::format("{} traces are open, the server's limit; close a traced session first", max_open_));
    std::string file;
    std::error_code ec;
    do {  // names are the server's own: a file already there (another server's) is never reused
        file = fmt::format("{}-{:06d}.h5", stamp_, next_++);
    } while (std::filesystem::exists(std::filesystem::path(dir_) / file, ec));
    auto w = std::make_unique<io::TraceWriter>((std::filesystem::path(dir_) / file).string(), model_path_, mode, what,
                                               cfg.N, cfg.d_m, cfg.n_b, cfg.n_out, created_by_);
    if (name) *name = file;
    ++open_;
    return w;
}

void TraceDirectory::closed() { --open_; }

}  // namespace elm::serve
