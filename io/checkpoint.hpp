// Model checkpoints (spec files-and-cli.md "Model checkpoint", format "elm-network" version 1):
// the network's structure as /model attributes, its connectivity draw /model/src, every present
// tensor of ParamLayout as float32 with its shape, the configuration text as /config, and
// optionally /train — everything a trainer needs to resume bit-for-bit.
//
// Extra attributes beyond the contract (readers of version 1 may ignore them): /model C_task (the
// task's raw channel count; C is the model's input width, C_e with an embedding), tau_init_min_ms,
// tau_init_max_ms, input_share, self_synapse. A file without them (another writer) still loads:
// input_share is derived as k_in / k_c, C_task from C (256 with an embedding), the rest default.
// /model drive ("rate" | "per_update", spec section 5) is absent in files written before the rate
// rule: they load with drive = per_update, the rule they were made with.
//
// /train layout (this project's extension of "optimizer state, RNG state"):
//   /train                      attrs step, epoch, best_metric, optimizer ("sgd"|"adam"|"adamax"),
//                               optimizer_t (Adam bias-correction count), rng_state (uint64[4])
//   /train/optimizer/m1/<name>  float32, the shape of /model/<name>   (only when moment1 is used)
//   /train/optimizer/m2/<name>  float32, likewise                     (only when moment2 is used)
//   /train/state/<name>         int64 [n] (int_arrays) or float32 [n] (float_arrays)
//
// Writes are atomic (NAME.tmp, close, rename): a failed save leaves an existing file untouched.
// The loader trusts nothing: every attribute, shape, index and parameter value is checked, and
// errors are one line "<file>: <path in file>: <expected>, <found>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/train_state.hpp"

namespace elm::io {

inline constexpr const char* kCheckpointFormat = "elm-network";
inline constexpr std::int64_t kCheckpointFormatVersion = 1;

// /train holds the trainer's resume state (models/train_state.hpp). Array names must be non-empty,
// contain no '/' and be unique across int_arrays and float_arrays; they are loaded back in name order
// (HDF5 link order), not in insertion order. moment1/moment2 are flat in ParamLayout order, empty
// when unused.

struct Checkpoint {
    models::Network<float> net;
    std::string config_toml;
    std::optional<models::TrainState> train;
    // Whether /model has the drive attribute; without it (a file from before the rate rule) net.cfg.drive
    // is per_update.
    bool drive_declared = true;
    // Whether /model has the memory_gain attribute; without it (a file from before the choice)
    // net.cfg.memory_gain is lambda_decay.
    bool memory_gain_declared = true;
    // Whether /model has the memory_input attribute; without it net.cfg.memory_input is step_decay.
    bool memory_input_declared = true;
};

// Throws InputError for an unwritable destination, non-finite parameters (named by tensor) or a
// bad TrainState (optimizer name, array names); std::invalid_argument when a buffer does not match
// the network's layout (a caller bug). `train` may be null (no /train group).
void save_checkpoint(const std::string& path, const models::Network<float>& net, const std::string& config_toml,
                     const models::TrainState* train, const std::string& created_by);

Checkpoint load_checkpoint(const std::string& path);

}  // namespace elm::io
