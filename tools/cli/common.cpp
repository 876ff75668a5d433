// What every command shares: the provenance written into files, and the engine flags.
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "elmsim/io/input_file.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "tools/cli/commands.hpp"

namespace elm::tools {

std::string created_by() { return std::string("elmsim ") + ELMSIM_VERSION; }

void add_engine_options(CLI::App& cmd, std::string& backend, std::optional<std::int64_t>& threads) {
    cmd.add_option("--backend", backend, fmt::format("Where the network runs: {} (default cpu)", sim::backend_names()));
    cmd.add_option("--threads", threads, "Worker threads of the cpu backend (0 = all cores; default: train.threads)");
}

void enable_isolated_reads() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) io::set_isolation_helper(self.string());
}

void raise_open_file_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

std::string read_token_file(const std::string& path) {
    io::require_regular_input(path, "token file");  // a FIFO would block, /dev/zero never end
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot read the token file", path));
    // At most the longest token and its newline are read: a longer file is refused, not loaded.
    const auto too_long = [&] {
        return InputError(
            fmt::format("{}: the token file is too long (a token is at most {} bytes)", path, kMaxTokenBytes));
    };
    std::string t(kMaxTokenBytes + 1, '\0');
    in.read(t.data(), static_cast<std::streamsize>(t.size()));
    if (in.bad()) throw InputError(fmt::format("{}: cannot read the token file", path));
    t.resize(static_cast<std::size_t>(in.gcount()));
    if (t.size() == kMaxTokenBytes + 1 && in.peek() != std::ifstream::traits_type::eof()) throw too_long();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) throw InputError(fmt::format("{}: the token file is empty", path));
    if (t.size() > kMaxTokenBytes) throw too_long();
    return t;
}

SampleRange parse_sample_range(const std::string& text) {
    const auto number = [&](const std::string& s) -> std::optional<std::int64_t> {
        if (s.empty()) return std::nullopt;
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(s, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != s.size() || v < 0)
            throw InputError(fmt::format("--samples: expected a range a:b of non-negative integers, got \"{}\"", text));
        return v;
    };
    SampleRange r;
    const auto colon = text.find(':');
    if (colon == std::string::npos) {
        r.first = number(text);
        if (r.first && *r.first == std::numeric_limits<std::int64_t>::max())  // its end, first + 1, would wrap
            throw InputError(fmt::format("--samples: expected a sample index below {}, got \"{}\"", *r.first, text));
        if (r.first) r.end = *r.first + 1;
    } else {
        r.first = number(text.substr(0, colon));
        r.end = number(text.substr(colon + 1));
    }
    return r;
}

}  // namespace elm::tools
