// The CUDA emulator: the runtime API and the kernel scheduler behind cuda_runtime.h (read
// that header first for what it emulates and what it checks).
#include "cuda_runtime.h"
#include "thread_object.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define NRN_EMULATOR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NRN_EMULATOR_ASAN 1
#endif
#endif
#if defined(NRN_EMULATOR_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// Switches stacks (x86-64 System V): saves the callee-saved registers and the floating-point
// control words on the current stack, stores its pointer to *from, and resumes the stack `to`
// as saved by an earlier switch (or as prepared by start_stack below).
extern "C" void nrn_emulator_switch(void** from, void* to);
asm(R"(
    .text
    .p2align 4
    .globl nrn_emulator_switch
    .hidden nrn_emulator_switch
    .type nrn_emulator_switch, @function
nrn_emulator_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size nrn_emulator_switch, .-nrn_emulator_switch
)");

namespace cuda_emulator {
namespace {

// ---- Errors ------------------------------------------------------------------------------

thread_local cudaError_t t_last_error = cudaSuccess;
std::atomic<int> g_sticky_error{cudaSuccess};  // a failed kernel spoils the device, as on a GPU

void describe(const char* format, ...) {
    std::va_list arguments;
    va_start(arguments, format);
    std::fputs("cuda emulator: ", stderr);
    std::vfprintf(stderr, format, arguments);
    std::fputc('\n', stderr);
    va_end(arguments);
}

cudaError_t fail(cudaError_t error) {
    t_last_error = error;
    return error;
}

void fail_sticky(cudaError_t error) {
    int expected = cudaSuccess;
    g_sticky_error.compare_exchange_strong(expected, error);
    t_last_error = error;
}

// A kernel fault staged by NEURON_CUDA_EMULATOR_FAULT (see run_kernel): its launch returned
// success, and the next call that waits for the device's work (a stream synchronisation, a copy
// or cudaFree) finds the fault and makes it the sticky error, as the runtime reports a kernel's
// fault.
std::atomic<bool> g_pending_fault{false};

void surface_pending_fault() {
    if (!g_pending_fault.exchange(false)) return;
    describe("a kernel launched earlier faulted (staged by NEURON_CUDA_EMULATOR_FAULT)");
    fail_sticky(cudaErrorIllegalAddress);
}

// Every call starts here: once a kernel failed, every call fails with that error.
bool spoiled(cudaError_t* error) {
    const int sticky = g_sticky_error.load();
    if (sticky == cudaSuccess) return false;
    *error = fail(static_cast<cudaError_t>(sticky));
    return true;
}

// ---- Memory ------------------------------------------------------------------------------

class MemoryMap {
public:
    // Adds the range unless the ranges would then hold more than `capacity` bytes in all.
    bool add(void* base, size_t bytes, size_t capacity = SIZE_MAX) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (bytes > capacity - std::min(capacity, held_)) return false;
        ranges_[reinterpret_cast<uintptr_t>(base)] = bytes;
        held_ += bytes;
        return true;
    }

    bool remove(void* base) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = ranges_.find(reinterpret_cast<uintptr_t>(base));
        if (it == ranges_.end()) return false;
        held_ -= it->second;
        ranges_.erase(it);
        return true;
    }

    // Whether [p, p + bytes) lies in one range; with bytes = 0, whether p is in one or just past its end.
    bool contains(const void* p, size_t bytes) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
        auto it = ranges_.upper_bound(begin);
        if (it == ranges_.begin()) return false;
        --it;
        const uintptr_t end = it->first + it->second;
        return begin >= it->first && begin <= end && bytes <= end - begin;
    }

    // Whether [p, p + bytes) overlaps any range.
    bool overlaps(const void* p, size_t bytes) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const uintptr_t begin = reinterpret_cast<uintptr_t>(p), end = begin + std::max<size_t>(bytes, 1);
        auto it = ranges_.lower_bound(end);
        if (it == ranges_.begin()) return false;
        --it;
        return it->first + it->second > begin;
    }

