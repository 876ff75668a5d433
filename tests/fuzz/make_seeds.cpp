// The fuzz targets' seed corpus, made by the project's own writers and generators:
//     elm_fuzz_seeds SOURCE_DIR CORPUS_DIR
// writes CORPUS_DIR/<target>/<seed> for every target of tests/fuzz/ (tools/fuzz.sh calls it).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/rng.hpp"

namespace fs = std::filesystem;
using namespace elm;

namespace {

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
    fs::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
}

void copy_in(const fs::path& dir, const fs::path& file, const std::string& prefix = "") {
    fs::create_directories(dir);
    fs::copy_file(file, dir / (prefix + file.filename().string()), fs::copy_options::overwrite_existing);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: elm_fuzz_seeds SOURCE_DIR CORPUS_DIR\n";
        return 2;
    }
    const fs::path src = argv[1], out = argv[2];
    // Protocol lines: one of every request, and the examples of docs/protocol.md.
    const std::vector<std::string> lines = {
        R"({"op":"auth","token":"s3cret"})",
        R"({"op":"open","id":1,"mode":"event","resolution_ms":1,"stream":["prediction","y"],"neurons":"0:4"})",
        R"({"op":"open","mode":"clock","stream":["logits","spikes","top_k"],"decimate":2,"top_k":3,"trace":true})",
        R"({"op":"events","id":2,"session":1,"t_ms":[0.4,1.7,3.2],"channels":[12,40,12]})",
        R"({"op":"bytes","session":1,"bytes":[104,105]})",
        R"({"op":"bytes","session":1,"text":"hello"})",
        R"({"op":"advance","session":1,"t_ms":10})",
        R"({"op":"finish","session":1,"t_ms":1000})",
        R"({"op":"read","session":1,"id":"r"})",
        R"({"op":"reset","session":1})",
        R"({"op":"close","session":1})",
    };
    for (std::size_t k = 0; k < lines.size(); ++k) put(out / "protocol", "line" + std::to_string(k), lines[k]);
    // A checkpoint with a train state, a trace, an SHD file: today's writers, and the legacy fixtures
    // written before checksums (variable-length strings).
    models::ModelConfig cfg;
    cfg.N = 6;
    cfg.C = 10;
    cfg.n_out = 3;
    cfg.d_m = 2;
    cfg.d_h = 4;
    cfg.n_b = 2;
    cfg.k_c = 4;
    const auto net = models::make_network<float>(cfg);
    models::TrainState t;
    t.step = 3;
    t.optimizer = "adam";
    t.moment1.assign(net.params.size(), 0.1f);
    t.moment2.assign(net.params.size(), 0.2f);
    t.rng = Rng(1, 1).state();
    fs::create_directories(out / "checkpoint");
    io::save_checkpoint((out / "checkpoint" / "model.h5").string(), net, "[model]\nN = 6\n", &t, "elm_fuzz_seeds");
    fs::create_directories(out / "trace");
    {
        io::TraceOptions what;
        what.m = what.b = what.logits = what.spikes = true;
        io::TraceWriter w((out / "trace" / "trace.h5").string(), "model.h5", "event", what, cfg.N, cfg.d_m, cfg.n_b,
                          cfg.n_out, "elm_fuzz_seeds");
        std::vector<float> y(cfg.N, 1.0f), m(cfg.N * cfg.d_m, 0.5f), b(cfg.N * cfg.n_b, 0.25f), l(cfg.n_out, 0.1f);
        w.begin_sample(0, 1);
        for (int k = 0; k < 4; ++k) w.write(0.5 * (k + 1), y.data(), m.data(), b.data(), l.data());
        w.end_sample(l.data(), 0);
        w.commit();
    }
    fs::create_directories(out / "spike_dataset");
    io::write_spike_dataset((out / "spike_dataset" / "shd.h5").string(), io::generate_shd(2, 1));
    // The legacy trace: the 1.10 format, but variable-length strings in datasets and attributes,
    // checked by the heap guard before libhdf5 follows them (io/vlen_guard.hpp). The legacy model and
    // data have no checksummed metadata at all: the command line reads those in an isolated process
    // first, and the targets skip such inputs (tests/fuzz/fuzz_input_file.hpp).
    copy_in(out / "trace", src / "tests/data/legacy" / "trace.h5", "legacy_");
    put(out / "byte_stream", "text", "the quick brown fox jumps over the lazy dog. 0123456789\n");
    // Every config the project ships.
    for (const auto& e : fs::directory_iterator(src / "configs")) {
        if (e.path().extension() != ".toml") continue;
        const bool sweep = e.path().filename().string().rfind("sweep", 0) == 0;
        copy_in(out / (sweep ? "sweep_config" : "experiment_config"), e.path());
    }
    std::cout << "seeds written under " << out.string() << "\n";
    return 0;
}
