// The in-memory recorder against the HDF5 trace of the same simulation (the same TraceFile, float for
// float), recorders chosen by name, and spike samples given in memory instead of a file: the same
// simulation and the same training as the file's samples.
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/memory_recorder.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/workflow/simulation.hpp"
#include "elmsim/sim/workflow/training.hpp"
#include "tests/temp_dir.hpp"

using elm::InputError;
using elm::test::TempDir;
namespace io = elm::io;
namespace workflow = elm::workflow;

namespace {

std::string config_text(const TempDir& tmp, const std::string& kind) {
    return fmt::format(R"([task]
kind = "{}"
train = "{}"
test = "{}"
dt_ms = 50.0

[model]
N = 10
d_m = 3
n_b = 2
k_c = 6
seed = 4

[train]
batch_size = 3
max_steps = 4
eval_every = 2
seed = 9
threads = 1
)",
                       kind, tmp.file("train.h5"), tmp.file("test.h5"));
}

// Data files and an untrained model of the config's structure.
std::string setup(const TempDir& tmp) {
    io::write_spike_dataset(tmp.file("train.h5"), io::generate_shd(12, 1));
    io::write_spike_dataset(tmp.file("test.h5"), io::generate_shd(6, 2));
    const auto cfg = io::parse_experiment_config(config_text(tmp, "shd"), "test");
    io::save_checkpoint(tmp.file("model.h5"), elm::models::make_network<float>(cfg.model), cfg.toml_text, nullptr, "test");
    return tmp.file("model.h5");
}

io::TraceOptions everything() {
    io::TraceOptions o;
    o.y = o.m = o.b = o.logits = o.spikes = true;
    o.neurons = {1, 4, 5, 8};
    o.decimate = 3;
    return o;
}

void require_same(const io::TraceFile& a, const io::TraceFile& b) {
    REQUIRE(a.mode == b.mode);
    REQUIRE(a.model == b.model);
    REQUIRE(io::trace_variables_string(a.recorded) == io::trace_variables_string(b.recorded));
    REQUIRE(a.recorded.neurons == b.recorded.neurons);
    REQUIRE(a.recorded.decimate == b.recorded.decimate);
    REQUIRE(a.recorded.final_logits_only == b.recorded.final_logits_only);
    REQUIRE((a.N == b.N && a.n_sel == b.n_sel && a.d_m == b.d_m && a.n_b == b.n_b && a.n_out == b.n_out));
    REQUIRE(a.samples.size() == b.samples.size());
    for (std::size_t i = 0; i < a.samples.size(); ++i) {
        INFO("sample " << i);
        const auto& x = a.samples[i];
        const auto& y = b.samples[i];
        CHECK(x.source_index == y.source_index);
        CHECK(x.label == y.label);
        CHECK(x.prediction == y.prediction);
        CHECK(x.T == y.T);
        CHECK(x.logits_rows == y.logits_rows);
        CHECK(x.time_ms == y.time_ms);
        CHECK(x.y == y.y);
        CHECK(x.m == y.m);
        CHECK(x.b == y.b);
        CHECK(x.logits == y.logits);
        CHECK(x.spike_times == y.spike_times);
        CHECK(x.spike_neurons == y.spike_neurons);
    }
}

}  // namespace

TEST_CASE("memory recorder: the TraceFile the HDF5 trace of the same simulation reads back", "[io][trace]") {
    TempDir tmp("memory_recorder");
    const std::string model = setup(tmp);
    for (const auto mode : {workflow::TimeMode::clock, workflow::TimeMode::event}) {
        for (const bool final_only : {false, true}) {
            INFO("mode " << workflow::to_string(mode) << " final logits only " << final_only);
            workflow::SimulationRequest r;
            r.model_path = model;
            r.data_path = tmp.file("test.h5");
            r.mode = mode;
            r.record = everything();
            r.record.final_logits_only = final_only;
            r.batch = 4;
            io::TraceWriter file(tmp.file("trace.h5"));
            const auto from_file = workflow::Simulation(r).run(file);
            io::MemoryRecorder memory;
            const auto in_memory = workflow::Simulation(r).run(memory);
            CHECK(in_memory.stats.loss_sum == from_file.stats.loss_sum);
            const io::TraceFile recorded = memory.take();
            REQUIRE(recorded.samples.size() == 6);
            CHECK(recorded.samples[0].spike_times.size() > 0);
            require_same(recorded, io::read_trace(tmp.file("trace.h5")));
        }
    }
}

