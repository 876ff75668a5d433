// elmsim as a library: train a tiny ELM Network on generated spoken-digit spikes, then simulate it
// event by event on held-out samples and record what every neuron did. Build: README "C++ API"
// (against an installed elmsim: tools/example/CMakeLists.txt), or the target elmsim_example in-tree.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <elmsim/elmsim.hpp>

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "elmsim_example";
    fs::create_directories(dir);
    elm::io::write_spike_dataset((dir / "train.h5").string(), elm::io::generate_shd(200, 1));
    elm::io::write_spike_dataset((dir / "test.h5").string(), elm::io::generate_shd(40, 2));
    std::ofstream(dir / "tiny.toml") << "[task]\nkind = \"shd\"\ntrain = \"train.h5\"\ntest = \"test.h5\"\n"
                                        "dt_ms = 20.0\n[model]\nN = 32\nd_m = 8\nk_c = 16\n"
                                        "[train]\nmax_steps = 300\nbatch_size = 16\nlr = 1e-2\n";
    elm::workflow::TrainRequest train;
    train.config_path = (dir / "tiny.toml").string();
    train.out_path = (dir / "model.h5").string();
    const auto trained = elm::workflow::TrainingRun(train).run();
    std::printf("trained %lld steps: test accuracy %.3f\n", static_cast<long long>(trained.step),
                trained.final_eval->stats.accuracy());

    elm::workflow::SimulationRequest run;
    run.model_path = trained.model_path;
    run.data_path = (dir / "test.h5").string();
    run.mode = elm::workflow::TimeMode::event;  // on the training grid: the clock-mode floats
    run.resolution_ms = run.max_dt_ms = 20.0;
    run.record.m = true;  // y and the memory units of every neuron
    elm::io::TraceWriter trace((dir / "trace.h5").string());
    const auto simulated = elm::workflow::Simulation(run).run(trace);
    std::printf("simulated %lld samples in %lld updates: accuracy %.3f, trace %s\n",
                static_cast<long long>(simulated.samples), static_cast<long long>(simulated.updates),
                simulated.stats.accuracy(), (dir / "trace.h5").c_str());
    return 0;
}
