// Host-side launchers of the CUDA kernels. Every launcher enqueues work on `stream` and
// returns without synchronising; launch failures throw nrn::Error. Scratch buffers are
// device memory owned by the backend, sized with the matching *_scratch_floats function.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backend.h"

namespace nrn::cuda {

// Scratch sub-buffers start on multiples of this many floats (256 bytes), so that every
// one of them is aligned for float4 access.
constexpr size_t kScratchAlign = 64;

// In the CUDA emulator's build (native/cuda_emulator/) every scratch sub-buffer is followed by
// a guard, and the backend makes guards and scratch an operation did not ask for inaccessible,
// so that AddressSanitizer reports a kernel writing past its part (one cudaMalloc holds them
// all, so nothing else would); in the real build both are nothing.
#if defined(NRN_CUDA_EMULATOR)
constexpr size_t kScratchGuard = kScratchAlign;
inline void set_scratch_access(float* scratch, size_t floats, bool accessible) {
    cuda_emulator::set_accessible(scratch, floats * sizeof(float), accessible);
}
#else
constexpr size_t kScratchGuard = 0;
inline void set_scratch_access(float*, size_t, bool) {}
#endif

// Floats to reserve for a sub-buffer of `floats`, so that the next one starts aligned.
inline size_t scratch_round(size_t floats) {
    return (floats + kScratchGuard + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
}

// ---- pointwise.cu ------------------------------------------------------------------------

void launch_fill(float* data, int64_t count, float value, cudaStream_t stream);
void launch_fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed, cudaStream_t stream);
void launch_fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed, cudaStream_t stream);
void launch_sgd_update(float* param, const float* grad, int64_t count, float learning_rate, cudaStream_t stream);

// grad = (prediction − target)/count (grad may be null); error and accumulator as in Backend::mse.
size_t mse_scratch_floats(int64_t count);
void launch_mse(const float* prediction, const float* target, float* grad, float* error, float* accumulator,
                int64_t count, int64_t batch, float* scratch, cudaStream_t stream);

// Sums `partial_count` per-block sums of squared differences in a fixed order, then writes
// error = sum/(2·count) to `error` (may be null) and adds (error, batch) to `accumulator` (may be null).
void launch_error_finalize(const float* partials, int64_t partial_count, int64_t count, int64_t batch,
                           float* error, float* accumulator, cudaStream_t stream);

// ---- gemm.cu -----------------------------------------------------------------------------

// Row-major C[M x N] = op(A)·op(B):
//   NN: A is M x K, B is K x N      (forward,  Y  = X·W)
//   NT: A is M x K, B is N x K      (backward, dX = G·Wᵀ)
//   TN: A is K x M, B is K x N      (backward, dW = Xᵀ·G)
enum class Layout { NN, NT, TN };

// What the epilogue does with each finished element v of the product (idx = row·N + col):
//   Store:   C[idx] = v + bias[col]                     (bias may be null)
//   Add:     C[idx] += v
//   Sgd:     C[idx] -= scale·v                           (C is a parameter, scale the learning rate)
//   MseGrad: d = v + bias[col] − target[idx]; C[idx] = d/scale (scale = element count),
//            and the block's Σd² goes to partials[block]  (the product is a prediction)
enum class EpilogueMode { Store, Add, Sgd, MseGrad };

struct Epilogue {
    EpilogueMode mode = EpilogueMode::Store;
    const float* bias = nullptr;
    const float* target = nullptr;
    float scale = 0.0f;
    float* partials = nullptr;
};

// The device pointers of an Epilogue, a kernel argument (the CUDA emulator checks them at launches).
template <class F>
void device_pointers(const Epilogue& e, F&& visit) {
    visit("epilogue.bias", e.bias);
    visit("epilogue.target", e.target);
    visit("epilogue.partials", e.partials);
}

// The kernel chosen for one product; made by plan_gemm, the one place that picks kernels by shape.
struct GemmPlan {
    Layout layout;
    int64_t m, n, k;
    int tile;              // 128 or 64 (square block tile)
    int64_t splits;        // split-K factor (1: no split)
    int64_t k_chunk;       // K range per split
    int64_t blocks;        // thread blocks of the product kernel (= MseGrad partial count)
    size_t scratch_floats; // split-K partial products
};

GemmPlan plan_gemm(Layout layout, int64_t m, int64_t n, int64_t k, EpilogueMode mode);
void run_gemm(const GemmPlan& plan, const float* a, const float* b, float* c, const Epilogue& epilogue,
              float* scratch, cudaStream_t stream);

// Whether an NN product planned as `nn` runs faster as NT on a transposed copy of B (see gemm.cu):
// C = A·B = A·(Bᵀ)ᵀ, the same sums in the same order, so the same results. Then
// run_gemm_through_transpose runs it so, with b_t (K·N floats) for the copy.
bool nn_faster_through_transpose(const GemmPlan& nn);
void run_gemm_through_transpose(const GemmPlan& nn, const float* a, const float* b, float* c,
                                const Epilogue& epilogue, float* b_t, cudaStream_t stream);

// out[col] (op) Σ_rows g[row·cols + col], with op = Store (bias ignored), Add or Sgd (scale = learning rate).
size_t column_sum_scratch_floats(int64_t rows, int64_t cols);
void launch_column_sum(const float* g, int64_t rows, int64_t cols, float* out, EpilogueMode mode, float scale,
                       float* scratch, cudaStream_t stream);

// ---- train.cu ----------------------------------------------------------------------------

// Scratch and runs of the fused training; with transpose_forward false, the forward products stay
// NN even where a transposed W would be faster (on a device without room for W's copy).
size_t train_scratch_floats(const TrainArgs& args, bool transpose_forward);
void run_train(const TrainArgs& args, float* scratch, bool transpose_forward, cudaStream_t stream);

}  // namespace nrn::cuda
