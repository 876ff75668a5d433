// The `elmsim` subcommands (spec files-and-cli.md "Command line"). Each register_* adds one
// subcommand to the CLI11 app and binds its handler; handlers throw elm::InputError on bad input and
// main turns that into one error line and exit code 2.
#pragma once

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
void register_bench_sim(CLI::App& app);
void register_bench(CLI::App& app);
void register_bench_gemm(CLI::App& app);

// "elmsim <version>", recorded as created_by in files this tool writes.
std::string created_by();

}  // namespace elm::tools
