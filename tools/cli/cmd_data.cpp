// `elmsim gen-shd`: small SHD-format spike files (real layout and HDF5 types) for demos and tests.
#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "tools/cli/commands.hpp"

namespace elm::tools {

namespace {
struct GenArgs {
    std::string out;
    std::int64_t samples = 1000;
    std::uint64_t seed = 1;
};
}  // namespace

void register_gen_shd(CLI::App& app) {
    auto a = std::make_shared<GenArgs>();
    auto* cmd = app.add_subcommand("gen-shd", "Write a small synthetic dataset in the SHD file layout");
    cmd->add_option("--out", a->out, "Output file (HDF5, SHD layout)")->required();
    cmd->add_option("--samples", a->samples, "Number of samples (balanced over 20 classes)");
    cmd->add_option("--seed", a->seed, "Random seed");
    cmd->callback([a] {
        if (a->samples < 1 || a->samples > 10'000'000)
            throw InputError(fmt::format("--samples: expected 1 .. 10000000, got {}", a->samples));
        io::ensure_writable_dir(a->out);  // before the samples are made: a device or FIFO is refused now
        const auto ds = io::generate_shd(a->samples, a->seed);
        io::write_spike_dataset(a->out, ds);
        std::int64_t spikes = 0;
        for (const auto& s : ds.samples) spikes += static_cast<std::int64_t>(s.times_ms.size());
        fmt::print("wrote {}: {} samples, {} classes, {} spikes ({:.0f} per sample)\n", a->out, ds.samples.size(),
                   ds.num_classes, spikes, static_cast<double>(spikes) / static_cast<double>(ds.samples.size()));
    });
}

}  // namespace elm::tools
