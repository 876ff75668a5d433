// `elmsim gen-shd`: SHD-format spike files (real layout and HDF5 types) for demos and tests: the
// pattern generator (io/shd_generator.hpp) or spoken digits through a model cochlea
// (io/speech_spikes.hpp).
#include <fmt/format.h>

#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/speech_spikes.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "tools/cli/commands.hpp"

namespace elm::tools {

namespace {
struct GenArgs {
    std::string out;
    std::int64_t samples = 1000;
    std::uint64_t seed = 1;
    std::string kind = "patterns";
};
}  // namespace

void register_gen_shd(CLI::App& app) {
    auto a = std::make_shared<GenArgs>();
    auto* cmd = app.add_subcommand("gen-shd", "Write a small synthetic dataset in the SHD file layout");
    cmd->add_option("--out", a->out, "Output file (HDF5, SHD layout)")->required();
    cmd->add_option("--samples", a->samples, "Number of samples (balanced over 20 classes)");
    cmd->add_option("--seed", a->seed, "Random seed");
    cmd->add_option("--kind", a->kind,
                    "patterns: sparse formant sweeps, quick to learn (default); speech: spoken digits through a model "
                    "cochlea, dense and pitch-synchronous like the real SHD set");
    cmd->callback([a] {
        if (a->samples < 1 || a->samples > 10'000'000)
            throw InputError(fmt::format("--samples: expected 1 .. 10000000, got {}", a->samples));
        if (a->kind != "patterns" && a->kind != "speech")
            throw InputError(fmt::format("--kind: expected patterns or speech, got '{}'", a->kind));
        io::ensure_writable_dir(a->out);  // before the samples are made: a device or FIFO is refused now
        const auto ds = a->kind == "speech" ? io::generate_spoken_digits(a->samples, a->seed)
                                            : io::generate_shd(a->samples, a->seed);
        io::write_spike_dataset(a->out, ds);
        std::int64_t spikes = 0;
        for (const auto& s : ds.samples) spikes += static_cast<std::int64_t>(s.times_ms.size());
        fmt::print("wrote {}: {} samples, {} classes, {} spikes ({:.0f} per sample)\n", a->out, ds.samples.size(),
                   ds.num_classes, spikes, static_cast<double>(spikes) / static_cast<double>(ds.samples.size()));
    });
}

}  // namespace elm::tools
