// The CUDA emulator's stand-in for <cuda_runtime.h>: the part of the CUDA runtime API and of
// the device language that the CUDA backend (native/src/cuda) uses, implemented on the CPU.
//
// The backend's .cu files, compiled by a C++ compiler with this folder first on the include
// path and NRN_CUDA_EMULATOR defined, build into another libneuron.so (in the build tree's
// native/cuda_emulator/), whose one CUDA device runs every kernel on the CPU. The native and
// managed tests run against it as well, so that machines without a GPU (CI) execute the
// kernels' code.
//
// How a launch runs (emulator.cpp): synchronously, on the calling thread, one block after
// another. The threads of a block are fibers; each runs until it ends or waits at
// __syncthreads() or a warp shuffle, and on every pass the runnable ones go in a freshly
// shuffled order (seeded: NEURON_CUDA_EMULATOR_SEED, default 1), so that a missing barrier
// shows as a wrong result. Stricter than a GPU, the emulator fails:
//   - launch configurations a GPU rejects (cudaErrorInvalidConfiguration, or
//     cudaErrorInvalidValue for more than 48 KiB of dynamic shared memory);
//   - blocks that cannot go on: threads waiting at __syncthreads() or in a warp shuffle that
//     other threads, returned or waiting elsewhere, never join (a hang or worse on a GPU;
//     here a sticky cudaErrorLaunchFailure). As on current GPUs, threads that have returned
//     do not hold up a barrier;
//   - pointer kernel arguments, and pointers inside struct arguments, outside device memory
//     (sticky cudaErrorIllegalAddress), and
//     copies whose operands are not the memory their direction says (cudaErrorInvalidValue);
//   - kernels touching device memory the backend marks inaccessible (set_accessible below:
//     scratch an operation did not ask for, guards between scratch sub-buffers), under
//     AddressSanitizer;
//   - and it fills new device memory and each block's dynamic shared memory with NaN, so that
//     reading memory no one wrote shows in the results.
// Its device memory is the machine's, or NEURON_CUDA_EMULATOR_MEMORY bytes (read at every
// cudaMalloc, so that a test can stage a full device: a value below what is allocated fails
// every further allocation with cudaErrorMemoryAllocation).
// With NEURON_CUDA_EMULATOR_FAULT=<kernel name> (read at every launch), a launch of that kernel
// returns success without running, later launches do not run either, and the next stream
// synchronisation, copy or cudaFree fails with a sticky cudaErrorIllegalAddress: a kernel fault
// as a GPU reports it, after the launch. (Both variables are read with getenv: a test sets them
// while no other thread uses CUDA.)
// It does not emulate concurrency between streams, the memory model or speed. Each failure
// is also described on stderr, and with NEURON_CUDA_EMULATOR_TRACE=1 every launch, allocation,
// copy and stream synchronisation too (native/tests/test_cuda_calls.cpp counts them).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- Device language ---------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Static shared memory: one instance per OS thread, shared by the fibers of the block that
// runs on it (blocks run one after another, launches on different threads independently).
#define __shared__ thread_local

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

struct alignas(16) float4 {
    float x, y, z, w;
};

inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

// The running fiber's coordinates; the scheduler sets them before it resumes a fiber.
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

void __syncthreads();

namespace cuda_emulator {

// Exchanges `bits` across the calling warp (every lane of a full warp must call it with a full
// mask) and returns lane (lane + delta)'s bits, or the caller's own when that lane is past 31.
uint64_t shuffle_down(unsigned mask, uint64_t bits, int delta);

// The same, returning lane source_lane's bits (modulo 32, as CUDA takes it).
uint64_t shuffle(unsigned mask, uint64_t bits, int source_lane);

// The running block's dynamic shared memory (the launch's shared_bytes).
void* dynamic_shared_memory();

// A shuffle's value as 64 bits and back: any trivially copyable type of up to 8 bytes.
template <class T, class Exchange>
T shuffled(T value, const Exchange& exchange) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint64_t), "shuffled type");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = exchange(bits);
    T result;
    std::memcpy(&result, &bits, sizeof(T));
    return result;
}

}  // namespace cuda_emulator

template <class T>
T __shfl_down_sync(unsigned mask, T value, int delta) {
    return cuda_emulator::shuffled(value, [&](uint64_t bits) { return cuda_emulator::shuffle_down(mask, bits, delta); });
}