private:
    mutable std::mutex mutex_;
    std::map<uintptr_t, size_t> ranges_;
    size_t held_ = 0;
};

// The maps and the stream set are never destroyed, so that calls from atexit handlers registered
// before the library's load (which run after its static objects are destroyed) find them.
MemoryMap& device_memory() {
    static MemoryMap& map = *new MemoryMap;
    return map;
}

// The device's memory in bytes: NEURON_CUDA_EMULATOR_MEMORY, else the machine's. Read at every
// allocation, so that a test can stage a full device.
size_t device_capacity() {
    const char* text = std::getenv("NEURON_CUDA_EMULATOR_MEMORY");
    if (text && *text) return static_cast<size_t>(std::strtoull(text, nullptr, 0));
    return static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

MemoryMap& pinned_memory() {
    static MemoryMap& map = *new MemoryMap;
    return map;
}

// Frees `pointer` if it is one of `map`'s allocations; otherwise describes the mistake (`call`
// names the function) and fails with cudaErrorInvalidValue.
cudaError_t release(MemoryMap& map, void* pointer, const char* call) {
    if (!map.remove(pointer)) {
        describe("%s(%p): not one of its allocations", call, pointer);
        return fail(cudaErrorInvalidValue);
    }
    std::free(pointer);
    return cudaSuccess;
}

// Quiet NaN in every float, so that reading memory nobody wrote poisons the results.
void fill_nan(void* memory, size_t bytes) {
    const float nan = std::nanf("");
    float* floats = static_cast<float*>(memory);
    std::fill(floats, floats + bytes / sizeof(float), nan);
    std::memset(static_cast<char*>(memory) + bytes / sizeof(float) * sizeof(float), 0xff, bytes % sizeof(float));
}

// ---- Streams -----------------------------------------------------------------------------

std::mutex g_streams_mutex;
std::set<cudaStream_t>& g_streams = *new std::set<cudaStream_t>;  // never destroyed, as the maps

bool valid_stream(cudaStream_t stream) {
    if (stream == nullptr) return true;  // the default stream
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    return g_streams.count(stream) == 1;
}

// ---- The kernel scheduler ----------------------------------------------------------------

#if defined(NRN_EMULATOR_ASAN)
constexpr size_t kStackBytes = 1 << 20;
#else
constexpr size_t kStackBytes = 256 << 10;
#endif
constexpr size_t kMaxDynamicShared = 48 << 10;  // what a launch may use without opting in
constexpr unsigned kWarpSize = 32;

// One thread of the block: its own stack (guard page below) and saved context.
struct Fiber {
    enum class State { Runnable, AtBarrier, AtShuffle, Done, Abandoned };

    char* stack = nullptr;
    void* saved = nullptr;  // stack pointer while switched away
    uint3 index{};
    State state = State::Runnable;
    void* fake_stack = nullptr;  // AddressSanitizer's bookkeeping while switched away

    Fiber() {
        void* memory = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                            -1, 0);
        if (memory == MAP_FAILED) throw std::bad_alloc();
        mprotect(memory, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_NONE);
        stack = static_cast<char*>(memory);
    }
    ~Fiber() { munmap(stack, kStackBytes); }
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;
};

struct Warp {
    unsigned lanes = 0;       // threads of the block in this warp
    unsigned waiting = 0;     // lanes waiting in the current shuffle
    unsigned generation = 0;  // completed shuffles; values are double-buffered by its parity
    uint64_t values[2][kWarpSize] = {};
};

// The block being run on this OS thread.
struct Block {
    void (*body)(void*) = nullptr;
    void* context = nullptr;
    std::vector<std::unique_ptr<Fiber>>* fibers = nullptr;
    Fiber* current = nullptr;
    void* scheduler = nullptr;  // the scheduler's stack pointer while a fiber runs
    void* scheduler_fake_stack = nullptr;
    const void* scheduler_stack_bottom = nullptr;
    size_t scheduler_stack_size = 0;
    unsigned live = 0;
    unsigned at_barrier = 0;
    std::vector<Warp> warps;
    std::unique_ptr<float[]> dynamic_shared;
    std::string failure;  // set by a fiber that cannot go on
};

