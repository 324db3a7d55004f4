// The CUDA backend: owns a device index, a non-blocking stream and scratch memory, and runs
// every operation of nrn::Backend as kernels enqueued on that stream.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "backend.h"
#include "cuda_check.h"
#include "kernels.h"

namespace nrn {
namespace cuda {

namespace {

// The errors of a kernel that failed on the device (a fault, or the display watchdog's timeout).
// CUDA documents them as sticky: the context is lost, and the runtime reports the failure from
// whichever call next waits for the device or launches, so the call named in the message need
// not be the kernel that failed.
bool is_kernel_fault(cudaError_t error) {
    switch (error) {
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchTimeout:
        case cudaErrorLaunchFailure:
        case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace:
        case cudaErrorIllegalInstruction:
        case cudaErrorInvalidPc:
        case cudaErrorHardwareStackError:
        case cudaErrorAssert:
            return true;
        default:
            return false;
    }
}

}  // namespace

void throw_cuda_error(cudaError_t error, const char* expression, const char* file, int line) {
    cudaGetLastError();  // clear the runtime's last error, so that it is not reported twice
    const char* base = std::strrchr(file, '/');
    std::string message = std::string("CUDA error ") + std::to_string(static_cast<int>(error)) + " (" +
                          cudaGetErrorName(error) + ": " + cudaGetErrorString(error) + ") in " + expression +
                          " at " + (base ? base + 1 : file) + ":" + std::to_string(line);
    if (is_kernel_fault(error))
        message += ". A kernel failed on the device, in this call or in one enqueued before it; the CUDA context "
                   "is lost, so every later CUDA call in this process fails (the host backend still works)";
    const nrn_status status =
        error == cudaErrorMemoryAllocation ? NRN_STATUS_OUT_OF_MEMORY : NRN_STATUS_BACKEND_ERROR;
    throw Error(status, message);
}

namespace {

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(int32_t device) : device_(device) {
        NRN_CUDA_CHECK(cudaSetDevice(device_));
        NRN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    }

    ~CudaBackend() override {
        // Errors cannot be reported from here; they are cleared so that later calls do not see them.
        // Each release is tried even when a call fails, as all do once a kernel fault has lost the
        // context: what the runtime can still free, it frees.
        cudaSetDevice(device_);
        cudaStreamSynchronize(stream_);
        if (scratch_) cudaFree(scratch_);
        cudaStreamDestroy(stream_);
        cudaGetLastError();
    }

    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    nrn_backend kind() const noexcept override { return NRN_BACKEND_CUDA; }
    int32_t device() const noexcept override { return device_; }

    void* allocate(size_t bytes) override {
        activate();
        void* memory = nullptr;
        NRN_CUDA_CHECK(cudaMalloc(&memory, bytes));
        return memory;
    }

    void release(void* memory) noexcept override {
        if (!memory) return;
        cudaSetDevice(device_);  // tried even when it fails, as in the destructor
        cudaFree(memory);
        cudaGetLastError();
    }

    void* allocate_pinned(size_t bytes) override {
        activate();
        void* memory = nullptr;
        NRN_CUDA_CHECK(cudaHostAlloc(&memory, bytes, cudaHostAllocPortable));
        return memory;
    }

    void release_pinned(void* memory) noexcept override {
        if (!memory) return;
        cudaFreeHost(memory);
        cudaGetLastError();
    }

