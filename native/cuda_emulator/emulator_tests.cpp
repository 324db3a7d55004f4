// Tests of the CUDA emulator itself: that kernels see CUDA's semantics (barriers, shuffles,
// coordinates, shared memory) and that each check cuda_runtime.h promises fails what it should.
// One case per process (CTest runs each by name), since kernel failures spoil the device for
// the rest of the process, as on a GPU.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cuda_runtime.h"

namespace {

int g_failures = 0;

#define EXPECT(condition)                                                                   \
    do {                                                                                    \
        if (!(condition)) {                                                                 \
            std::printf("    FAILED at %s:%d: %s\n", __FILE__, __LINE__, #condition);       \
            ++g_failures;                                                                   \
        }                                                                                   \
    } while (0)

template <class T>
T* device_array(size_t count) {
    void* memory = nullptr;
    EXPECT(cudaMalloc(&memory, count * sizeof(T)) == cudaSuccess);
    return static_cast<T*>(memory);
}

template <class T>
std::vector<T> to_host(const T* device, size_t count) {
    std::vector<T> host(count);
    EXPECT(cudaMemcpyAsync(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost, nullptr) == cudaSuccess);
    return host;
}

template <class... Params, class... Args>
cudaError_t run(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared, Args... args) {
    cudaGetLastError();
    cuda_emulator::launch("kernel", kernel, grid, block, shared, nullptr, args...);
    return cudaGetLastError();
}

// ---- Kernels -----------------------------------------------------------------------------

// out[global thread] = its coordinates, packed.
__global__ void coordinates(int* out) {
    const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
    out[block * threads + thread] = static_cast<int>(block * 10000 + thread);
}

// Each thread writes its slot, waits, then reads its neighbour's: right only with the barrier.
template <bool Barrier>
__global__ void neighbour(int* out) {
    __shared__ int slots[256];
    const int t = static_cast<int>(threadIdx.x), n = static_cast<int>(blockDim.x);
    slots[t] = t + 1000 * static_cast<int>(blockIdx.x);
    if (Barrier) __syncthreads();
    out[blockIdx.x * n + t] = slots[(t + 1) % n];
}

// out[warp] = the sum of the warp's lane numbers (0 + ... + 31 = 496), by shuffles.
__global__ void warp_sums(int* out) {
    int v = static_cast<int>(threadIdx.x % 32);
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (threadIdx.x % 32 == 0) out[threadIdx.x / 32] = v;
}

// out[t] = the value of lane s = (t + 5) mod 32 of t's warp w, (s << 40) + 1000·s + w, read by an
// indexed shuffle: odd lanes ask for lane s + 32 (a source past 31 counts modulo 32, as on a GPU),
// and the int64 value travels whole.
__global__ void indexed_shuffles(int64_t* out) {
    const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
    const int64_t mine = (int64_t{lane} << 40) + 1000 * lane + warp;
    out[threadIdx.x] = __shfl_sync(0xffffffffu, mine, lane + 5 + 32 * (lane % 2));
}

// Even threads wait at the barrier, odd ones in a shuffle: neither can complete.
__global__ void divergent_barrier(int* out) {
    int v = 1;
    if (threadIdx.x % 2 == 0) __syncthreads();
    else v = __shfl_down_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

// Only half of each warp shuffles; the other half returns.
__global__ void divergent_shuffle(int* out) {
    int v = 1;
    if (threadIdx.x % 32 < 16) v = __shfl_down_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

__global__ void copy_dynamic_shared(float* out) {
    const float* shared = static_cast<const float*>(cuda_emulator::dynamic_shared_memory());
    out[threadIdx.x] = shared[threadIdx.x];
}

__global__ void store(float* out) { out[threadIdx.x] = 1.0f; }

// A struct argument carrying device pointers, as the backend's GemmParams and TrainArgs do.
struct Outputs {
    float* first;
    float* second;
    int count;
};

template <class F>
void device_pointers(const Outputs& o, F&& visit) {
    visit("first", o.first);
    visit("second", o.second);
}

__global__ void store_both(Outputs o) {
    o.first[threadIdx.x] = 1.0f;
    if (o.second) o.second[threadIdx.x] = 2.0f;
}

// ---- Cases -------------------------------------------------------------------------------

void thread_and_block_coordinates() {
    const dim3 grid(3, 2, 2), block(4, 3, 2);
    const size_t count = 12 * 24;
    int* out = device_array<int>(count);
    EXPECT(run(coordinates, grid, block, 0, out) == cudaSuccess);
    const std::vector<int> got = to_host(out, count);
    for (size_t i = 0; i < count; ++i) EXPECT(got[i] == static_cast<int>(i / 24 * 10000 + i % 24));
    cudaFree(out);
}

void barriers_order_shared_memory() {
    int* out = device_array<int>(4 * 256);
    EXPECT(run(neighbour<true>, 4, 256, 0, out) == cudaSuccess);
    const std::vector<int> got = to_host(out, 4 * 256);
    for (int b = 0; b < 4; ++b)
        for (int t = 0; t < 256; ++t) EXPECT(got[b * 256 + t] == (t + 1) % 256 + 1000 * b);
    cudaFree(out);
}

void a_missing_barrier_shows() {
    // Without the barrier, the shuffled order has some thread read its neighbour's slot before
    // the neighbour wrote it.
    int* out = device_array<int>(4 * 256);
    EXPECT(run(neighbour<false>, 4, 256, 0, out) == cudaSuccess);
    const std::vector<int> got = to_host(out, 4 * 256);
    int wrong = 0;
    for (int b = 0; b < 4; ++b)
        for (int t = 0; t < 256; ++t) wrong += got[b * 256 + t] != (t + 1) % 256 + 1000 * b;
    EXPECT(wrong > 0);
    cudaFree(out);
}

void warp_shuffles_exchange_values() {
    int* out = device_array<int>(8);
    EXPECT(run(warp_sums, 1, 256, 0, out) == cudaSuccess);
    for (int v : to_host(out, 8)) EXPECT(v == 496);
    cudaFree(out);
}

void indexed_shuffles_read_the_source_lane() {
    int64_t* out = device_array<int64_t>(64);
    EXPECT(run(indexed_shuffles, 1, 64, 0, out) == cudaSuccess);
    const std::vector<int64_t> got = to_host(out, 64);
    for (int t = 0; t < 64; ++t) {
        const int64_t source = (t % 32 + 5) % 32;
        EXPECT(got[t] == (source << 40) + 1000 * source + t / 32);
    }
    cudaFree(out);
}

void a_divergent_barrier_is_a_launch_failure() {
    int* out = device_array<int>(64);
    EXPECT(run(divergent_barrier, 1, 64, 0, out) == cudaErrorLaunchFailure);
    EXPECT(cudaStreamSynchronize(nullptr) == cudaErrorLaunchFailure);  // sticky, as on a GPU
    EXPECT(cudaFree(out) == cudaErrorLaunchFailure);                   // but the memory is freed
}

void a_divergent_shuffle_is_a_launch_failure() {
    int* out = device_array<int>(64);
    EXPECT(run(divergent_shuffle, 1, 64, 0, out) == cudaErrorLaunchFailure);
    cudaFree(out);
}

void invalid_launch_configurations_are_rejected() {
    float* out = device_array<float>(2048);
    EXPECT(run(store, 1, 2048, 0, out) == cudaErrorInvalidConfiguration);
    EXPECT(run(store, dim3(1, 70000), 32, 0, out) == cudaErrorInvalidConfiguration);
    EXPECT(run(store, 0, 32, 0, out) == cudaErrorInvalidConfiguration);
    EXPECT(run(store, 1, 32, 64 << 10, out) == cudaErrorInvalidValue);
    EXPECT(run(store, 1, 32, 0, out) == cudaSuccess);  // none of these is sticky
    cudaFree(out);
}

void a_host_pointer_argument_is_an_illegal_address() {
    std::vector<float> host(32);
    EXPECT(run(store, 1, 32, 0, host.data()) == cudaErrorIllegalAddress);
    EXPECT(host[0] == 0.0f);  // the kernel did not run
}

void a_host_pointer_in_a_struct_argument_is_an_illegal_address() {
    float* device = device_array<float>(32);
    std::vector<float> host(32);
    EXPECT(run(store_both, 1, 32, 0, Outputs{device, nullptr, 32}) == cudaSuccess);  // null is allowed
    EXPECT(run(store_both, 1, 32, 0, Outputs{device, host.data(), 32}) == cudaErrorIllegalAddress);
    EXPECT(host[0] == 0.0f);  // the kernel did not run
    cudaFree(device);
}

void copies_check_their_directions() {
    float* device = device_array<float>(16);
    std::vector<float> host(16, 2.0f);
    const size_t bytes = 16 * sizeof(float);
    EXPECT(cudaMemcpyAsync(device, host.data(), bytes, cudaMemcpyHostToDevice, nullptr) == cudaSuccess);
    EXPECT(cudaMemcpyAsync(host.data(), device, bytes, cudaMemcpyHostToDevice, nullptr) == cudaErrorInvalidValue);
    EXPECT(cudaMemcpyAsync(device, host.data(), bytes, cudaMemcpyDeviceToHost, nullptr) == cudaErrorInvalidValue);
    EXPECT(cudaMemcpyAsync(device, device + 8, bytes, cudaMemcpyDeviceToDevice, nullptr) == cudaErrorInvalidValue);
    EXPECT(cudaMemcpyAsync(device + 8, device, bytes / 2, cudaMemcpyDeviceToDevice, nullptr) == cudaSuccess);
    EXPECT(cudaFree(host.data()) == cudaErrorInvalidValue);
    EXPECT(cudaFree(device) == cudaSuccess);
    EXPECT(cudaFree(device) == cudaErrorInvalidValue);  // twice
}

void fresh_memory_reads_as_nan() {
    float* device = device_array<float>(64);
    for (float v : to_host(device, 64)) EXPECT(std::isnan(v));
    EXPECT(run(copy_dynamic_shared, 1, 64, 64 * sizeof(float), device) == cudaSuccess);
    for (float v : to_host(device, 64)) EXPECT(std::isnan(v));
    cudaFree(device);
}

void streams_must_exist() {
    cudaStream_t stream = nullptr;
    EXPECT(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
    EXPECT(cudaStreamSynchronize(stream) == cudaSuccess);
    EXPECT(cudaStreamDestroy(stream) == cudaSuccess);
    EXPECT(cudaStreamSynchronize(stream) == cudaErrorInvalidResourceHandle);
    EXPECT(cudaSetDevice(1) == cudaErrorInvalidDevice);
}

}  // namespace

// Bytes marked inaccessible stop a kernel that touches them (under AddressSanitizer, so the
// write happens in a child process); marking memory outside device allocations is an error.
void inaccessible_device_memory_is_reported() {
    float* device = device_array<float>(64);
    cuda_emulator::set_accessible(device + 32, 32 * sizeof(float), false);
    EXPECT(cudaGetLastError() == cudaSuccess);
    EXPECT(run(store, 1, 32, 0, device) == cudaSuccess);  // elements 0..31: still accessible
#if defined(__SANITIZE_ADDRESS__)
    std::printf("the AddressSanitizer report of a child process below is expected\n");
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
        run(store, 1, 64, 0, device);  // elements 32..63
        _exit(0);
    }
    int status = 0;
    EXPECT(waitpid(child, &status, 0) == child);
    EXPECT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
#else
    std::printf("built without AddressSanitizer: only the range check is tested\n");
#endif
    cuda_emulator::set_accessible(device + 32, 32 * sizeof(float), true);
    EXPECT(run(store, 1, 64, 0, device) == cudaSuccess);
    std::vector<float> host(64);
    cuda_emulator::set_accessible(host.data(), host.size() * sizeof(float), false);
    EXPECT(cudaGetLastError() == cudaErrorInvalidValue);
    cuda_emulator::set_accessible(device + 32, 64 * sizeof(float), false);  // runs past the allocation
    EXPECT(cudaGetLastError() == cudaErrorInvalidValue);
    EXPECT(cudaFree(device) == cudaSuccess);
}

int main(int argc, char** argv) {
    const std::map<std::string, std::function<void()>> cases = {
        {"thread_and_block_coordinates", thread_and_block_coordinates},
        {"barriers_order_shared_memory", barriers_order_shared_memory},
        {"a_missing_barrier_shows", a_missing_barrier_shows},
        {"warp_shuffles_exchange_values", warp_shuffles_exchange_values},
        {"indexed_shuffles_read_the_source_lane", indexed_shuffles_read_the_source_lane},
        {"a_divergent_barrier_is_a_launch_failure", a_divergent_barrier_is_a_launch_failure},
        {"a_divergent_shuffle_is_a_launch_failure", a_divergent_shuffle_is_a_launch_failure},
        {"invalid_launch_configurations_are_rejected", invalid_launch_configurations_are_rejected},
        {"a_host_pointer_argument_is_an_illegal_address", a_host_pointer_argument_is_an_illegal_address},
        {"a_host_pointer_in_a_struct_argument_is_an_illegal_address",
         a_host_pointer_in_a_struct_argument_is_an_illegal_address},
        {"copies_check_their_directions", copies_check_their_directions},
        {"fresh_memory_reads_as_nan", fresh_memory_reads_as_nan},
        {"streams_must_exist", streams_must_exist},
        {"inaccessible_device_memory_is_reported", inaccessible_device_memory_is_reported},
    };
    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
        for (const auto& entry : cases) std::printf("%s\n", entry.first.c_str());
        return 0;
    }
    const auto found = argc == 2 ? cases.find(argv[1]) : cases.end();
    if (found == cases.end()) {
        std::fprintf(stderr, "usage: %s CASE (or --list)\n", argv[0]);
        return 2;
    }
    std::printf("[ RUN  ] %s\n", found->first.c_str());
    found->second();
    std::printf("[ %s ] %s\n", g_failures == 0 ? " OK " : "FAIL", found->first.c_str());
    return g_failures == 0 ? 0 : 1;
}
