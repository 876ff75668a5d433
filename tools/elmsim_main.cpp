// elmsim: the command-line tool. Parses the subcommand, runs it, and maps errors to exit codes:
// 0 success, 2 bad input (one line on stderr naming what was wrong), 1 an internal failure.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/cpu/gemm_isa.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "tools/bench/bench_commands.hpp"
#include "tools/cli/commands.hpp"
#include "tools/cli/integer_flags.hpp"

int main(int argc, char** argv) {
    CLI::App app{"elmsim: simulate and train recurrent networks of Expressive Leaky Memory neurons"};
    app.set_version_flag("--version", elm::tools::created_by());
    app.require_subcommand(1);
    elm::tools::register_info(app);
    elm::tools::register_budget(app);
    elm::tools::register_init(app);
    elm::tools::register_train(app);
    elm::tools::register_eval(app);
    elm::tools::register_gen_shd(app);
    elm::tools::register_simulate(app);
    elm::tools::register_generate(app);
    elm::tools::register_resolutions(app);
    elm::tools::register_sweep(app);
    elm::tools::register_fit(app);
    elm::tools::register_serve(app);
    elm::tools::register_client(app);
    elm::tools::register_check_file(app);
    elm::bench::register_bench_sim(app);
    elm::bench::register_bench(app);
    elm::bench::register_bench_gemm(app);
    elm::bench::register_bench_event(app);
    elm::bench::register_bench_gpu(app);
    elm::bench::register_bench_serve(app);
    elm::bench::register_bench_text(app);
    elm::bench::register_bench_exchange(app);
    elm::tools::check_integer_flags(app);
    elm::tools::enable_isolated_reads();
    try {
        // CLI11 reports an unknown first word as "a subcommand is required"; name it instead.
        const auto known = [&](const char* name) {
            for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
                if (sub->get_name() == name) return true;
            return false;
        };
        if (argc > 1 && argv[1][0] != '-' && !known(argv[1]))
            throw elm::InputError(fmt::format("unknown command '{}' (see elmsim --help)", argv[1]));
        if (const auto isa_error = elm::sim::cpu::gemm_isa_environment_error(); !isa_error.empty())
            throw elm::InputError(isa_error);
        // Under mpirun/srun only `train` and `sweep` share their work (and `bench-exchange` measures
        // it); any other command would run once per process over the same outputs. Rank 0 says so, the
        // others exit with it.
        const auto parallel = [](const std::string& cmd) {
            return cmd == "train" || cmd == "sweep" || cmd == "bench-exchange";
        };
        if (const int ranks = elm::sim::launcher_rank_count(); ranks > 1 && (argc < 2 || !parallel(argv[1]))) {
            if (elm::sim::launcher_rank() != 0) throw elm::QuietExit();
            throw elm::InputError(fmt::format("started as {} processes (mpirun/srun): only 'train', 'sweep' "
                                              "and 'bench-exchange' run on several processes; start '{}' as one",
                                              ranks, argc > 1 ? argv[1] : "elmsim"));
        }
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "elmsim: error: %s (see elmsim --help)\n", e.what());
        return 2;
    } catch (const elm::QuietExit& e) {
        return e.code();
    } catch (const elm::InputError& e) {
        std::fprintf(stderr, "elmsim: error: %s\n", e.what());
        return 2;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "elmsim: error: out of memory (reduce batch size, window or model size)\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "elmsim: internal error: %s\n", e.what());
        return 1;
    }
    return 0;
}