    void synchronize() override {
        activate();
        NRN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    void copy_from_host(float* destination, const float* source, int64_t count, bool async) override {
        activate();
        NRN_CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes(count), cudaMemcpyHostToDevice, stream_));
        if (!async) NRN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    void copy_to_host(float* destination, const float* source, int64_t count, bool async) override {
        activate();
        NRN_CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes(count), cudaMemcpyDeviceToHost, stream_));
        if (!async) NRN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    void copy(float* destination, const float* source, int64_t count) override {
        activate();
        NRN_CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes(count), cudaMemcpyDeviceToDevice, stream_));
    }

    // A device-to-device copy on one GPU; between two, over NVLink or PCIe where they have peer access, and through
    // host memory, staged by the driver, where they have not.
    void copy_from_peer(float* destination, int32_t source_device, const float* source, int64_t count) override {
        activate();
        NRN_CUDA_CHECK(cudaMemcpyPeerAsync(destination, device_, source, source_device, bytes(count), stream_));
        NRN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    void fill(float* data, int64_t count, float value) override {
        activate();
        launch_fill(data, count, value, stream_);
    }

    void fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed) override {
        activate();
        launch_fill_uniform(data, count, low, high, seed, stream_);
    }

    void fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed) override {
        activate();
        launch_fill_normal(data, count, mean, stddev, seed, stream_);
    }

    void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t batch, int64_t in,
                        int64_t out) override {
        activate();
        const GemmPlan plan = plan_gemm(Layout::NN, batch, out, in, EpilogueMode::Store);
        Epilogue e{};
        e.mode = EpilogueMode::Store;
        e.bias = b;
        // A device without room for W's copy runs the product as it is.
        float* w_t = nn_faster_through_transpose(plan) ? scratch_if_room(static_cast<size_t>(in * out)) : nullptr;
        if (w_t) run_gemm_through_transpose(plan, x, w, y, e, w_t, stream_);
        else run_gemm(plan, x, w, y, e, scratch(plan.scratch_floats), stream_);
    }

    void linear_backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb,
                         int64_t batch, int64_t in, int64_t out, bool accumulate) override {
        activate();
        Epilogue e{};
        e.mode = accumulate ? EpilogueMode::Add : EpilogueMode::Store;
        // Everything that can refuse the call (planning a product, growing the scratch) happens
        // before the first launch: a failed call leaves every output as it was.
        const GemmPlan gx_plan = gx ? plan_gemm(Layout::NT, batch, in, out, e.mode) : GemmPlan{};
        const GemmPlan gw_plan = gw ? plan_gemm(Layout::TN, in, out, batch, e.mode) : GemmPlan{};
        const size_t gb_floats = gb ? column_sum_scratch_floats(batch, out) : 0;
        scratch(std::max({gx_plan.scratch_floats, gw_plan.scratch_floats, gb_floats}));
        if (gx) run_gemm(gx_plan, gy, w, gx, e, scratch(gx_plan.scratch_floats), stream_);
        if (gw) run_gemm(gw_plan, x, gy, gw, e, scratch(gw_plan.scratch_floats), stream_);
        if (gb) launch_column_sum(gy, batch, out, gb, e.mode, 0.0f, scratch(gb_floats), stream_);
    }

    void mse(const float* prediction, const float* target, float* grad, float* error, float* accumulator,
             int64_t count, int64_t batch) override {
        activate();
        launch_mse(prediction, target, grad, error, accumulator, count, batch, scratch(mse_scratch_floats(count)),
                   stream_);
    }

    void sgd_update(float* param, const float* grad, int64_t count, float learning_rate) override {
        activate();
        launch_sgd_update(param, grad, count, learning_rate, stream_);
    }

    void linear_mse_sgd_train(const TrainArgs& args) override {
        activate();
        // A device without room for W's copy trains with the forward products as they are.
        const size_t with_copy = train_scratch_floats(args, true), without = train_scratch_floats(args, false);
        float* room = with_copy > without ? scratch_if_room(with_copy) : nullptr;
        if (room) run_train(args, room, true, stream_);
        else run_train(args, scratch(without), false, stream_);
    }

