// DeviceBuffer<T>: one cudaMalloc'ed array that grows and never shrinks (the time loop then never
// allocates once a batch shape has been seen), with the few copies the backend needs. All copies are
// ordered on the stream they are given and counted (gpu/launch_counts.hpp); to_host waits for it.
#pragma once

#include <cstddef>
#include <vector>

#include <cuda_runtime_api.h>

#include "elmsim/gpu/cuda_error.hpp"
#include "elmsim/gpu/launch_counts.hpp"

namespace elm::gpu {

// The host waits until everything enqueued on s has run.
inline void wait_for(cudaStream_t s) {
    ELM_CUDA_CHECK(cudaStreamSynchronize(s));
    count_host_sync();
}

template <class T>
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t n) { resize(n); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), size_(o.size_), capacity_(o.capacity_) {
        o.ptr_ = nullptr;
        o.size_ = o.capacity_ = 0;
    }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) {
            release();
            ptr_ = o.ptr_;
            size_ = o.size_;
            capacity_ = o.capacity_;
            o.ptr_ = nullptr;
            o.size_ = o.capacity_ = 0;
        }
        return *this;
    }
    ~DeviceBuffer() { release(); }

    // n elements; contents are kept only when no reallocation happens (callers overwrite them).
    void resize(std::size_t n) {
        if (n > capacity_) {
            release();
            ELM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(T)));
            capacity_ = n;
        }
        size_ = n;
    }
    T* data() { return ptr_; }
    const T* data() const { return ptr_; }
    std::size_t size() const { return size_; }
    std::size_t bytes() const { return size_ * sizeof(T); }
    bool empty() const { return size_ == 0; }

    void zero(cudaStream_t s) {
        if (!size_) return;
        ELM_CUDA_CHECK(cudaMemsetAsync(ptr_, 0, bytes(), s));
        count_memory_op();
    }
    // Resizes to src.size() and copies it in.
    void upload(const T* src, std::size_t n, cudaStream_t s) {
        resize(n);
        if (!n) return;
        ELM_CUDA_CHECK(cudaMemcpyAsync(ptr_, src, n * sizeof(T), cudaMemcpyHostToDevice, s));
        count_memory_op();
    }
    void upload(const std::vector<T>& src, cudaStream_t s) { upload(src.data(), src.size(), s); }
    // The first n elements (all by default) into a host vector; waits for the stream.
    void to_host(std::vector<T>& dst, cudaStream_t s, std::size_t n = static_cast<std::size_t>(-1)) const {
        if (n > size_) n = size_;
        dst.resize(n);
        if (n) {
            ELM_CUDA_CHECK(cudaMemcpyAsync(dst.data(), ptr_, n * sizeof(T), cudaMemcpyDeviceToHost, s));
            count_memory_op();
        }
        wait_for(s);
    }

private:
    void release() noexcept {
        if (ptr_) cudaFree(ptr_);
        ptr_ = nullptr;
        size_ = capacity_ = 0;
    }
    T* ptr_ = nullptr;
    std::size_t size_ = 0, capacity_ = 0;
};

// dst[0, n) := src[0, n) on the device.
template <class T>
void copy_device(T* dst, const T* src, std::size_t n, cudaStream_t s) {
    if (!n) return;
    ELM_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, s));
    count_memory_op();
}

}  // namespace elm::gpu
