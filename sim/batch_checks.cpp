#include "elmsim/sim/batch_checks.hpp"

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

void check_batch_input(const models::ModelConfig& cfg, const models::Batch& batch, const RunOptions& opt) {
    const int T = batch.T, B = batch.B, C = cfg.input_width();
    if (T < 1 || B < 1) throw InputError("batch: empty (T or B is 0)");
    if (opt.recompute_every < 0) throw InputError("recompute_every must be >= 0");
    if (cfg.C_e > 0) {
        if (batch.tokens.size() != static_cast<std::size_t>(T) * B)
            throw InputError(fmt::format("batch: the model has an embedding but the batch holds {} tokens for "
                                         "T x B = {} x {}", batch.tokens.size(), T, B));
    } else if (batch.C != C || batch.x.size() != static_cast<std::size_t>(T) * B * C) {
        throw InputError(fmt::format("batch: the model reads {} input channels, the data has {} (x holds {} values "
                                     "for T x B x C = {} x {} x {})", C, batch.C, batch.x.size(), T, B, C));
    }
}

void check_batch_targets(const models::Batch& batch, const RunOptions& opt) {
    const std::size_t expected = opt.loss == models::LossMode::next_byte
                                     ? static_cast<std::size_t>(batch.T) * batch.B
                                     : static_cast<std::size_t>(batch.B);
    if (batch.targets.size() != expected)
        throw InputError(fmt::format("batch: expected {} targets, found {}", expected, batch.targets.size()));
}

}  // namespace elm::sim
