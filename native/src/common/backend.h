// The interface every backend implements. The C API (api_*.cpp) validates handles, shapes
// and arguments, then calls these with raw pointers into the backend's own memory; a
// backend never sees a bad shape. Failures are reported by throwing nrn::Error, which the
// API layer turns into a status and a thread-local message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "neuron.h"

namespace nrn {

// A failure with its status; what() is the message given to nrn_last_error().
class Error : public std::runtime_error {
public:
    Error(nrn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    nrn_status status() const noexcept { return status_; }

private:
    nrn_status status_;
};

// Arguments of a run of fused Linear + MSE + SGD steps (see nrn_linear_mse_sgd_train).
// input: rows x in_features, target: rows x out_features, weight: in x out, bias: out or null.
struct TrainArgs {
    const float* input;
    const float* target;
    float* weight;
    float* bias;          // may be null: no bias
    int64_t rows;
    int64_t in_features;
    int64_t out_features;
    float learning_rate;
    int64_t batch_size;   // 1 <= batch_size <= rows
    int64_t first_step;
    int64_t step_count;   // >= 1
    nrn_batch_order order;
    uint64_t seed;
    float* error;         // one float or null
    float* accumulator;   // NRN_ACCUMULATOR_SIZE floats or null
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual nrn_backend kind() const noexcept = 0;
    virtual int32_t device() const noexcept = 0;  // -1 for the host

    // Memory. allocate() throws Error(NRN_STATUS_OUT_OF_MEMORY) when it cannot.
    virtual void* allocate(size_t bytes) = 0;
    virtual void release(void* memory) noexcept = 0;
    virtual void* allocate_pinned(size_t bytes) = 0;
    virtual void release_pinned(void* memory) noexcept = 0;

    // Waits for all enqueued work; throws on a deferred backend error.
    virtual void synchronize() = 0;

    // Copies. The blocking forms return when the data has arrived.
    virtual void copy_from_host(float* destination, const float* source, int64_t count, bool async) = 0;
    virtual void copy_to_host(float* destination, const float* source, int64_t count, bool async) = 0;
    virtual void copy(float* destination, const float* source, int64_t count) = 0;
    // From the memory of another context of this kind, on device `source_device`, whose work the caller has waited
    // for; returns when the data has arrived.
    virtual void copy_from_peer(float* destination, int32_t source_device, const float* source, int64_t count) = 0;

    // Fills (random values from random.h, element i drawn from (seed, i)).
    virtual void fill(float* data, int64_t count, float value) = 0;
    virtual void fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed) = 0;
    virtual void fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed) = 0;

    // y[batch x out] = x[batch x in] · w[in x out] + b[out] (b may be null).
    virtual void linear_forward(const float* x, const float* w, const float* b, float* y,
                                int64_t batch, int64_t in, int64_t out) = 0;

    // gx = gy·wᵀ, gw = xᵀ·gy, gb = Σ_rows gy; each output may be null; accumulate adds instead of overwriting.
    virtual void linear_backward(const float* x, const float* w, const float* gy,
                                 float* gx, float* gw, float* gb,
                                 int64_t batch, int64_t in, int64_t out, bool accumulate) = 0;

    // grad = (pred − target)/count (grad may be null); *error = Σ(pred − target)²/(2·count) (may be null);
    // accumulator_add(accumulator, error, batch) when accumulator is not null.
    virtual void mse(const float* prediction, const float* target, float* grad, float* error,
                     float* accumulator, int64_t count, int64_t batch) = 0;

    // param -= learning_rate · grad
    virtual void sgd_update(float* param, const float* grad, int64_t count, float learning_rate) = 0;

    // step_count fused steps; one step on a whole small tensor is the fused single step.
    virtual void linear_mse_sgd_train(const TrainArgs& args) = 0;
};

// The host (CPU) backend: always present. Both check NEURON_HOST_SIMD and NEURON_HOST_THREADS.
std::unique_ptr<Backend> make_host_backend();
void host_info(nrn_host_properties* info);

// The CUDA backend (native/src/cuda/), or stubs (native/src/common/cuda_stub.cpp) when CUDA
// is not compiled in. cuda_device_count() returns 0 on a machine without driver or GPU;
// cuda_unavailable_reason() then says why when the runtime knows more than "no device" (an
// old driver, say), and is empty otherwise.
bool cuda_compiled() noexcept;
int32_t cuda_device_count() noexcept;
std::string cuda_unavailable_reason();
void cuda_device_info(int32_t device, nrn_device_info* info);  // device already range-checked
std::unique_ptr<Backend> make_cuda_backend(int32_t device);    // device already range-checked

}  // namespace nrn