thread_local Block* t_block = nullptr;
// The calling thread's fibers, reused from launch to launch (a thread_object, as the host's
// scratch is: a thread's exit hooks may still launch kernels).
using Fibers = std::vector<std::unique_ptr<Fiber>>;
std::atomic<uint64_t> g_launches{0};

// AddressSanitizer must be told about every switch between the scheduler's and a fiber's stack.
void before_switch(void** fake_stack, const void* to_bottom, size_t to_size) {
#if defined(NRN_EMULATOR_ASAN)
    __sanitizer_start_switch_fiber(fake_stack, to_bottom, to_size);
#else
    (void)fake_stack, (void)to_bottom, (void)to_size;
#endif
}

void after_switch(void* fake_stack, const void** from_bottom, size_t* from_size) {
#if defined(NRN_EMULATOR_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#else
    (void)fake_stack, (void)from_bottom, (void)from_size;
#endif
}

// From a fiber: back to the scheduler, in `state`; returns when the scheduler resumes it.
void yield(Fiber::State state) {
    Block& block = *t_block;
    Fiber& fiber = *block.current;
    fiber.state = state;
    before_switch(&fiber.fake_stack, block.scheduler_stack_bottom, block.scheduler_stack_size);
    nrn_emulator_switch(&fiber.saved, block.scheduler);
    after_switch(fiber.fake_stack, nullptr, nullptr);
}

// From a fiber: stops the block; the fiber is never resumed.
[[noreturn]] void abandon(const std::string& why) {
    t_block->failure = why;
    yield(Fiber::State::Abandoned);
    std::abort();  // not reached
}

void fiber_main() {
    Block& block = *t_block;
    after_switch(nullptr, &block.scheduler_stack_bottom, &block.scheduler_stack_size);
    block.body(block.context);
    Fiber& fiber = *block.current;
    fiber.state = Fiber::State::Done;
    --block.live;
    before_switch(nullptr, block.scheduler_stack_bottom, block.scheduler_stack_size);  // this stack is done
    nrn_emulator_switch(&fiber.saved, block.scheduler);
    std::abort();  // a finished fiber is never resumed
}

// Prepares the fiber's stack so that switching to it enters fiber_main: from the saved stack
// pointer up, the control words, six callee-saved registers and fiber_main as return address,
// placed so that fiber_main starts with the stack aligned as after a call.
void start_stack(Fiber& fiber) {
    uint64_t* top = reinterpret_cast<uint64_t*>(fiber.stack + kStackBytes);
    uint64_t* sp = top - 9;
    const uint32_t mxcsr = 0x1f80, x87_control = 0x037f;  // the defaults: round to nearest, exceptions masked
    sp[0] = mxcsr | (uint64_t{x87_control} << 32);
    for (int i = 1; i <= 6; ++i) sp[i] = 0;
    sp[7] = reinterpret_cast<uint64_t>(&fiber_main);
    sp[8] = 0;  // fiber_main's return address: it never returns
    fiber.saved = sp;
}

void resume(Block& block, Fiber& fiber) {
    threadIdx = fiber.index;
    block.current = &fiber;
    before_switch(&block.scheduler_fake_stack, fiber.stack, kStackBytes);
    nrn_emulator_switch(&block.scheduler, fiber.saved);
    after_switch(block.scheduler_fake_stack, nullptr, nullptr);
}

