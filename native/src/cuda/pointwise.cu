// Launchers of the element-wise kernels. Built with -fmad=false (see sources.cmake).
// Rounding must match the host backend here: nvcc's multiply-add contraction stays off.
#ifndef NRN_CUDA_NO_FMAD
#error "compile this unit with -fmad=false and NRN_CUDA_NO_FMAD (native/src/cuda/sources.cmake)"
#endif

#include <algorithm>

#include "kernels.h"
#include "launch.cuh"
#include "pointwise_kernels.cuh"

namespace nrn::cuda {
namespace {

// Grid-stride kernels use at most this many blocks (enough to fill any current GPU); the
// count depends on the element count only, so reductions combine in the same order everywhere.
constexpr int64_t kMaxPointwiseBlocks = 4096;
constexpr int64_t kMaxMseBlocks = 1024;

unsigned pointwise_blocks(int64_t count, int64_t max_blocks) {
    return static_cast<unsigned>(std::clamp<int64_t>(ceil_div(count, kPointwiseThreads), 1, max_blocks));
}

}  // namespace

void launch_fill(float* data, int64_t count, float value, cudaStream_t stream) {
    launch("fill_kernel", fill_kernel, pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads, 0, stream, data,
           count, value);
}

void launch_fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed, cudaStream_t stream) {
    launch("fill_uniform_kernel", fill_uniform_kernel, pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads,
           0, stream, data, count, low, high, seed);
}

void launch_fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed, cudaStream_t stream) {
    launch("fill_normal_kernel", fill_normal_kernel, pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads,
           0, stream, data, count, mean, stddev, seed);
}

void launch_sgd_update(float* param, const float* grad, int64_t count, float learning_rate, cudaStream_t stream) {
    launch("sgd_update_kernel", sgd_update_kernel, pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads, 0,
           stream, param, grad, count, learning_rate);
}

size_t mse_scratch_floats(int64_t count) { return pointwise_blocks(count, kMaxMseBlocks); }

void launch_mse(const float* prediction, const float* target, float* grad, float* error, float* accumulator,
                int64_t count, int64_t batch, float* scratch, cudaStream_t stream) {
    const bool want_error = error != nullptr || accumulator != nullptr;
    if (!want_error && grad == nullptr) return;
    const unsigned blocks = pointwise_blocks(count, kMaxMseBlocks);
    launch("mse_kernel", mse_kernel, blocks, kPointwiseThreads, 0, stream, prediction, target, grad, count,
           want_error ? scratch : nullptr);
    if (want_error) launch_error_finalize(scratch, blocks, count, batch, error, accumulator, stream);
}

void launch_error_finalize(const float* partials, int64_t partial_count, int64_t count, int64_t batch,
                           float* error, float* accumulator, cudaStream_t stream) {
    launch("error_finalize_kernel", error_finalize_kernel, 1, kPointwiseThreads, 0, stream, partials, partial_count,
           count, batch, error, accumulator);
}

}  // namespace nrn::cuda
