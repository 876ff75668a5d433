#include "tools/bench/bench_support.hpp"

#include <filesystem>
#include <ctime>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/models/rng.hpp"

extern char** environ;

namespace elm::bench {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

ChildResult run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra,
                      bool quiet_stderr) {
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e) {
        const std::string entry(*e);
        const bool overridden = std::any_of(env_extra.begin(), env_extra.end(), [&](const std::string& x) {
            return entry.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0;
        });
        if (!overridden) env_store.push_back(entry);
    }
    env_store.insert(env_store.end(), env_extra.begin(), env_extra.end());
    std::vector<char*> cargv, cenv;
    for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
    for (const auto& s : env_store) cenv.push_back(const_cast<char*>(s.c_str()));
    cargv.push_back(nullptr);
    cenv.push_back(nullptr);

    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("bench: pipe() failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (quiet_stderr) posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    ChildResult r;
    if (rc != 0) {
        close(fds[0]);
        return r;
    }
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.out.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.maxrss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: kilobytes
    return r;
}

std::optional<double> json_number(const std::string& out, const std::string& key) {
    const std::size_t line = out.rfind('{');
    if (line == std::string::npos) return std::nullopt;
    const std::size_t k = out.find("\"" + key + "\"", line);
    if (k == std::string::npos) return std::nullopt;
    const std::size_t colon = out.find(':', k);
    if (colon == std::string::npos) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(out.c_str() + colon + 1, &end);
    if (end == out.c_str() + colon + 1) return std::nullopt;
    return v;
}

TorchProbe probe_torch(const std::string& python, const std::string& modules) {
    // One product makes sure the BLAS is loaded; /proc/self/maps then names the libraries mapped.
    const std::string code =
        "import " + modules +
        "\nimport os\ntorch.ones(4, 4) @ torch.ones(4, 4)\n"
        "libs = set()\n"
        "for line in open('/proc/self/maps'):\n"
        "    f = line.split()\n"
        "    name = os.path.basename(f[-1]).lower() if len(f) >= 6 else ''\n"
        "    if 'blas' in name or 'blis' in name or 'mkl' in name: libs.add(os.path.realpath(f[-1]))\n"
        "print(torch.__version__)\nprint(';'.join(sorted(libs)))\n";
    const ChildResult r = run_child({python, "-c", code}, {}, true);
    TorchProbe p;
    if (r.exit_code != 0) return p;
    const std::size_t nl = r.out.find('\n');
    p.version = r.out.substr(0, nl);
    if (nl != std::string::npos) p.blas = r.out.substr(nl + 1, r.out.find('\n', nl + 1) - nl - 1);
    p.reference_blas = is_reference_blas(p.blas);
    return p;
}

bool is_reference_blas(const std::string& libs) {
    // torch calls the BLAS through libblas.so.3, Debian's alternative: it resolves to .../blas/ for the
    // reference BLAS and to openblas-*/ or blis-*/ for a tuned one. OpenBLAS's LAPACK may be mapped
    // beside the reference BLAS (liblapack.so.3 is a separate alternative); the products still run on
    // the reference BLAS then (8 GFLOP/s against 175 with OpenBLAS's libblas.so.3, measured).
    return libs.find("/blas/libblas.so") != std::string::npos;
}

std::string reference_blas_warning(const TorchProbe& probe) {
    if (!probe.reference_blas) return "";
    return fmt::format("WARNING: torch runs on the reference BLAS ({}), without tuned kernels: its model trains "
                       "several times slower than a user's would, so the ratios flatter elmsim. Install a tuned BLAS "
                       "(tools/install_bench_deps.sh installs libopenblas0-openmp; update-alternatives --config "
                       "libblas.so.3-x86_64-linux-gnu chooses among those installed) and run again.",
                       probe.blas);
}

std::string first_line_of(const std::string& cmd) {
    std::string s;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[512];
        if (std::fgets(buf, sizeof buf, p)) s = buf;
        pclose(p);
    }
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return fmt::format("{} {} {}", a, b, c);
}

// The reference script: --reference, else tools/reference/ under the working directory or above
// the executable (a build tree inside the source tree).
std::string find_reference_script(const std::string& flag) {
    namespace fs = std::filesystem;
    if (!flag.empty()) return fs::exists(flag) ? flag : std::string();
    const fs::path rel = "tools/reference/elm_reference.py";
    if (fs::exists(rel)) return rel.string();
    std::error_code ec;
    fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
    for (int up = 0; up < 5 && !ec && !dir.empty(); ++up, dir = dir.parent_path())
        if (fs::exists(dir / rel)) return (dir / rel).string();
    return {};
}

ScratchDir::ScratchDir(const std::string& prefix)
    : path_(std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(getpid()))) {
    std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string commit_or_unknown() {
    const std::string c = first_line_of("git rev-parse --short HEAD 2>/dev/null");
    return c.empty() ? "unknown" : c;
}

std::string local_time_minutes() {
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
    return date;
}

models::Batch random_spike_batch(const models::ModelConfig& m, int T, int B) {
    Rng rng(4);
    models::Batch batch;
    batch.T = T;
    batch.B = B;
    batch.C = m.C;
    batch.x.resize(static_cast<std::size_t>(T) * B * m.C);
    for (auto& v : batch.x) v = rng.uniform() < kBenchEventRate ? 1.0f : 0.0f;
    for (int b = 0; b < B; ++b) batch.targets.push_back(static_cast<std::int32_t>(rng.below(m.n_out)));
    return batch;
}

}  // namespace elm::bench
