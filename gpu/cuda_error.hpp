// CUDA runtime errors as exceptions: every runtime call of the backend goes through ELM_CUDA_CHECK,
// which throws CudaError naming the call, its file and line and the runtime's message. Host code,
// included by the backend's .cpp and .cu files alike.
#pragma once

#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>

namespace elm::gpu {

class CudaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);

}  // namespace elm::gpu

#define ELM_CUDA_CHECK(call)                                                               \
    do {                                                                                   \
        const cudaError_t elm_cuda_err_ = (call);                                          \
        if (elm_cuda_err_ != cudaSuccess) ::elm::gpu::throw_cuda_error(elm_cuda_err_, #call, __FILE__, __LINE__); \
    } while (0)
