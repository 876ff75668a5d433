// Simulation of a trained model over a dataset as a library call (`elmsim simulate`): samples one at
// a time through the Simulator in clock mode (bins of the model's dt, exactly as training bins) or
// event mode (sim/event_schedule.hpp: float64 event times, updates only when something happens),
// every update handed to a Recorder, every sample scored as evaluation scores it.
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

struct SimulationRequest {
    std::string model_path;
    std::string data_path;  // SHD-format file; for byte models any file, or "-" for standard input
    // Samples [first, end) (pairs for SHD-Adding, bytes for text); default: all.
    std::optional<std::int64_t> first, end;
    TimeMode mode = TimeMode::clock;
    // Event mode: events closer than resolution_ms merge (default 0.1 ms); no gap between updates
    // exceeds max_dt_ms (default: the model's dt). Rejected in clock mode.
    std::optional<double> resolution_ms, max_dt_ms;
    // How analog outputs drive their targets (spec section 5). Default: the model's rule; a model
    // written before the rate rule (no drive attribute) gets the rate rule, with a notice in event mode.
    std::optional<models::DriveRule> drive;
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
    std::optional<models::EventGrid> grid_;
    std::optional<io::ByteStream> stream_;
    io::SpikeDataset dataset_;
    std::vector<io::AddingPair> pairs_;
    std::int64_t first_ = 0, end_ = 0;
    std::vector<std::string> notices_;
};

}  // namespace elm::workflow
