// `elmsim __check-file KIND PATH [OPTIONS]`: the helper side of io/isolated_read.hpp. Not for users
// (hidden from --help): a parent elmsim spawns it to read a file without checksums in a process of
// its own, and reads the file itself only when this read succeeds. Exit 0: read; exit 2 and one line:
// refused. A crash or a hang here is what the parent reports as a damaged file.
#include <new>

#include <fmt/format.h>

#include "elmsim/io/isolated_read.hpp"
#include "elmsim/models/error.hpp"
#include "tools/cli/commands.hpp"

namespace elm::tools {

void register_check_file(CLI::App& app) {
    struct Args {
        std::string kind, path;
        std::vector<std::string> options;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("__check-file", "Read a file in this process only (elmsim's isolated reads)");
    cmd->group("");  // hidden
    cmd->add_option("kind", a->kind)->required();
    cmd->add_option("path", a->path)->required();
    cmd->add_option("options", a->options);
    cmd->callback([a] {
        io::set_isolation_helper("");  // this is the isolated read: no further process
        try {
            io::read_for_check(a->kind, a->path, a->options);
        } catch (const InputError&) {
            throw;
        } catch (const std::bad_alloc&) {
            throw InputError(fmt::format("{}: the file is damaged: reading it asked for more memory than there is (a file "
                                         "without checksums, read in an isolated process)",
                                         a->path));
        } catch (const std::exception& e) {
            throw InputError(fmt::format("{}: the file is damaged: {} (a file without checksums, read in an isolated process)",
                                         a->path, e.what()));
        }
    });
}

}  // namespace elm::tools