uint64_t next_random(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t schedule_seed() {
    static const uint64_t seed = [] {
        const char* text = std::getenv("NEURON_CUDA_EMULATOR_SEED");
        return text ? std::strtoull(text, nullptr, 0) : 1ull;
    }();
    return seed;
}

bool tracing() {
    static const bool trace = [] {
        const char* text = std::getenv("NEURON_CUDA_EMULATOR_TRACE");
        return text != nullptr && std::strcmp(text, "1") == 0;
    }();
    return trace;
}

std::string describe_stall(const Block& block) {
    unsigned barrier = 0, shuffle = 0, done = 0;
    for (const auto& fiber : *block.fibers) {
        if (fiber->state == Fiber::State::AtBarrier) ++barrier;
        if (fiber->state == Fiber::State::AtShuffle) ++shuffle;
        if (fiber->state == Fiber::State::Done) ++done;
    }
    return "deadlock: " + std::to_string(barrier) + " threads wait at __syncthreads, " + std::to_string(shuffle) +
           " in a warp shuffle, " + std::to_string(done) + " have returned";
}

// Runs one block to its end; false (with block.failure) when it cannot finish.
bool run_block(Block& block, unsigned threads, uint64_t& random) {
    std::vector<std::unique_ptr<Fiber>>& fibers = *block.fibers;
    block.live = threads;
    block.at_barrier = 0;
    for (unsigned i = 0; i < threads; ++i) {
        Fiber& fiber = *fibers[i];
        fiber.index = uint3{i % blockDim.x, i / blockDim.x % blockDim.y, i / (blockDim.x * blockDim.y)};
        fiber.state = Fiber::State::Runnable;
        start_stack(fiber);
    }
    for (unsigned w = 0; w < block.warps.size(); ++w) {
        block.warps[w] = Warp{};
        block.warps[w].lanes = std::min(kWarpSize, threads - w * kWarpSize);
    }

    std::vector<unsigned> order(threads);
    std::iota(order.begin(), order.end(), 0u);
    while (block.live > 0) {
        for (unsigned i = threads; i > 1; --i) std::swap(order[i - 1], order[next_random(random) % i]);
        bool ran = false;
        for (unsigned i : order) {
            Fiber& fiber = *fibers[i];
            if (fiber.state != Fiber::State::Runnable) continue;
            resume(block, fiber);
            ran = true;
            if (!block.failure.empty()) return false;
        }
        bool released = false;
        for (unsigned w = 0; w < block.warps.size(); ++w) {
            Warp& warp = block.warps[w];
            if (warp.waiting == 0 || warp.waiting < warp.lanes) continue;
            for (unsigned lane = 0; lane < warp.lanes; ++lane) fibers[w * kWarpSize + lane]->state = Fiber::State::Runnable;
            warp.waiting = 0;
            ++warp.generation;
            released = true;
        }
        if (block.live > 0 && block.at_barrier == block.live) {
            for (unsigned i = 0; i < threads; ++i)
                if (fibers[i]->state == Fiber::State::AtBarrier) fibers[i]->state = Fiber::State::Runnable;
            block.at_barrier = 0;
            released = true;
        }
        if (block.live > 0 && !ran && !released) {
            block.failure = describe_stall(block);
            return false;
        }
    }
    return true;
}

}  // namespace

// ---- Device-side entry points ------------------------------------------------------------

namespace {

// The calling thread's index in its block (x fastest), which gives its warp and lane.
unsigned thread_in_block() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
unsigned lane_id() { return thread_in_block() % kWarpSize; }

// Puts the calling lane's bits in its warp's exchange and waits until every lane has: then the
// 32 lanes' bits (kept until the shuffle after next, so late readers still find them).
const uint64_t* exchange(unsigned mask, uint64_t bits) {
    Block& block = *t_block;
    Warp& warp = block.warps[thread_in_block() / kWarpSize];
    if (mask != 0xffffffffu || warp.lanes != kWarpSize)
        abandon("a warp shuffle with a partial mask or in a partial warp (not emulated)");
    const unsigned parity = warp.generation & 1u;
    warp.values[parity][lane_id()] = bits;
    ++warp.waiting;
    yield(Fiber::State::AtShuffle);
    return warp.values[parity];
}

}  // namespace

uint64_t shuffle_down(unsigned mask, uint64_t bits, int delta) {
    if (delta < 0 || delta >= static_cast<int>(kWarpSize)) abandon("a warp shuffle by " + std::to_string(delta));
    const uint64_t* values = exchange(mask, bits);
    const unsigned source = lane_id() + static_cast<unsigned>(delta);
    return source < kWarpSize ? values[source] : bits;
}

