// The execution model of gpu/emulation/emulated_device.hpp: a pool of OS threads, one per CUDA thread
// of the largest block seen, that runs one block at a time; each worker is woken by its own semaphore,
// so a block of 32 threads wakes 32 workers.
#include "elmsim/gpu/emulation/emulated_device.hpp"

#include <atomic>
#include <barrier>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

namespace elm::gpu::emulation {

ThreadIndices& indices() {
    thread_local ThreadIndices here;
    return here;
}

namespace {

thread_local std::barrier<>* block_barrier = nullptr;

class BlockPool {
public:
    ~BlockPool() {
        stop_ = true;
        for (auto& w : workers_) w->wake.release();
        for (auto& w : workers_) w->thread.join();
    }

    void run(dim3 grid, dim3 block, const std::function<void()>& body) {
        const unsigned n = block.x * block.y * block.z;
        std::lock_guard run_lock(run_mu_);  // one launch at a time
        while (workers_.size() < n) {
            auto w = std::make_unique<Worker>();
            Worker* self = w.get();
            const unsigned id = static_cast<unsigned>(workers_.size());
            workers_.push_back(std::move(w));
            self->thread = std::thread([this, self, id] { work(*self, id); });
        }
        for (unsigned z = 0; z < grid.z; ++z)
            for (unsigned y = 0; y < grid.y; ++y)
                for (unsigned x = 0; x < grid.x; ++x) {
                    std::barrier<> barrier(static_cast<std::ptrdiff_t>(n));
                    task_ = Task{&body, grid, block, uint3{x, y, z}, &barrier};
                    pending_.store(n);
                    for (unsigned id = 0; id < n; ++id) workers_[id]->wake.release();
                    done_.acquire();
                }
    }

private:
    struct Task {
        const std::function<void()>* body = nullptr;
        dim3 grid, block;
        uint3 index{};
        std::barrier<>* barrier = nullptr;
    };
    struct Worker {
        std::binary_semaphore wake{0};
        std::thread thread;
    };

    void work(Worker& self, unsigned id) {
        for (;;) {
            self.wake.acquire();
            if (stop_) return;
            const Task& task = task_;  // written before the release that woke this worker
            ThreadIndices& ix = indices();
            ix.thread = uint3{id % task.block.x, (id / task.block.x) % task.block.y, id / (task.block.x * task.block.y)};
            ix.block = task.index;
            ix.block_dim = uint3{task.block.x, task.block.y, task.block.z};
            ix.grid_dim = uint3{task.grid.x, task.grid.y, task.grid.z};
            block_barrier = task.barrier;
            (*task.body)();
            block_barrier = nullptr;
            if (pending_.fetch_sub(1) == 1) done_.release();
        }
    }

    std::mutex run_mu_;
    std::vector<std::unique_ptr<Worker>> workers_;
    Task task_;
    std::atomic<unsigned> pending_{0};
    std::binary_semaphore done_{0};
    std::atomic<bool> stop_{false};
};

BlockPool& pool() {
    static BlockPool p;
    return p;
}

}  // namespace

void launch(dim3 grid, dim3 block, const std::function<void()>& body) { pool().run(grid, block, body); }

}  // namespace elm::gpu::emulation

void __syncthreads() { elm::gpu::emulation::block_barrier->arrive_and_wait(); }
