// TraceDirectory: where `elmsim serve --trace-dir DIR` writes the HDF5 traces sessions ask for with
// "trace": true — under DIR only, with names the server chooses ("<start time>-<pid>-<n>.h5"), never
// a path a client sends. Each trace is one session's updates (y and logits of every neuron), a
// sample per "finish" (or "reset"), committed when the session closes, its connection ends or the
// server stops; a trace that cannot be written is dropped and the session told, the session itself
// goes on. The HDF5 calls of all sessions' traces go one at a time (mutex()). At most `max_open`
// traces are open at once, server-wide (each holds a file descriptor and HDF5 buffers): one more is
// refused until a session's trace is committed or dropped (closed()).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/model_config.hpp"

namespace elm::serve {

class TraceDirectory {
public:
    // ParameterError "trace_dir" unless `dir` is an existing, writable directory.
    TraceDirectory(std::string dir, std::string model_path, std::string created_by, int max_open = 64);

    // A writer for a new session in `mode` ("clock" / "event") of a network `cfg`; its file name
    // (without the directory) in *name. InputError when it cannot be created or max_open are open.
    std::unique_ptr<io::TraceWriter> open(const std::string& mode, const models::ModelConfig& cfg, std::string* name);
    // A trace open() gave was committed or dropped: its place in the budget is free again.
    void closed();
    int open_traces() const { return open_.load(); }
    int max_open() const { return max_open_; }
    const std::string& dir() const { return dir_; }
    std::mutex& mutex() { return mu_; }

private:
    std::string dir_, model_path_, created_by_, stamp_;
    std::atomic<std::int64_t> next_{1};
    int max_open_;
    std::atomic<int> open_{0};
    std::mutex mu_;
};

}  // namespace elm::serve