uint64_t shuffle(unsigned mask, uint64_t bits, int source_lane) {
    const uint64_t* values = exchange(mask, bits);
    return values[static_cast<unsigned>(source_lane) % kWarpSize];  // CUDA's: the source lane modulo the width
}

void* dynamic_shared_memory() { return t_block->dynamic_shared.get(); }

void run_kernel(const char* name, dim3 grid, dim3 block_shape, size_t shared_bytes, cudaStream_t stream,
                void (*body)(void*), void* context) {
    cudaError_t error;
    if (spoiled(&error)) return;
    const uint64_t threads = uint64_t{block_shape.x} * block_shape.y * block_shape.z;
    if (block_shape.x == 0 || block_shape.y == 0 || block_shape.z == 0 || block_shape.x > 1024 ||
        block_shape.y > 1024 || block_shape.z > 64 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
        describe("%s: invalid launch configuration: grid (%u, %u, %u), block (%u, %u, %u)", name, grid.x, grid.y,
                 grid.z, block_shape.x, block_shape.y, block_shape.z);
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (shared_bytes > kMaxDynamicShared) {
        describe("%s: %zu bytes of dynamic shared memory (more than %zu needs an opt-in)", name, shared_bytes,
                 kMaxDynamicShared);
        fail(cudaErrorInvalidValue);
        return;
    }
    if (!valid_stream(stream)) {
        describe("%s: launched on a stream that does not exist", name);
        fail(cudaErrorInvalidResourceHandle);
        return;
    }
    if (t_block != nullptr) {
        describe("%s: launched from inside a kernel (dynamic parallelism is not emulated)", name);
        fail_sticky(cudaErrorLaunchFailure);
        return;
    }

    if (tracing())
        describe("launch %s: grid (%u, %u, %u), block (%u, %u, %u), %zu bytes of dynamic shared memory", name, grid.x,
                 grid.y, grid.z, block_shape.x, block_shape.y, block_shape.z, shared_bytes);
    // A staged fault: the kernel does not run, and neither does any launched after it before the
    // fault shows (on a GPU they would wait behind it, then fail with it).
    const char* fault = std::getenv("NEURON_CUDA_EMULATOR_FAULT");
    if (fault != nullptr && std::strcmp(fault, name) == 0) g_pending_fault = true;
    if (g_pending_fault) return;
    Fibers& fibers = nrn::thread_object<Fibers>();
    while (fibers.size() < threads) fibers.push_back(std::make_unique<Fiber>());
    Block block;
    block.body = body;
    block.context = context;
    block.fibers = &fibers;
    block.warps.resize((threads + kWarpSize - 1) / kWarpSize);
    const size_t shared_floats = (shared_bytes + sizeof(float) - 1) / sizeof(float);
    if (shared_floats > 0) block.dynamic_shared.reset(new float[shared_floats]);

    uint64_t random = schedule_seed() ^ (g_launches.fetch_add(1) * 0x2545f4914f6cdd1dull);
    gridDim = grid;
    blockDim = block_shape;
    t_block = &block;
    bool ok = true;
    for (unsigned z = 0; ok && z < grid.z; ++z)
        for (unsigned y = 0; ok && y < grid.y; ++y)
            for (unsigned x = 0; ok && x < grid.x; ++x) {
                blockIdx = uint3{x, y, z};
                if (shared_floats > 0) fill_nan(block.dynamic_shared.get(), shared_floats * sizeof(float));
                ok = run_block(block, static_cast<unsigned>(threads), random);
            }
    t_block = nullptr;
    if (!ok) {
        describe("%s: block (%u, %u, %u) failed: %s", name, blockIdx.x, blockIdx.y, blockIdx.z,
                 block.failure.c_str());
        // Abandoned fibers hold no resources but their stacks, which the next launch reuses.
        fail_sticky(cudaErrorLaunchFailure);
    }
}

bool check_pointer_argument(const char* kernel, size_t index, const void* pointer, const char* member) {
    if (pointer == nullptr || device_memory().contains(pointer, 0)) return true;
    describe("%s: argument %zu%s%s (%p) does not point into device memory", kernel, index, member ? ", member " : "",
             member ? member : "", pointer);
    fail_sticky(cudaErrorIllegalAddress);
    return false;
}

void set_accessible(const void* pointer, size_t bytes, bool accessible) {
    if (bytes == 0) return;
    if (!device_memory().contains(pointer, bytes)) {
        describe("set_accessible(%p, %zu bytes): not inside one device allocation", pointer, bytes);
        fail(cudaErrorInvalidValue);
        return;
    }
#if defined(NRN_EMULATOR_ASAN)
    if (accessible) ASAN_UNPOISON_MEMORY_REGION(pointer, bytes);
    else ASAN_POISON_MEMORY_REGION(pointer, bytes);
#else
    (void)accessible;
#endif
}

}  // namespace cuda_emulator