private:
    static size_t bytes(int64_t count) { return static_cast<size_t>(count) * sizeof(float); }

    // A process may drive several devices: make this one current before any work.
    void activate() { NRN_CUDA_CHECK(cudaSetDevice(device_)); }

    // Device scratch of at least `floats` floats, kept between calls and only ever grown, so
    // that repeated operations of one shape allocate nothing. It grows by half at least, so that
    // slowly growing shapes reallocate rarely; on a device too full for that, it takes what the
    // call needs. Growing waits for the stream, since enqueued kernels may still use the old buffer.
    float* scratch(size_t floats) {
        if (floats > scratch_floats_) {
            const size_t grown = std::max(floats, scratch_floats_ + scratch_floats_ / 2);
            NRN_CUDA_CHECK(cudaStreamSynchronize(stream_));
            if (scratch_) {
                NRN_CUDA_CHECK(cudaFree(scratch_));
                scratch_ = nullptr;
                scratch_floats_ = 0;
            }
            void* memory = nullptr;
            size_t allocated = grown;
            cudaError_t error = cudaMalloc(&memory, allocated * sizeof(float));
            if (error == cudaErrorMemoryAllocation && grown > floats) {
                cudaGetLastError();  // an allocation failure is not sticky: clear it and ask for less
                allocated = floats;
                error = cudaMalloc(&memory, allocated * sizeof(float));
            }
            NRN_CUDA_CHECK(error);
            scratch_ = static_cast<float*>(memory);
            scratch_floats_ = allocated;
        }
        if (scratch_) {
            set_scratch_access(scratch_, floats, true);
            set_scratch_access(scratch_ + floats, scratch_floats_ - floats, false);
        }
        return scratch_;
    }

    // scratch(floats), or null when the device has no room for it: what an optimisation that needs
    // memory asks for, the call then going without it. The new buffer is asked for before the old
    // one is given up, so a refusal leaves the scratch as it was; and a size once refused is not
    // asked for again on this context, so that a full device costs no synchronisation or
    // allocation per call.
    float* scratch_if_room(size_t floats) {
        if (floats > scratch_floats_) {
            if (floats >= refused_floats_) return nullptr;
            void* memory = nullptr;
            const cudaError_t error = cudaMalloc(&memory, floats * sizeof(float));
            if (error == cudaErrorMemoryAllocation) {
                cudaGetLastError();  // not sticky
                refused_floats_ = floats;
                return nullptr;
            }
            NRN_CUDA_CHECK(error);
            // Enqueued kernels may still use the old buffer.
            const cudaError_t waited = cudaStreamSynchronize(stream_);
            if (waited != cudaSuccess) cudaFree(memory);
            NRN_CUDA_CHECK(waited);
            float* old = scratch_;
            scratch_ = static_cast<float*>(memory);
            scratch_floats_ = floats;
            if (old) NRN_CUDA_CHECK(cudaFree(old));
        }
        return scratch(floats);
    }

    int32_t device_;
    cudaStream_t stream_ = nullptr;
    float* scratch_ = nullptr;
    size_t scratch_floats_ = 0;
    size_t refused_floats_ = SIZE_MAX;  // the least size scratch_if_room was refused
};

}  // namespace
}  // namespace cuda

bool cuda_compiled() noexcept { return true; }

int32_t cuda_device_count() noexcept {
    int count = 0;
    // No driver, an old driver or no GPU are all "zero devices"; the static runtime leaves
    // `count` untouched on failure.
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

std::string cuda_unavailable_reason() {
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error == cudaSuccess || error == cudaErrorNoDevice) {
        cudaGetLastError();
        return {};
    }
    cudaGetLastError();
    return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

void cuda_device_info(int32_t device, nrn_device_info* info) {
    cudaDeviceProp properties{};
    NRN_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
    int major = 0, minor = 0, multiprocessors = 0;
    NRN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    NRN_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    NRN_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
    std::memset(info, 0, sizeof(*info));
    // The name, cut to fit with its terminating NUL (info was zeroed).
    const size_t limit = std::min(sizeof(properties.name), sizeof(info->name) - 1);
    std::memcpy(info->name, properties.name, strnlen(properties.name, limit));
    info->total_memory = static_cast<uint64_t>(properties.totalGlobalMem);
    info->compute_major = major;
    info->compute_minor = minor;
    info->multiprocessor_count = multiprocessors;
}

std::unique_ptr<Backend> make_cuda_backend(int32_t device) { return std::make_unique<cuda::CudaBackend>(device); }

}  // namespace nrn
