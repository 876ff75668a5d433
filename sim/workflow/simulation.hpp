// Simulation of a trained model over a dataset as a library call (`elmsim simulate`): in clock mode
// (bins of the model's dt, exactly as training bins) or event mode (models/event_schedule.hpp: float64
// event times, updates only when something happens), every update handed to a Recorder, every sample
// scored as evaluation scores it. Spike samples run `batch` at a time through one backend stepper,
// made the way training and evaluation make batches (io::SpikeBatcher: in event mode each sample's own
// schedule, padded at the start), so a test set costs about what evaluating it costs; each sample's
// floats do not depend on the batch it ran in. The default time base is the model's own: an
// event-trained model simulates on its event grid and reproduces its evaluation bit for bit.
//
// The samples: those of an SHD-format file (SHD-Adding: the run's fixed evaluation pairs,
// io::evaluation_pairs, sample i = pair i), or for a byte model the whole byte file (or standard
// input) as ONE sample, byte k at time k dt; a range [first, end) picks samples (bytes for text).
// After each update that delivered bytes, the logits predict the next byte not yet delivered (bpc
// over those predictions).
//
// Two steps: the constructor loads and checks the model, the data and the range (nothing is
// written); run() prepares the recorder, simulates, and commits it only after the last sample, so a
// failed run leaves no recording.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/io/recorder.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/sim/backend.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/sim/loss.hpp"
#include "elmsim/sim/workflow/model_file.hpp"

namespace elm::workflow {

enum class TimeMode { clock, event };
std::string to_string(TimeMode m);
// "clock" | "event"; ParameterError "mode" otherwise.
TimeMode time_mode_from_string(const std::string& s);

struct SimulationRequest {
    std::string model_path;
    std::string data_path;  // SHD-format file; for byte models any file, or "-" for standard input
    // Spike samples in memory, used instead of data_path (which must then be empty): checked with
    // io::check_spike_samples; samples.path names them in messages.
    std::shared_ptr<const io::SpikeDataset> samples;
    // Samples [first, end) (pairs for SHD-Adding, bytes for text); default: all.
    std::optional<std::int64_t> first, end;
    std::optional<TimeMode> mode;  // default: the time base the model was trained on
    // Event mode: events closer than resolution_ms merge, no gap between updates exceeds max_dt_ms.
    // Defaults: an event-trained model's own grid; else 0.1 ms and the model's dt. Rejected in clock mode.
    std::optional<double> resolution_ms, max_dt_ms;
    int batch = 16;  // spike samples run together (1 = one at a time; the floats are the same)
    // How analog outputs drive their targets (spec section 5). Default: the model's rule; a model
    // written before the rate rule (no drive attribute) gets the rate rule, with a notice in event mode.
    std::optional<models::DriveRule> drive;
    // The memory gain (spec section 2). Default: the model's; a clock-trained model written before the
    // choice (no memory_gain attribute) gets the rate gain in event mode, with a notice. "rate" keeps the
    // fast memory units' clock gain on finer or coarser schedules (identical on the clock).
    std::optional<models::MemoryGain> memory_gain;
    // How the MLP reads the memory (spec section 2). Default: the model's; a clock-trained model written
    // before the choice (no memory_input attribute) gets "clock_decay" in event mode, with a notice: the
    // same read of the state on every schedule (identical on the clock).
    std::optional<models::MemoryInput> memory_input;
    io::TraceOptions record;  // what the recorder is asked to record (set_record may replace it)
    std::optional<std::int64_t> threads;
    std::string backend = "cpu";
    std::string created_by = "elmsim";
};

struct SimulationResult {
    bool bytes = false;          // a byte model: stats are next-byte predictions (bpc)
    sim::LossStats stats;
    std::int64_t samples = 0;    // simulated samples (1 for bytes)
    std::int64_t updates = 0;    // engine updates in all
    std::int64_t first = 0, end = 0;
    double wall_seconds = 0.0;   // simulation time, without loading
};

// The longest step between updates event mode takes by default: an event- or any-trained model's own
// train.max_dt_ms, else the model's dt.
double default_max_dt_ms(const LoadedModel& model);
// Event mode's default resolution: an event-trained model's own, an any-trained model's finest, else
// 0.1 ms.
double default_resolution_ms(const LoadedModel& model);

class Simulation {
public:
    // InputError / ParameterError ("samples", "resolution_ms", "max_dt_ms", "record", "threads",
    // "backend") for anything that would make the run fail.
    explicit Simulation(const SimulationRequest& request);
    ~Simulation();
    Simulation(const Simulation&) = delete;
    Simulation& operator=(const Simulation&) = delete;

    const LoadedModel& model() const { return model_; }
    // One-line notes about the run for its user (e.g. which drive rule an old model gets).
    const std::vector<std::string>& notices() const { return notices_; }
    const sim::Backend& backend() const { return *backend_; }
    bool bytes() const { return bytes_; }
    TimeMode mode() const { return mode_; }
    std::int64_t first() const { return first_; }
    std::int64_t end() const { return end_; }
    // What run() will ask the recorder to prepare.
    io::RecordingSetup recording_setup() const;
    // Replaces request.record (e.g. with a neuron list chosen once the model's N is known); the same
    // checks as at construction.
    void set_record(const io::TraceOptions& record);

    SimulationResult run(io::Recorder& recorder);

private:
    void check_record(const io::TraceOptions& record) const;
    SimulationResult run_spikes(io::Recorder& recorder);
    SimulationResult run_bytes(io::Recorder& recorder);

    SimulationRequest request_;
    LoadedModel model_;
    std::unique_ptr<sim::Backend> backend_;
    bool bytes_ = false;
    TimeMode mode_ = TimeMode::clock;
    std::optional<models::EventGrid> grid_;
    std::optional<io::ByteStream> stream_;
    io::SpikeDataset dataset_;
    std::vector<io::AddingPair> pairs_;
    std::int64_t first_ = 0, end_ = 0;
    std::vector<std::string> notices_;
};

}  // namespace elm::workflow
