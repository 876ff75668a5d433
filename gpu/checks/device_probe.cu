// device_probe: can this machine run the CUDA backend? The first stage of tools/gpu_check.sh, built
// on its own (no project headers or libraries, cudart linked statically like the backend) so that it
// answers in seconds, before a build of minutes:
//
//   nvcc -O2 -arch=sm_90 -o device_probe gpu/checks/device_probe.cu && ./device_probe 90
//
// It prints the driver's and the runtime's CUDA versions and each device, then launches a kernel
// built for the given architecture on device 0 and checks what it wrote. Exit 0 when that works;
// otherwise exit 1 with one line "device_probe: FAIL: <why>": no driver, a driver older than this
// runtime needs (CUDA's minor-version compatibility lets a driver of the same major version run
// code built for the device, so only the launch decides there), no device, a device of another
// architecture than the build targets, or a launch or allocation that fails.
#include <cstdio>
#include <cstdlib>

#include <cuda_runtime_api.h>

namespace {

__global__ void probe_kernel(int* out, int n) {
    const int k = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (k < n) out[k] = 3 * k + 1;
}

int fail(const char* what, cudaError_t err = cudaSuccess) {
    if (err != cudaSuccess)
        std::printf("device_probe: FAIL: %s: %s (%s)\n", what, cudaGetErrorName(err), cudaGetErrorString(err));
    else
        std::printf("device_probe: FAIL: %s\n", what);
    return 1;
}

void version(char* buf, std::size_t n, int v) { std::snprintf(buf, n, "%d.%d", v / 1000, v % 1000 / 10); }

}  // namespace

int main(int argc, char** argv) {
    const int want_arch = argc > 1 ? std::atoi(argv[1]) : 0;  // e.g. 90 for sm_90; 0: any
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);  // 0 when no driver (libcuda.so) is installed
    cudaRuntimeGetVersion(&runtime);
    char dv[16], rv[16], msg[256];
    version(dv, sizeof dv, driver);
    version(rv, sizeof rv, runtime);
    std::printf("CUDA driver supports %s, runtime (static, this build) %s\n", driver ? dv : "-", rv);
    if (driver == 0) return fail("no CUDA driver here (libcuda.so not found: is the NVIDIA driver installed?)");
    if (driver / 1000 < runtime / 1000) {
        std::snprintf(msg, sizeof msg, "the CUDA driver supports CUDA %s, older than this build's runtime %s needs "
                      "(a driver for CUDA %d.x or newer)", dv, rv, runtime / 1000);
        return fail(msg);
    }
    if (driver < runtime)
        std::printf("note: driver %s is older than runtime %s: CUDA minor-version compatibility (the launch below decides)\n",
                    dv, rv);

    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) return fail("no usable CUDA device", err);
    if (count == 0) return fail("no CUDA device is visible (CUDA_VISIBLE_DEVICES?)");
    for (int d = 0; d < count; ++d) {
        cudaDeviceProp p{};
        if ((err = cudaGetDeviceProperties(&p, d)) != cudaSuccess) return fail("cudaGetDeviceProperties", err);
        std::printf("device %d: %s, sm_%d%d, %d SMs, %.1f GiB, ECC %s\n", d, p.name, p.major, p.minor,
                    p.multiProcessorCount, static_cast<double>(p.totalGlobalMem) / (1u << 30), p.ECCEnabled ? "on" : "off");
        if (d == 0 && want_arch > 0 && p.major * 10 + p.minor != want_arch) {
            std::snprintf(msg, sizeof msg, "device 0 is sm_%d%d, the build targets sm_%d (set CMAKE_CUDA_ARCHITECTURES=%d%d)",
                          p.major, p.minor, want_arch, p.major, p.minor);
            return fail(msg);
        }
    }

    // A launch of code built for the device, a copy back, and its values.
    constexpr int n = 1000;
    int* d_out = nullptr;
    if ((err = cudaSetDevice(0)) != cudaSuccess) return fail("cudaSetDevice(0)", err);
    if ((err = cudaMalloc(&d_out, n * sizeof(int))) != cudaSuccess) return fail("cudaMalloc", err);
    probe_kernel<<<(n + 127) / 128, 128>>>(d_out, n);
    if ((err = cudaGetLastError()) != cudaSuccess) return fail("launching a kernel", err);
    if ((err = cudaDeviceSynchronize()) != cudaSuccess) return fail("running a kernel", err);
    static int host[n];
    if ((err = cudaMemcpy(host, d_out, sizeof host, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return fail("copying a kernel's result back", err);
    cudaFree(d_out);
    for (int k = 0; k < n; ++k)
        if (host[k] != 3 * k + 1) {
            std::snprintf(msg, sizeof msg, "a kernel wrote %d at %d, expected %d", host[k], k, 3 * k + 1);
            return fail(msg);
        }
    std::printf("device_probe: ok (a kernel built for this device ran on device 0)\n");
    return 0;
}
