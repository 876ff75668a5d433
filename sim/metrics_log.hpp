// Training telemetry: a machine-readable metrics log (JSON lines, one object per event) and a live
// progress line for people (step, loss, steps/s, ETA) on stderr — rewritten in place on a terminal,
// printed every log interval otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace elm::sim {

class MetricsLog {
public:
    MetricsLog() = default;
    // Appends to `path` (created if missing; resumed runs continue the same file).
    explicit MetricsLog(const std::string& path);
    // One JSON object: {"kind": kind, key: value, ...}; non-finite values are written as null.
    void write(const std::string& kind, const std::vector<std::pair<std::string, double>>& values);
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::ofstream out_;
};

class ProgressLine {
public:
    ProgressLine(std::int64_t first_step, std::int64_t last_step, bool enabled);
    void update(std::int64_t step, double loss, double accuracy, double lr);
    void message(const std::string& line);  // a full line that does not disturb the live line
    void finish();
    double steps_per_second(std::int64_t step) const;

private:
    std::int64_t first_, last_;
    bool enabled_, tty_, open_ = false;
    std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace elm::sim
