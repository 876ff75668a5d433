// The CUDA runtime calls of the backend, emulated on the host (ELM_CUDA=EMULATE builds, which link
// this instead of cudart): device memory is host memory, every copy is a memcpy done at once, a stream
// is a name. One "device", sm_90, whose kernels run on host threads (emulated_device.cpp).
#include <cstdlib>
#include <cstring>

#include <cuda_runtime_api.h>

extern "C" {

cudaError_t cudaMalloc(void** ptr, size_t size) {
    *ptr = std::malloc(size ? size : 1);  // exactly the size asked for, so AddressSanitizer sees overruns
    if (!*ptr) return cudaErrorMemoryAllocation;
    // cudaMalloc does not clear memory. All bytes 0xFF (floats NaN, integers -1), so that a kernel that
    // reads what nothing wrote gives NaN or an index out of range here, not the zeros malloc often returns.
    std::memset(*ptr, 0xFF, size);
    return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
    std::free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind, cudaStream_t) {
    if (count) std::memmove(dst, src, count);
    return cudaSuccess;
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              enum cudaMemcpyKind, cudaStream_t) {
    if (width > dpitch || width > spitch) return cudaErrorInvalidPitchValue;
    for (size_t r = 0; r < height; ++r)
        std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t) {
    if (count) std::memset(ptr, value, count);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
    static int name;
    *stream = reinterpret_cast<cudaStream_t>(&name);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetDeviceCount(int* count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int) {
    std::memset(prop, 0, sizeof *prop);
    std::strncpy(prop->name, "host emulation", sizeof prop->name - 1);
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int) {
    *value = attr == cudaDevAttrClockRate ? 1000000 : 1;  // 1 GHz
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }  // every launch has finished when it returns
cudaError_t cudaDriverGetVersion(int* version) {
    *version = CUDART_VERSION;  // a driver exactly as new as the headers' runtime
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
    *version = CUDART_VERSION;
    return cudaSuccess;
}
const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
const char* cudaGetErrorString(cudaError_t) { return "error in the host emulation of CUDA"; }

}  // extern "C"
