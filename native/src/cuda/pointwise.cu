// Launchers of the element-wise kernels. Built with -fmad=false (see CMakeLists.txt).
#include <algorithm>

#include "cuda_check.h"
#include "kernels.h"
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
    fill_kernel<<<pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads, 0, stream>>>(data, count, value);
    NRN_CUDA_CHECK_LAUNCH("fill_kernel");
}

void launch_fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed, cudaStream_t stream) {
    fill_uniform_kernel<<<pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads, 0, stream>>>(
        data, count, low, high, seed);
    NRN_CUDA_CHECK_LAUNCH("fill_uniform_kernel");
}

void launch_fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed, cudaStream_t stream) {
    fill_normal_kernel<<<pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads, 0, stream>>>(
        data, count, mean, stddev, seed);
    NRN_CUDA_CHECK_LAUNCH("fill_normal_kernel");
}

void launch_sgd_update(float* param, const float* grad, int64_t count, float learning_rate, cudaStream_t stream) {
    sgd_update_kernel<<<pointwise_blocks(count, kMaxPointwiseBlocks), kPointwiseThreads, 0, stream>>>(
        param, grad, count, learning_rate);
    NRN_CUDA_CHECK_LAUNCH("sgd_update_kernel");
}

size_t mse_scratch_floats(int64_t count) { return pointwise_blocks(count, kMaxMseBlocks); }

void launch_mse(const float* prediction, const float* target, float* grad, float* error, float* accumulator,
                int64_t count, int64_t batch, float* scratch, cudaStream_t stream) {
    const bool want_error = error != nullptr || accumulator != nullptr;
    if (!want_error && grad == nullptr) return;
    const unsigned blocks = pointwise_blocks(count, kMaxMseBlocks);
    mse_kernel<<<blocks, kPointwiseThreads, 0, stream>>>(prediction, target, grad, count,
                                                         want_error ? scratch : nullptr);
    NRN_CUDA_CHECK_LAUNCH("mse_kernel");
    if (want_error) launch_error_finalize(scratch, blocks, count, batch, error, accumulator, stream);
}

void launch_error_finalize(const float* partials, int64_t partial_count, int64_t count, int64_t batch,
                           float* error, float* accumulator, cudaStream_t stream) {
    error_finalize_kernel<<<1, kPointwiseThreads, 0, stream>>>(partials, partial_count, count, batch, error,
                                                               accumulator);
    NRN_CUDA_CHECK_LAUNCH("error_finalize_kernel");
}

}  // namespace nrn::cuda