using namespace cuda_emulator;

void __syncthreads() {
    Block& block = *t_block;
    ++block.at_barrier;
    yield(Fiber::State::AtBarrier);
}

// ---- Runtime API -------------------------------------------------------------------------

// NEURON_CUDA_EMULATOR_DEVICES=none or old-driver: the answers of a machine without a GPU, or
// of a driver older than the runtime (the count is left untouched, as the real runtime does).
cudaError_t cudaGetDeviceCount(int* count) {
    if (!count) return fail(cudaErrorInvalidValue);
    const char* devices = std::getenv("NEURON_CUDA_EMULATOR_DEVICES");
    if (devices && std::strcmp(devices, "none") == 0) return fail(cudaErrorNoDevice);
    if (devices && std::strcmp(devices, "old-driver") == 0) return fail(cudaErrorInsufficientDriver);
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    cudaError_t error;
    if (spoiled(&error)) return error;
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
    if (!properties) return fail(cudaErrorInvalidValue);
    if (device != 0) return fail(cudaErrorInvalidDevice);
    *properties = cudaDeviceProp{};
    std::snprintf(properties->name, sizeof(properties->name), "CUDA emulator (CPU)");
    properties->totalGlobalMem = device_capacity();
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
    if (!value) return fail(cudaErrorInvalidValue);
    if (device != 0) return fail(cudaErrorInvalidDevice);
    switch (attribute) {
        case cudaDevAttrMultiProcessorCount: *value = 132; return cudaSuccess;  // as an H200
        case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
        case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    }
    return fail(cudaErrorInvalidValue);
}

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
    if (tracing()) describe("call cudaMalloc(%zu bytes)", bytes);
    cudaError_t error;
    if (spoiled(&error)) return error;
    if (!pointer) return fail(cudaErrorInvalidValue);
    *pointer = nullptr;
    if (bytes == 0) return cudaSuccess;
    void* memory = nullptr;
    if (posix_memalign(&memory, 256, bytes) != 0) return fail(cudaErrorMemoryAllocation);
    if (!device_memory().add(memory, bytes, device_capacity())) {
        std::free(memory);
        return fail(cudaErrorMemoryAllocation);
    }
    fill_nan(memory, bytes);
    *pointer = memory;
    return cudaSuccess;
}

// Frees even after a kernel failed (and then still reports that failure), as tearing down a
// spoiled context does.
cudaError_t cudaFree(void* pointer) {
    if (tracing()) describe("call cudaFree(%p)", pointer);
    surface_pending_fault();  // cudaFree waits for the device's work
    cudaError_t error = cudaSuccess;
    spoiled(&error);
    if (!pointer) return error;
    const cudaError_t released = release(device_memory(), pointer, "cudaFree");
    return released != cudaSuccess ? released : error;
}

