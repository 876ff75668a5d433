// BatchQueue: the micro-batching thread of `elmsim serve`. Connections submit the session whose
// request planned updates (SessionTable::awaiting()) and go on waiting; the thread takes everything
// submitted so far — what arrived while the last batch ran, or within a short window — runs it as one
// StreamBatcher::run (the sessions' updates as rows of one backend stepper, sim/stream_batcher.hpp),
// and calls each submission's completion. A run takes at most `slice` updates of each session (its
// fairness: a session with a long queue is advanced in slices, the connection resubmitting it after
// writing each slice's replies, so every other session's request joins the next run). The one thread is the only user of the batcher and of its
// steppers, which is also what lets one GPU stream serve every connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "elmsim/sim/session.hpp"
#include "elmsim/sim/stream_batcher.hpp"

namespace elm::serve {

class BatchQueue {
public:
    // Called on the batch thread once the session's updates ran; `error` is empty, or says why the
    // batch failed (the backend threw).
    using Done = std::function<void(const std::string& error)>;

    // `window`: how long the thread waits for more submissions once one arrived (0: it runs what is
    // there at once; a batch still collects what arrives while the previous one runs).
    // `slice`: most updates of one session per run (>= 1).
    BatchQueue(sim::StreamBatcher& batcher, std::chrono::microseconds window, std::int64_t slice);
    ~BatchQueue();  // runs what was submitted, then ends the thread
    BatchQueue(const BatchQueue&) = delete;
    BatchQueue& operator=(const BatchQueue&) = delete;

    void submit(sim::Session* session, Done done);
    sim::BatcherStats stats() const;

private:
    struct Job {
        sim::Session* session;
        Done done;
    };
    void loop();

    sim::StreamBatcher& batcher_;
    std::chrono::microseconds window_;
    std::int64_t slice_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Job> jobs_;
    bool stopping_ = false;
    sim::BatcherStats stats_;
    std::thread thread_;  // last: started once everything above exists
};

}  // namespace elm::serve
