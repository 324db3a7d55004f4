// Element-wise kernels: fills, SGD update, MSE gradient and error (launched from pointwise.cu).
// This file's translation unit is compiled without multiply-add contraction, so that these
// kernels round exactly like the host backend (random fills in particular are bit-identical).
#pragma once

#include <cstdint>

#include "accumulator.h"
#include "device_utils.cuh"
#include "random.h"

namespace nrn::cuda {

constexpr int kPointwiseThreads = 256;

__device__ __forceinline__ int64_t global_thread() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t global_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

__global__ void __launch_bounds__(kPointwiseThreads) fill_kernel(float* data, int64_t count, float value) {
    for (int64_t i = global_thread(); i < count; i += global_stride()) data[i] = value;
}

__global__ void __launch_bounds__(kPointwiseThreads)
    fill_uniform_kernel(float* data, int64_t count, float low, float high, uint64_t seed) {
    for (int64_t i = global_thread(); i < count; i += global_stride())
        data[i] = uniform(seed, static_cast<uint64_t>(i), low, high);
}

__global__ void __launch_bounds__(kPointwiseThreads)
    fill_normal_kernel(float* data, int64_t count, float mean, float stddev, uint64_t seed) {
    for (int64_t i = global_thread(); i < count; i += global_stride())
        data[i] = mean + stddev * standard_normal(seed, static_cast<uint64_t>(i));
}

__global__ void __launch_bounds__(kPointwiseThreads)
    sgd_update_kernel(float* param, const float* grad, int64_t count, float learning_rate) {
    for (int64_t i = global_thread(); i < count; i += global_stride()) param[i] -= learning_rate * grad[i];
}

// grad[i] = (prediction[i] − target[i])/count (grad may be null); when partials is not null,
// partials[block] = the block's Σ(prediction − target)², each thread summing its elements in
// grid-stride order and the block combining threads in a fixed tree order.
__global__ void __launch_bounds__(kPointwiseThreads)
    mse_kernel(const float* prediction, const float* target, float* grad, int64_t count, float* partials) {
    __shared__ float scratch[kPointwiseThreads / 32];
    const float n = static_cast<float>(count);
    float squares = 0.0f;
    for (int64_t i = global_thread(); i < count; i += global_stride()) {
        const float d = prediction[i] - target[i];
        if (grad) grad[i] = d / n;
        squares += d * d;
    }
    if (partials) {
        const float total = block_sum(squares, scratch);
        if (threadIdx.x == 0) partials[blockIdx.x] = total;
    }
}

// One block: error = Σ partials/(2·count), summed in double in a fixed order (as the host
// backend sums in double); then thread 0 writes the error scalar and the accumulator.
__global__ void __launch_bounds__(kPointwiseThreads)
    error_finalize_kernel(const float* partials, int64_t partial_count, int64_t count, int64_t batch, float* error,
                          float* accumulator) {
    __shared__ double scratch[kPointwiseThreads / 32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < partial_count; i += blockDim.x) s += partials[i];
    const double total = block_sum(s, scratch);
    if (threadIdx.x == 0) {
        const float e = mse_error(total, count);
        if (error) *error = e;
        if (accumulator) accumulator_add(accumulator, e, batch);
    }
}

}  // namespace nrn::cuda
