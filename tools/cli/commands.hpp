// The `elmsim` subcommands (spec files-and-cli.md "Command line"). Each register_* adds one
// subcommand to the CLI11 app and binds its handler: flags -> a library call (sim/workflow/, models/,
// io/) -> printed results. Handlers throw elm::InputError on bad input and main turns that into one
// error line and exit code 2. The benchmark programs (tools/bench/) register themselves likewise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace elm::tools {

void register_info(CLI::App& app);
void register_budget(CLI::App& app);
void register_init(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_gen_shd(CLI::App& app);
void register_simulate(CLI::App& app);
void register_generate(CLI::App& app);
void register_resolutions(CLI::App& app);
void register_sweep(CLI::App& app);
void register_fit(CLI::App& app);
void register_serve(CLI::App& app);
void register_client(CLI::App& app);
// The hidden helper of io/isolated_read.hpp (`__check-file`).
void register_check_file(CLI::App& app);
// Makes this executable the helper that reads files without checksums apart (io/isolated_read.hpp).
void enable_isolated_reads();

// "elmsim <version>", recorded as created_by in files this tool writes.
std::string created_by();

// --backend NAME and --threads K, shared by every command that runs a network.
void add_engine_options(CLI::App& cmd, std::string& backend, std::optional<std::int64_t>& threads);

// --samples "a:b" (half-open), "a:", ":b", "a" (one sample) or "" (all); InputError otherwise.
struct SampleRange {
    std::optional<std::int64_t> first, end;
};
SampleRange parse_sample_range(const std::string& text);

// The longest token the protocol accepts (docs/protocol.md, "auth").
constexpr std::size_t kMaxTokenBytes = 4096;

// A shared secret from a file (`serve` and `client --token-file`), trailing newlines and blanks
// removed; InputError for a missing, unreadable or empty file, one that is not a regular file (a
// FIFO, /dev/zero), and one longer than kMaxTokenBytes plus a newline (read no further than that).
std::string read_token_file(const std::string& path);

// A socket per connection (`serve`, `bench-serve`): the soft open-file limit raised to the hard one.
void raise_open_file_limit();

}  // namespace elm::tools
