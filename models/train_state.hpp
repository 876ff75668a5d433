// TrainState: everything a run needs to continue bit for bit after a checkpoint (/train in the
// checkpoint layout): counters, optimizer moments in ParamLayout order, the trainer's RNG, data
// cursors and, for text, the network state carried across truncated-BPTT windows.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "elmsim/models/rng.hpp"

namespace elm::models {

struct TrainState {
    std::int64_t step = 0;
    std::int64_t epoch = 0;
    double best_metric = 0.0;
    std::string optimizer;          // "sgd" | "adam" | "adamax"
    std::int64_t optimizer_t = 0;   // Adam/Adamax bias-correction step count
    std::vector<float> moment1, moment2;
    Rng::State rng{};
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> int_arrays;
    std::vector<std::pair<std::string, std::vector<float>>> float_arrays;
};

}  // namespace elm::models
