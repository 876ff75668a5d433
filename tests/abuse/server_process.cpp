// The server child of the abuse suite (server_process.hpp): fork, exec, log, /proc, the watchdog.
#include "tests/abuse/server_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace elm::abuse {

std::string ExitInfo::text() const {
    if (signal != 0) {
        const char* name = sigabbrev_np(signal);
        return name ? std::string("SIG") + name : "signal " + std::to_string(signal);
    }
    return std::to_string(code);
}

ServerProcess::ServerProcess(const std::string& binary, const std::vector<std::string>& args, std::filesystem::path log,
                             std::optional<long> nofile)
    : log_(std::move(log)) {
    // Everything the child needs is made before fork: after it, only async-signal-safe calls.
    std::vector<std::string> all{binary};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = log_.string();
    std::filesystem::remove(log_);  // or wait_port could read a port from an earlier run's log
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // the suite killed: the server goes with it
        if (getppid() != parent) _exit(127);
        const int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0) _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        if (nofile) {
            const rlimit r{static_cast<rlim_t>(*nofile), static_cast<rlim_t>(*nofile)};
            if (setrlimit(RLIMIT_NOFILE, &r) != 0) _exit(127);
        }
        execv(argv[0], argv.data());
        _exit(127);
    }
}

ServerProcess::~ServerProcess() {
    if (!poll_exit()) {
        signal(SIGKILL);
        wait_exit(10.0);
    }
}

std::optional<ExitInfo> ServerProcess::poll_exit() {
    std::lock_guard lock(mu_);
    if (exit_ || pid_ <= 0) return exit_;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        ExitInfo e;
        if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) e.signal = WTERMSIG(status);
        exit_ = e;
    } else if (r < 0 && errno == ECHILD) {
        exit_ = ExitInfo{};
    }
    return exit_;
}

std::optional<ExitInfo> ServerProcess::wait_exit(double timeout_s) {
    const auto t0 = Clock::now();
    for (;;) {
        if (auto e = poll_exit()) return e;
        if (seconds_since(t0) >= timeout_s) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void ServerProcess::signal(int sig) {
    std::lock_guard lock(mu_);
    if (!exit_ && pid_ > 0) ::kill(pid_, sig);
}

namespace {

// A "Key:   123 kB" field of /proc/PID/status, -1 when absent.
long status_kb(int pid, const std::string& key) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    return -1;
}

}  // namespace

long ServerProcess::peak_rss_kb() const { return status_kb(pid_, "VmHWM"); }
long ServerProcess::rss_kb() const { return status_kb(pid_, "VmRSS"); }

std::string ServerProcess::log_text() const {
    std::ifstream f(log_, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string ServerProcess::log_first_line(std::size_t max) const {
    std::string t = log_text();
    t = t.substr(0, t.find('\n'));
    return t.size() > max ? t.substr(0, max) + "..." : t;
}

int ServerProcess::wait_port(double timeout_s) {
    const auto t0 = Clock::now();
    const std::string key = "on 127.0.0.1:";
    for (;;) {
        const std::string text = log_text();
        const auto at = text.find(key);
        if (at != std::string::npos) {
            const int port = std::atoi(text.c_str() + at + key.size());
            if (port > 0) return port;
        }
        if (poll_exit() || seconds_since(t0) >= timeout_s) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

Watchdog::Watchdog(ServerProcess& server, Clock::time_point deadline, long hard_rss_kb)
    : server_(server), deadline_(deadline), hard_rss_kb_(hard_rss_kb) {
    thread_ = std::thread([this] {
        while (!stop_) {
            const long hwm = server_.peak_rss_kb();
            if (hwm > peak_kb_) peak_kb_ = hwm;
            std::string why;
            if (server_.rss_kb() > hard_rss_kb_)
                why = "resident memory over " + std::to_string(hard_rss_kb_ / 1024) + " MiB: SIGKILL";
            else if (Clock::now() > deadline_)
                why = "case deadline passed: SIGKILL";
            if (!why.empty() && !fired_flag_) {
                server_.signal(SIGKILL);
                std::lock_guard lock(mu_);
                fired_ = why;
                fired_flag_ = true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
}

Watchdog::~Watchdog() { stop(); }

void Watchdog::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

std::string Watchdog::fired() const {
    std::lock_guard lock(mu_);
    return fired_;
}

}  // namespace elm::abuse
