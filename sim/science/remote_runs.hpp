// The runs of an MPI sweep that rank 0 hands to the other ranks, and the loop those ranks serve them
// in. Messages are JSON texts over Communicator::send / poll:
//   rank 0 -> rank r:  {"type":"run","index":i}   train plan.runs[i]
//                      {"type":"stop"}            stop the current run at a checkpoint
//                      {"type":"finish"}          no more runs: leave the loop
//                      {"type":"abort"}           rank 0 failed: stop, leave the loop, exit 2 quietly
//   rank r -> rank 0:  {"type":"progress","fraction":f}          at most twice a second
//                      {"type":"event","event":e,"extra":{...}}  for DIR/events.jsonl
//                      {"type":"report","report":{...}}          the run's RunReport (sweep_run.hpp)
// Every rank computes the same plan from the same files (the caller checks that first); a run is
// named by its index in it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "elmsim/sim/science/sweep_run.hpp"

namespace elm::sim {
class Communicator;
}

namespace elm::science {

// Rank 0's side. run() is called from worker threads; pump(), finish() and abort() only from the thread
// that talks to the communicator (MPI is initialised "funneled").
class RemoteRuns {
public:
    // `wake` (may be empty) is called when run() has something to send: it should make the caller of
    // pump() call it soon.
    RemoteRuns(sim::Communicator& comm, std::function<void()> wake);
    ~RemoteRuns();  // abort() unless finish() was called
    RemoteRuns(const RemoteRuns&) = delete;
    RemoteRuns& operator=(const RemoteRuns&) = delete;

    // Trains plan.runs[index] on rank `rank` and waits for its report. While it runs, the rank's
    // progress goes to ctx.fraction and its events to ctx.log_event; ctx.stop set (or a stop of this
    // process, request_sweep_stop()) is passed on. A rank that stops a run for a signal of its own
    // stops this whole sweep (request_sweep_stop()).
    RunReport run(int rank, std::size_t index, RunContext& ctx);

    // Sends what run() asked for, delivers what arrived, forwards stops. Throws when the communicator fails.
    void pump();
    // Every run() still waiting returns a failed report with this error (the communicator failed).
    void fail_all(const std::string& error);
    void finish();
    void abort();

private:
    struct Slot {
        std::optional<std::size_t> request;  // a run to send
        bool busy = false, stop_sent = false;
        RunContext* ctx = nullptr;
        std::optional<RunReport> report;
    };
    void end_all(const char* type);
    void deliver(int from, const std::string& text);  // with mu_ held

    sim::Communicator& comm_;
    std::function<void()> wake_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Slot> slots_;  // by rank; [0] unused
    bool ended_ = false;
};

// Every rank but 0: trains the runs rank 0 hands out until it says finish (returns) or abort
// (throws elm::QuietExit(2)).
void serve_sweep_runs(const SweepPlan& plan, const std::filesystem::path& dir, sim::Communicator& comm, int threads,
                      const std::string& created_by);

}  // namespace elm::science
