// ExperimentConfig: one TOML file = task (data), model (structure) and train (learning mode).
// Parsing is strict: an unknown key, a wrong type or an impossible value is an InputError that names
// the file and the key ("demo.toml: train.lr: expected a positive number, got -1").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/train_config.hpp"

namespace elm::io {

enum class TaskKind { shd, shd_adding, bytes };
inline constexpr std::array<std::pair<const char*, TaskKind>, 3> kTaskNames{
    {{"shd", TaskKind::shd}, {"shd-adding", TaskKind::shd_adding}, {"bytes", TaskKind::bytes}}};
std::string to_string(TaskKind k);

struct TaskConfig {
    TaskKind kind = TaskKind::shd_adding;
    // SHD / SHD-Adding: files in the SHD layout (valid is optional).
    std::string train_path;
    std::string valid_path;
    std::string test_path;
    // Samples held in memory (an embedding program's or Python's): used instead of the file of the
    // same split when set. Checked with check_spike_samples; max_*_samples apply to them too.
    std::shared_ptr<const SpikeDataset> train_samples, valid_samples, test_samples;
    double duration_ms = 1000.0;   // one SHD window; SHD-Adding uses two back to back
    std::int64_t max_train_samples = 0;  // 0 = all (caps the samples read from train_path)
    std::int64_t max_test_samples = 0;   // 0 = all
    std::int64_t adding_test_pairs = 1000;  // fixed, seeded evaluation pairs for SHD-Adding
    // Bytes: one file split into train / valid / test by fractions (Enwik8: 0.9 / 0.05 / 0.05).
    std::string bytes_path;
    std::array<double, 3> split = {0.9, 0.05, 0.05};
    std::int64_t window = 256;         // T of one truncated-BPTT window
    std::int64_t eval_windows = 64;    // windows per evaluation (0 = the whole split)
};

struct ExperimentConfig {
    TaskConfig task;
    models::ModelConfig model;   // C and n_out are set from the task kind
    models::TrainConfig train;
    std::string toml_text;       // the file as read, saved in checkpoints under /config
    std::string origin;          // file name for messages
};

// Parse TOML text; `origin` names the source in error messages. Relative data paths are resolved
// against `base_dir` when it is not empty.
ExperimentConfig parse_experiment_config(const std::string& toml_text, const std::string& origin,
                                         const std::string& base_dir = "");
ExperimentConfig load_experiment_config(const std::string& path);

// How long one sample of the task lasts (SHD-Adding: two windows back to back).
double sample_duration_ms(const TaskConfig& task);
// The event time base's longest gap: train.max_dt_ms, or the model's dt_ms when it is 0.
double event_max_dt_ms(const ExperimentConfig& cfg);
// train.resolutions_ms when time = "any" and none are given: dt / 8, dt / 4, dt / 2 and dt (the clock).
std::vector<double> default_resolutions_ms(double dt_ms);
// The run's time base in words, for progress headers: "clock 2 ms", "event 1 ms (max_dt 2 ms)",
// "any of 0.25, 0.5, 1, 2 ms (max_dt 2 ms) after 1500 clock steps".
std::string describe_time_base(const ExperimentConfig& cfg);
// At most this many resolutions for time = "any".
inline constexpr std::size_t kMaxResolutions = 16;
// The event grids a training row is put on: none for the clock, the one grid of "event", one per
// train.resolutions_ms entry (same order) for "any". ParameterError ("resolution_ms" / "max_dt_ms")
// for an invalid grid, or an "any" resolution that is not an exact whole multiple of the finest.
std::vector<models::EventGrid> training_grids(const ExperimentConfig& cfg);

}  // namespace elm::io