TEST_CASE("spike samples in memory simulate and train as the same samples read from a file", "[io][trace]") {
    TempDir tmp("memory_samples");
    const std::string model = setup(tmp);
    workflow::SimulationRequest r;
    r.model_path = model;
    r.data_path = tmp.file("test.h5");
    r.record = everything();
    io::MemoryRecorder from_file;
    workflow::Simulation(r).run(from_file);
    auto samples = std::make_shared<io::SpikeDataset>(io::read_spike_dataset(tmp.file("test.h5")));
    samples->path = "samples";
    r.data_path.clear();
    r.samples = samples;
    io::MemoryRecorder in_memory;
    workflow::Simulation(r).run(in_memory);
    require_same(in_memory.take(), from_file.take());

    // Training: the config's files, or the same samples in memory with no file named.
    for (const std::string kind : {"shd", "shd-adding"}) {
        INFO(kind);
        workflow::TrainRequest t;
        t.config = io::parse_experiment_config(config_text(tmp, kind), "files");
        t.out_path = tmp.file("files.h5");
        const auto files = workflow::TrainingRun(t).run();
        std::string text = config_text(tmp, kind);
        for (const char* key : {"train", "test"}) {
            const std::string line = fmt::format("{} = \"{}\"\n", key, tmp.file(std::string(key) + ".h5"));
            text.erase(text.find(line), line.size());
        }
        auto cfg = io::parse_experiment_config(text, "memory");
        cfg.task.train_samples = std::make_shared<const io::SpikeDataset>(io::read_spike_dataset(tmp.file("train.h5")));
        cfg.task.test_samples = std::make_shared<const io::SpikeDataset>(io::read_spike_dataset(tmp.file("test.h5")));
        t.config = cfg;
        t.out_path = tmp.file("memory.h5");
        workflow::TrainingRun run(t);
        const auto memory = run.run();
        CHECK(io::load_checkpoint(tmp.file("files.h5")).net.params == io::load_checkpoint(tmp.file("memory.h5")).net.params);
        REQUIRE((files.final_eval && memory.final_eval));
        CHECK(files.final_eval->stats.loss_sum == memory.final_eval->stats.loss_sum);
        CHECK(run.evaluate(io::Split::test).stats.loss_sum == memory.final_eval->stats.loss_sum);
    }
}

TEST_CASE("recorders by name, and samples in memory that cannot be simulated", "[io][trace][errors]") {
    TempDir tmp("memory_errors");
    CHECK(dynamic_cast<io::MemoryRecorder*>(io::make_recorder("memory").get()) != nullptr);
    CHECK(dynamic_cast<io::DiscardingRecorder*>(io::make_recorder("none").get()) != nullptr);
    CHECK(dynamic_cast<io::TraceWriter*>(io::make_recorder("hdf5", tmp.file("t.h5")).get()) != nullptr);
    CHECK_THROWS_WITH(io::make_recorder("csv"), Catch::Contains("record: expected \"hdf5\", \"memory\" or \"none\""));
    CHECK_THROWS_WITH(io::make_recorder("hdf5"), Catch::Contains("needs a trace file path"));
    CHECK_THROWS_WITH(io::make_recorder("memory", "x.h5"), Catch::Contains("writes no file"));
    CHECK_THROWS_AS(io::make_recorder("hdf5", tmp.dir.string()), InputError);

    io::MemoryRecorder rec;
    io::RecordingSetup wrong{everything(), 10, 3, 2, 20, "m.h5", "clock", "test"};
    wrong.what.neurons = {3, 12};
    CHECK_THROWS_WITH(rec.prepare(wrong), Catch::Contains("neuron 12 is out of range"));

    io::SpikeDataset ds;
    ds.path = "samples";
    ds.num_channels = 700;
    ds.samples.resize(2);
    ds.samples[1].times_ms = {1.0, 0.5};
    ds.samples[1].units = {3, 4};
    CHECK_THROWS_WITH(io::check_spike_samples(ds), "samples: sample 1: expected ascending times, found 0.5 ms after 1 ms at event 1");
    ds.samples[1].times_ms = {1.0, std::nan("")};
    CHECK_THROWS_WITH(io::check_spike_samples(ds), Catch::Contains("expected finite times >= 0 ms"));
    ds.samples[1].times_ms = {1.0, 2.0};
    ds.samples[1].units = {3, 700};
    CHECK_THROWS_WITH(io::check_spike_samples(ds), Catch::Contains("expected channels 0..699, found 700"));
    ds.samples[1].units = {3};
    CHECK_THROWS_WITH(io::check_spike_samples(ds), Catch::Contains("expected as many channels as times"));
    ds.samples[1].units = {3, 4};
    ds.samples[0].label = -1;
    CHECK_THROWS_WITH(io::check_spike_samples(ds), Catch::Contains("sample 0: expected a label >= 0"));
    ds.samples[0].label = 0;
    CHECK_NOTHROW(io::check_spike_samples(ds));

    const std::string model = setup(tmp);
    workflow::SimulationRequest r;
    r.model_path = model;
    r.data_path = tmp.file("test.h5");
    r.samples = std::make_shared<const io::SpikeDataset>(ds);
    CHECK_THROWS_WITH(workflow::Simulation(r), Catch::Contains("samples: give a data file"));
    r.data_path.clear();
    auto bad = ds;
    bad.samples[1].units = {3, 700};
    r.samples = std::make_shared<const io::SpikeDataset>(bad);
    CHECK_THROWS_WITH(workflow::Simulation(r), Catch::Contains("expected channels 0..699"));
}
