// The host (CPU) backend: memory from the C++ heap, arithmetic in host_kernels.cpp.
// Every operation runs to completion before it returns, so synchronize() has nothing to wait for.
#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "accumulator.h"
#include "backend.h"
#include "host/host_kernels.h"
#include "host/host_memory.h"
#include "host/thread_pool.h"
#include "random.h"

namespace nrn {
namespace {

constexpr size_t kAlignment = 64;  // a cache line, and room for any vector width

// Blocks of kHugePageMinBytes or more start on a 2 MiB boundary and are advised as transparent huge
// pages (where the system leaves that to madvise, its default): the first write of fresh memory
// then faults once per 2 MiB rather than per 4 KiB. On a 2-vCPU VM, a new 64 MiB tensor's zero
// fill (neuron_fills_bench, new + fill) took 141 ms with 4 KiB faults, against 1.2 ms for a fill of
// memory already written.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugePageMinBytes = 4 * kHugePage;

// The bytes of every host backend allocation now live, across contexts.
std::atomic<uint64_t> held_bytes{0};

// The bytes counted for each live block aligned to a huge page: what it asked for, in whole pages. Its
// usable size would count more: glibc keeps up to 2 MiB after such a block's end, never written.
// Never destroyed, as the handle registry is not: tensors may be made and freed from atexit handlers.
std::mutex huge_blocks_mutex;
std::unordered_map<void*, size_t>& huge_blocks() {
    static auto* blocks = new std::unordered_map<void*, size_t>();
    return *blocks;
}
constexpr size_t kPage = 4096;

// Held by a checked allocation from its check until its bytes are in held_bytes, so that two
// contexts allocating at once cannot both be admitted to the same room.
std::mutex checked_allocation;

// Large requests are first checked against the memory the system has (host_memory.h), so that
// one that cannot be backed is refused here rather than killing the process at its first fill.
void* aligned_allocate(size_t bytes, const char* what) {
    const auto fail = [&](const std::string& why) {
        throw Error(NRN_STATUS_OUT_OF_MEMORY, "cannot allocate " + std::to_string(bytes) + " bytes of " + what + why);
    };
    std::unique_lock checking(checked_allocation, std::defer_lock);
    if (bytes >= host::kCheckedAllocationBytes) {
        checking.lock();
        const std::string why = host::refusal(bytes, held_bytes.load(std::memory_order_relaxed), host::read_memory_state());
        if (!why.empty()) fail(" (" + why + ")");
    }
    void* memory = nullptr;
    const bool huge = bytes >= kHugePageMinBytes;
    if (posix_memalign(&memory, huge ? kHugePage : kAlignment, std::max<size_t>(bytes, 1)) != 0 || memory == nullptr) {
        fail("");
    }
    size_t counted = 0;
    if (!huge) {
        counted = malloc_usable_size(memory);
    } else {
        // Advice only: where huge pages are off or none is free, the memory is faulted in 4 KiB pages.
        madvise(memory, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
        counted = (bytes + kPage - 1) / kPage * kPage;
        try {
            std::lock_guard<std::mutex> lock(huge_blocks_mutex);
            huge_blocks().emplace(memory, counted);
        } catch (...) {
            std::free(memory);
            fail("");
        }
    }
    held_bytes.fetch_add(counted, std::memory_order_relaxed);
    return memory;
}

void aligned_release(void* memory) noexcept {
    if (memory == nullptr) return;
    size_t counted = 0;
    if (reinterpret_cast<uintptr_t>(memory) % kHugePage == 0) {  // a huge block, or a small one by chance
        std::lock_guard<std::mutex> lock(huge_blocks_mutex);
        const auto block = huge_blocks().find(memory);
        if (block != huge_blocks().end()) {
            counted = block->second;
            huge_blocks().erase(block);
        }
    }
    held_bytes.fetch_sub(counted != 0 ? counted : malloc_usable_size(memory), std::memory_order_relaxed);
    std::free(memory);
}

// One of a fused training step's scratch buffers (the kernels' own per-thread scratch is
// host_kernels.cpp's Scratch), kept between calls, checked and counted as tensors are
// (aligned_allocate): a buffer that the system cannot back is refused with
// NRN_STATUS_OUT_OF_MEMORY, where zero-filled memory granted by overcommit would have the
// process killed at its first fill.
class TrainingBuffer {
public:
    TrainingBuffer() = default;
    TrainingBuffer(const TrainingBuffer&) = delete;
    TrainingBuffer& operator=(const TrainingBuffer&) = delete;
    ~TrainingBuffer() { aligned_release(data_); }

    // At least `count` floats, their values undefined: the scratch only ever grows.
    float* at_least(int64_t count) {
        if (count > capacity_) {
            float* larger = static_cast<float*>(aligned_allocate(static_cast<size_t>(count) * sizeof(float), "host scratch memory"));
            aligned_release(data_);
            data_ = larger;
            capacity_ = count;
        }
        return data_;
    }

private:
    float* data_ = nullptr;
    int64_t capacity_ = 0;
};

class HostBackend final : public Backend {
public:
    nrn_backend kind() const noexcept override { return NRN_BACKEND_HOST; }
    int32_t device() const noexcept override { return -1; }

    void* allocate(size_t bytes) override { return aligned_allocate(bytes, "host memory"); }
    void release(void* memory) noexcept override { aligned_release(memory); }
    void* allocate_pinned(size_t bytes) override { return aligned_allocate(bytes, "host memory"); }
    void release_pinned(void* memory) noexcept override { aligned_release(memory); }

    void synchronize() override {}

    void copy_from_host(float* destination, const float* source, int64_t count, bool) override {
        host::copy(destination, source, count);
    }
    void copy_to_host(float* destination, const float* source, int64_t count, bool) override {
        host::copy(destination, source, count);
    }
    // The API refuses overlapping ranges (nrn_tensor_copy, nrn_tensor_copy_rows).
    void copy(float* destination, const float* source, int64_t count) override { host::copy(destination, source, count); }
    void copy_from_peer(float* destination, int32_t, const float* source, int64_t count) override {
        host::copy(destination, source, count);
    }

    void fill(float* data, int64_t count, float value) override { host::fill(data, count, value); }
    void fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed) override {
        host::fill_uniform(data, count, low, high, seed);
    }
    void fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed) override {
        host::fill_normal(data, count, mean, stddev, seed);
    }

