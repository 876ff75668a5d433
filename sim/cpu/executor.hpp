// Executor: a oneTBB arena with a fixed number of threads. Every parallel loop in the engine runs
// through it; each index's work is independent and done in a fixed order inside one task, so results
// are bit-identical for any thread count.
#pragma once

#include <algorithm>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace elm::sim::cpu {

class Executor {
public:
    // threads <= 0: all hardware threads.
    explicit Executor(int threads = 0)
        : threads_(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency())), arena_(threads_) {}

    int threads() const { return threads_; }

    // f(begin, end) over [0, n) in chunks of at least `grain` indices.
    template <class F>
    void parallel_for(int n, F&& f, int grain = 1) {
        if (n <= 0) return;
        if (threads_ == 1 || n <= grain) {
            f(0, n);
            return;
        }
        arena_.execute([&] {
            tbb::parallel_for(tbb::blocked_range<int>(0, n, std::max(1, grain)),
                              [&](const tbb::blocked_range<int>& r) { f(r.begin(), r.end()); });
        });
    }

private:
    int threads_;
    tbb::task_arena arena_;
};

}  // namespace elm::sim::cpu