template <class T>
T __shfl_sync(unsigned mask, T value, int source_lane) {
    return cuda_emulator::shuffled(value, [&](uint64_t bits) { return cuda_emulator::shuffle(mask, bits, source_lane); });
}

// ---- Runtime API -------------------------------------------------------------------------

enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    // The sticky errors of a failed kernel, which the backend names in its messages; the
    // emulator raises only cudaErrorIllegalAddress and cudaErrorLaunchFailure.
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchTimeout = 702,
    cudaErrorAssert = 710,
    cudaErrorHardwareStackError = 714,
    cudaErrorIllegalInstruction = 715,
    cudaErrorMisalignedAddress = 716,
    cudaErrorInvalidAddressSpace = 717,
    cudaErrorInvalidPc = 718,
    cudaErrorLaunchFailure = 719,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
};

enum cudaDeviceAttr {
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
};

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
};

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

constexpr unsigned cudaStreamNonBlocking = 0x01;
constexpr unsigned cudaHostAllocPortable = 0x01;

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);

cudaError_t cudaMalloc(void** pointer, size_t bytes);
cudaError_t cudaFree(void* pointer);
cudaError_t cudaHostAlloc(void** pointer, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void* pointer);
cudaError_t cudaMemcpyAsync(void* destination, const void* source, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);

cudaError_t cudaMemcpyPeerAsync(void* destination, int destination_device, const void* source, int source_device,
                                size_t bytes, cudaStream_t stream);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

cudaError_t cudaGetLastError();
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);

// ---- Kernel launches ---------------------------------------------------------------------

namespace cuda_emulator {

// Runs body(context) as every thread of every block of the grid; failures go to the last error.
void run_kernel(const char* name, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                void (*body)(void*), void* context);

// Makes [pointer, pointer + bytes) of one device allocation accessible to kernels or not: under
// AddressSanitizer a kernel touching inaccessible bytes is reported (the CUDA backend marks the
// parts of its scratch memory an operation did not ask for; see kernels.h).
void set_accessible(const void* pointer, size_t bytes, bool accessible);

// False (and a sticky cudaErrorIllegalAddress) when a non-null pointer argument (or the member
// `member` of a struct argument, when not null) does not point into (or just past) a device
// allocation.
bool check_pointer_argument(const char* kernel, size_t index, const void* pointer, const char* member = nullptr);

// A struct kernel argument names the pointers it carries through an overload
//   template <class F> void device_pointers(const T& value, F&& visit)
// in T's namespace, which calls visit("member", pointer) for each; they are checked like
// pointer arguments. A struct without one does not compile as a kernel argument.
struct PointerVisitorArchetype {
    void operator()(const char*, const void*) const {}
};
template <class T, class = void>
struct names_device_pointers : std::false_type {};
template <class T>
struct names_device_pointers<
    T, std::void_t<decltype(device_pointers(std::declval<const T&>(), PointerVisitorArchetype{}))>>
    : std::true_type {};

template <class Tuple, size_t... I>
bool check_arguments(const char* kernel, const Tuple& arguments, std::index_sequence<I...>) {
    bool ok = true;
    auto check_one = [&](size_t index, const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_pointer_v<T>) {
            ok = ok && check_pointer_argument(kernel, index, value);
        } else if constexpr (names_device_pointers<T>::value) {
            device_pointers(value, [&](const char* member, const void* pointer) {
                ok = ok && check_pointer_argument(kernel, index, pointer, member);
            });
        } else {
            static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>,
                          "a struct kernel argument must name its device pointers (see device_pointers above)");
        }
    };
    (check_one(I, std::get<I>(arguments)), ...);
    return ok;
}

// What kernel<<<grid, block, shared_bytes, stream>>>(args...) does, on the CPU.
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            cudaStream_t stream, Args&&... args) {
    std::tuple<std::decay_t<Params>...> arguments(std::forward<Args>(args)...);
    if (!check_arguments(name, arguments, std::index_sequence_for<Params...>{})) return;
    auto call = [&] { std::apply(kernel, arguments); };  // each thread gets its own copies
    run_kernel(
        name, grid, block, shared_bytes, stream, [](void* context) { (*static_cast<decltype(call)*>(context))(); },
        &call);
}

}  // namespace cuda_emulator