    void linear_forward(const float* x, const float* w, const float* b, float* y,
                        int64_t batch, int64_t in, int64_t out) override {
        host::linear_forward(x, w, b, y, batch, in, out);
    }

    void linear_backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb,
                         int64_t batch, int64_t in, int64_t out, bool accumulate) override {
        host::linear_backward(x, w, gy, gx, gw, gb, batch, in, out, accumulate);
    }

    void mse(const float* prediction, const float* target, float* grad, float* error, float* accumulator,
             int64_t count, int64_t batch) override {
        const float value = host::mse(prediction, target, grad, count);
        if (error != nullptr) *error = value;
        if (accumulator != nullptr) accumulator_add(accumulator, value, batch);
    }

    void sgd_update(float* param, const float* grad, int64_t count, float learning_rate) override {
        host::sgd_update(param, grad, count, learning_rate);
    }

    // Each step gives exactly the bits of the unfused sequence forward, mse, backward
    // (overwrite), sgd_update on the picked batch, so the fused and unfused paths agree on the
    // host. A 1 → 1 layer's step is one pass over its batch (linear_mse_sgd_step_one_by_one).
    // The scratch buffers are kept between calls (the API serialises calls on a context), so a
    // trainer that takes one fused step per call allocates nothing per step.
    void linear_mse_sgd_train(const TrainArgs& a) override {
        // Buffers for the steps' predictions and gradients; the one-pass 1 → 1 step needs none.
        const bool one_by_one = a.in_features == 1 && a.out_features == 1;
        float *prediction = nullptr, *grad = nullptr, *weight_grad = nullptr, *bias_grad = nullptr;
        if (!one_by_one) {
            const int64_t max_batch = std::min(a.batch_size, a.rows);
            prediction = prediction_.at_least(max_batch * a.out_features);
            grad = grad_.at_least(max_batch * a.out_features);
            weight_grad = weight_grad_.at_least(a.in_features * a.out_features);
            if (a.bias != nullptr) bias_grad = bias_grad_.at_least(a.out_features);
            host::reserve_linear(max_batch, a.in_features, a.out_features);
        }
        float error = 0.0f;
        // The batches are worked out a chunk of steps ahead: they do not depend on the weights,
        // so the chunk's batch-order hashes run side by side instead of each one starting a step.
        constexpr int64_t kPickAhead = 32;
        BatchRows picks[kPickAhead];
        for (int64_t i = 0; i < a.step_count; ++i) {
            const int64_t slot = i % kPickAhead;
            if (slot == 0)
                batch_rows_ahead(a.order, a.seed, a.first_step + i, std::min(kPickAhead, a.step_count - i), a.rows,
                                 a.batch_size, picks);
            const BatchRows picked = picks[slot];
            const int64_t rows = picked.count;
            const float* x = a.input + picked.first * a.in_features;
            const float* t = a.target + picked.first * a.out_features;
            if (one_by_one) {
                error = host::linear_mse_sgd_step_one_by_one(x, t, a.weight, a.bias, rows, a.learning_rate);
                if (a.accumulator != nullptr) accumulator_add(a.accumulator, error, rows);
                continue;
            }
            host::linear_forward(x, a.weight, a.bias, prediction, rows, a.in_features, a.out_features);
            error = host::mse(prediction, t, grad, rows * a.out_features);
            if (a.accumulator != nullptr) accumulator_add(a.accumulator, error, rows);
            host::linear_backward(x, a.weight, grad, nullptr, weight_grad, bias_grad, rows, a.in_features,
                                  a.out_features, false);
            host::sgd_update(a.weight, weight_grad, a.in_features * a.out_features, a.learning_rate);
            if (a.bias != nullptr) host::sgd_update(a.bias, bias_grad, a.out_features, a.learning_rate);
        }
        if (a.error != nullptr) *a.error = error;
    }

private:
    TrainingBuffer prediction_, grad_, weight_grad_, bias_grad_;
};

}  // namespace

std::unique_ptr<Backend> make_host_backend() {
    host::check_settings();
    return std::make_unique<HostBackend>();
}

void host_info(nrn_host_properties* info) {
    host::check_settings();
    std::strncpy(info->simd, host::simd_name(), sizeof(info->simd) - 1);
    info->threads = host::max_threads();
}

}  // namespace nrn