cudaError_t cudaHostAlloc(void** pointer, size_t bytes, unsigned) {
    if (tracing()) describe("call cudaHostAlloc(%zu bytes)", bytes);
    cudaError_t error;
    if (spoiled(&error)) return error;
    if (!pointer) return fail(cudaErrorInvalidValue);
    *pointer = nullptr;
    void* memory = nullptr;
    if (posix_memalign(&memory, 4096, std::max<size_t>(bytes, 1)) != 0) return fail(cudaErrorMemoryAllocation);
    pinned_memory().add(memory, bytes);
    *pointer = memory;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void* pointer) {
    if (tracing()) describe("call cudaFreeHost(%p)", pointer);
    return pointer ? release(pinned_memory(), pointer, "cudaFreeHost") : cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* destination, const void* source, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
    if (tracing()) describe("call cudaMemcpyAsync(%zu bytes, kind %d)", bytes, static_cast<int>(kind));
    surface_pending_fault();
    cudaError_t error;
    if (spoiled(&error)) return error;
    if (!valid_stream(stream)) return fail(cudaErrorInvalidResourceHandle);
    if (bytes == 0) return cudaSuccess;
    auto device = [&](const void* p) { return device_memory().contains(p, bytes); };
    auto host = [&](const void* p) { return p != nullptr && !device_memory().overlaps(p, bytes); };
    bool ok = false;
    switch (kind) {
        case cudaMemcpyHostToHost: ok = host(destination) && host(source); break;
        case cudaMemcpyHostToDevice: ok = device(destination) && host(source); break;
        case cudaMemcpyDeviceToHost: ok = host(destination) && device(source); break;
        case cudaMemcpyDeviceToDevice: ok = device(destination) && device(source); break;
    }
    if (!ok) {
        describe("cudaMemcpyAsync(%p, %p, %zu bytes, kind %d): an operand is not the memory the kind says",
                 destination, source, bytes, static_cast<int>(kind));
        return fail(cudaErrorInvalidValue);
    }
    std::memmove(destination, source, bytes);
    return cudaSuccess;
}

// The one device's memory to itself, as a copy between two contexts on one GPU is.
cudaError_t cudaMemcpyPeerAsync(void* destination, int destination_device, const void* source, int source_device,
                                size_t bytes, cudaStream_t stream) {
    if (tracing()) describe("call cudaMemcpyPeerAsync(%zu bytes, device %d to device %d)", bytes, source_device, destination_device);
    if (destination_device != 0 || source_device != 0) {
        cudaError_t error;
        if (spoiled(&error)) return error;
        return fail(cudaErrorInvalidDevice);
    }
    return cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, stream);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
    cudaError_t error;
    if (spoiled(&error)) return error;
    if (!stream) return fail(cudaErrorInvalidValue);
    // A stream is only an identity here: work runs when it is enqueued.
    *stream = reinterpret_cast<cudaStream_t>(new char);
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    g_streams.insert(*stream);
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    {
        std::lock_guard<std::mutex> lock(g_streams_mutex);
        if (stream == nullptr || g_streams.erase(stream) == 0) return fail(cudaErrorInvalidResourceHandle);
    }
    delete reinterpret_cast<char*>(stream);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    if (tracing()) describe("call cudaStreamSynchronize");
    surface_pending_fault();
    cudaError_t error;
    if (spoiled(&error)) return error;
    return valid_stream(stream) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaGetLastError() {
    const cudaError_t error = t_last_error;
    const int sticky = g_sticky_error.load();
    t_last_error = static_cast<cudaError_t>(sticky);
    return error != cudaSuccess ? error : static_cast<cudaError_t>(sticky);
}

namespace {

struct ErrorText {
    cudaError_t error;
    const char* name;
    const char* text;
};

constexpr ErrorText kErrorTexts[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
};

const ErrorText* find_error_text(cudaError_t error) {
    for (const ErrorText& entry : kErrorTexts)
        if (entry.error == error) return &entry;
    return nullptr;
}

}  // namespace

const char* cudaGetErrorName(cudaError_t error) {
    const ErrorText* entry = find_error_text(error);
    return entry ? entry->name : "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
    const ErrorText* entry = find_error_text(error);
    return entry ? entry->text : "unknown error";
}
