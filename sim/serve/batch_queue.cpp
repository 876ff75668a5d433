#include "elmsim/sim/serve/batch_queue.hpp"

#include <cstdio>
#include <exception>

namespace elm::serve {

BatchQueue::BatchQueue(sim::StreamBatcher& batcher, std::chrono::microseconds window, std::int64_t slice)
    : batcher_(batcher), window_(window), slice_(slice), thread_([this] { loop(); }) {}

BatchQueue::~BatchQueue() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void BatchQueue::submit(sim::Session* session, Done done) {
    {
        std::lock_guard lock(mu_);
        jobs_.push_back(Job{session, std::move(done)});
    }
    cv_.notify_one();
}

sim::BatcherStats BatchQueue::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void BatchQueue::loop() {
    std::vector<Job> batch;
    std::vector<sim::Session*> sessions;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and nothing left to run
            if (window_.count() > 0 && !stopping_) {
                const auto full = static_cast<std::size_t>(batcher_.max_rows());
                cv_.wait_for(lock, window_, [&] { return stopping_ || jobs_.size() >= full; });
            }
            batch.swap(jobs_);
        }
        sessions.clear();
        for (const Job& j : batch) sessions.push_back(j.session);
        std::string error;
        try {
            batcher_.run(sessions, slice_);
        } catch (const std::exception& e) {  // the reason stays in the server's log (it may name files)
            std::fprintf(stderr, "elmsim serve: a batch of %zu sessions failed: %s\n", sessions.size(), e.what());
            error = "the batch failed inside the server (its log says why)";
        }
        {
            std::lock_guard lock(mu_);
            stats_ = batcher_.stats();
        }
        for (Job& j : batch) j.done(error);
        batch.clear();
    }
}

}  // namespace elm::serve
