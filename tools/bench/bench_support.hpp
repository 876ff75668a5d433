// Helpers shared by the benchmark commands (`elmsim bench`, `bench-gemm`): medians of timed
// repeats, running a child process with its own peak-memory measurement, reading a number from a
// child's JSON line, and describing the machine (CPU model, load) for a result's header.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/models/model_config.hpp"

namespace elm::bench {

// Median of the values (the mean of the two middle ones for an even count); v must not be empty.
double median(std::vector<double> v);

// Median wall time in milliseconds of `repeats` calls of f, after `warmup` untimed calls.
template <class F>
double median_ms(F&& f, int warmup, int repeats) {
    for (int r = 0; r < warmup; ++r) f();
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(std::move(ms));
}

struct ChildResult {
    int exit_code = -1;  // -1: could not be started
    std::string out;     // its standard output
    double maxrss_mb = 0;
};

// Run argv (argv[0] a path) with `env_extra` ("NAME=value") added to the environment; capture its
// stdout; peak RSS from wait4. quiet_stderr sends its stderr to /dev/null.
ChildResult run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra,
                      bool quiet_stderr = false);

// A number field of the last JSON object line in `out` (the children print flat objects).
std::optional<double> json_number(const std::string& out, const std::string& key);

// What the PyTorch side of a benchmark runs on: `python` importing `modules` (e.g. "torch, h5py").
// `version` is empty when the import fails. `blas` lists the BLAS libraries the process mapped
// (resolved paths); `reference_blas` is true when its products run on Debian's reference BLAS (netlib,
// no tuned kernels: a PyTorch model runs several times slower on it, so a comparison would mislead).
struct TorchProbe {
    std::string version, blas;
    bool reference_blas = false;
};
TorchProbe probe_torch(const std::string& python, const std::string& modules);
// Whether `libs` (a probe's ';'-separated resolved library paths) shows torch's products running on
// Debian's reference BLAS.
bool is_reference_blas(const std::string& libs);
// The warning a benchmark prints when probe.reference_blas ("" otherwise).
std::string reference_blas_warning(const TorchProbe& probe);

// First line of a shell command's output, trailing blanks removed ("" when it fails).
std::string first_line_of(const std::string& cmd);
std::string cpu_model();     // /proc/cpuinfo "model name"
std::string load_average();  // the three numbers of /proc/loadavg
// The benchmarks' input: random SHD-like events, each channel-bin one event with probability
// kBenchEventRate (real SHD has ~2-5 % of its 700 x 500 channel-bins non-zero at 2 ms; 5 % is the busy
// end, and what the reference's --bench draws), fixed seed, one random target per sample.
inline constexpr double kBenchEventRate = 0.05;
models::Batch random_spike_batch(const models::ModelConfig& m, int T, int B);

// A fresh folder under the system's temporary directory, removed with everything in it at the end.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& prefix);
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// The short commit of the working directory ("unknown" outside a git checkout) and the local time,
// "YYYY-MM-DD HH:MM": what a result's header records.
std::string commit_or_unknown();
std::string local_time_minutes();

// The PyTorch reference script: `flag` when given ("" if it does not exist), else
// tools/reference/elm_reference.py under the working directory or above the executable.
std::string find_reference_script(const std::string& flag);

}  // namespace elm::bench
