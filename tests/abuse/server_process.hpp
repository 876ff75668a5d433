// The server under attack as a child process (tests/abuse/elm_abuse.cpp): `elmsim serve ...` forked
// and exec'd with its stdout and stderr in a log file, optionally under a lowered RLIMIT_NOFILE; its
// port read from the log line "... on 127.0.0.1:PORT ..."; its peak resident memory (VmHWM of
// /proc/PID/status); and a watchdog that SIGKILLs it at the case's deadline or past a hard memory
// limit, so that no case can hang the suite or exhaust the machine.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/abuse/line_client.hpp"

namespace elm::abuse {

struct ExitInfo {
    int code = -1;    // exit code, or -1 when a signal ended it
    int signal = 0;   // the signal that ended it, or 0
    std::string text() const;  // "0", "2", "SIGKILL", ...
};

class ServerProcess {
public:
    // Forks `binary args...`; with `nofile`, RLIMIT_NOFILE (soft and hard) is set to it in the child.
    ServerProcess(const std::string& binary, const std::vector<std::string>& args, std::filesystem::path log,
                  std::optional<long> nofile = {});
    // SIGKILLs and reaps a child still running.
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    int pid() const { return pid_; }
    // The port of the log's "on 127.0.0.1:PORT" line; 0 when the child exits first or time runs out.
    int wait_port(double timeout_s);
    // Reaps the child if it has exited; its exit once reaped.
    std::optional<ExitInfo> poll_exit();
    // Waits up to timeout_s for the child to exit.
    std::optional<ExitInfo> wait_exit(double timeout_s);
    // VmHWM / VmRSS in KiB, -1 once the child has gone.
    long peak_rss_kb() const;
    long rss_kb() const;
    // Signals the child unless it has been reaped (safe from any thread; never reaps).
    void signal(int sig);
    std::string log_text() const;
    // The log's first line (why a server did not start), shortened to `max` characters.
    std::string log_first_line(std::size_t max = 160) const;

private:
    std::filesystem::path log_;
    int pid_ = -1;
    mutable std::mutex mu_;  // reaping against signal()
    std::optional<ExitInfo> exit_;
};

// SIGKILLs `server` once `deadline` passes or its resident memory exceeds `hard_rss_kb`, and keeps
// the highest VmHWM seen (the peak when the server dies before it is stopped).
class Watchdog {
public:
    Watchdog(ServerProcess& server, Clock::time_point deadline, long hard_rss_kb);
    ~Watchdog();
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
    void stop();
    long peak_rss_kb() const { return peak_kb_; }
    // Why it killed the server ("" when it did not).
    std::string fired() const;
    bool has_fired() const { return fired_flag_; }

private:
    ServerProcess& server_;
    Clock::time_point deadline_;
    long hard_rss_kb_;
    std::atomic<bool> stop_{false}, fired_flag_{false};
    std::atomic<long> peak_kb_{-1};
    mutable std::mutex mu_;
    std::string fired_;
    std::thread thread_;
};

}  // namespace elm::abuse
