// Fused Linear + MSE + SGD training: picks one of four paths by shape and enqueues every
// step without synchronising the host or allocating. Built with -fmad=false (see sources.cmake).
//   warp:    in, out <= 4 and a few multiply-adds a step: one launch of one warp runs all steps;
//   block:   layer and batch small enough for one block: one launch runs all steps;
//   rows:    in, out <= 4 with larger batches: two launches per step;
//   general: per step, the tiled products (forward with the MSE gradient fused into its
//            epilogue, on a transposed copy of W where that is faster; dW with the SGD update
//            fused or split-K), bias sums, and the error.
// Rounding must match the host backend here: nvcc's multiply-add contraction stays off.
#ifndef NRN_CUDA_NO_FMAD
#error "compile this unit with -fmad=false and NRN_CUDA_NO_FMAD (native/src/cuda/sources.cmake)"
#endif

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda_check.h"
#include "kernels.h"
#include "launch.cuh"
#include "random.h"
#include "train_kernels.cuh"

namespace nrn::cuda {
namespace {

enum class TrainPath { Warp, Block, Rows, General };

// Dynamic shared memory of the block path: no opt-in is needed up to 48 KiB in all, and the
// kernel's static arrays (the batches picked ahead) take some.
constexpr size_t kBlockSharedBytes = 48 * 1024 - kTrainPickAhead * (sizeof(int64_t) + sizeof(int));
constexpr int64_t kWarpMaxFeatures = 4;
constexpr int64_t kWarpMaxMultiplyAdds = 64;         // batch × in × out, per step and pass
constexpr int64_t kBlockMaxMultiplyAdds = 1 << 16;    // per step and pass
constexpr int64_t kRowsMaxFeatures = 4;
constexpr int64_t kRowsRowsPerBlock = 4 * kTrainRowsThreads;
constexpr int64_t kRowsMaxBlocks = 1024;

int block_threads(const TrainArgs& a) {
    const int64_t work = std::max(a.batch_size * a.out_features, a.in_features * a.out_features);
    int threads = 32;
    while (threads < kTrainBlockMaxThreads && threads < work) threads *= 2;
    return threads;
}

size_t block_shared_bytes(const TrainArgs& a, int threads) {
    return sizeof(float) * static_cast<size_t>(a.in_features * a.out_features + a.out_features +
                                               a.batch_size * a.out_features + threads);
}

TrainPath choose_path(const TrainArgs& a) {
    if (a.in_features <= kWarpMaxFeatures && a.out_features <= kWarpMaxFeatures &&
        a.batch_size * a.in_features * a.out_features <= kWarpMaxMultiplyAdds)
        return TrainPath::Warp;
    const bool small = a.in_features * a.out_features <= kBlockMaxMultiplyAdds &&
                       a.batch_size * a.out_features <= kBlockMaxMultiplyAdds &&
                       a.batch_size * a.in_features * a.out_features <= kBlockMaxMultiplyAdds;
    if (small && block_shared_bytes(a, kTrainBlockMaxThreads) <= kBlockSharedBytes) return TrainPath::Block;
    if (a.in_features <= kRowsMaxFeatures && a.out_features <= kRowsMaxFeatures) return TrainPath::Rows;
    return TrainPath::General;
}

int64_t rows_blocks(int64_t rows) { return std::clamp<int64_t>(ceil_div(rows, kRowsRowsPerBlock), 1, kRowsMaxBlocks); }

bool tiny(const TrainArgs& a) { return a.in_features == 1 && a.out_features == 1; }

size_t rows_scratch_floats(const TrainArgs& a) {
    const int values = tiny(a) ? RowsLayout<1, 1>::kValues : RowsLayout<4, 4>::kValues;
    return static_cast<size_t>(rows_blocks(a.batch_size) * values);
}

// Scratch of the general path, planned for the two batch sizes a run sees: a full batch and
// the last, smaller one. Neither the forward product's block count (the tile size switches at
// kFillTiles) nor the split-K factor (k_chunk is rounded up to BK) is monotone in the row
// count, so the smaller batch can need more of either.
struct GeneralScratch {
    // Offsets of the sub-buffers, and the floats each holds (the rest up to the next is its guard).
    size_t grad = 0, error_partials = 0, split = 0, column_sums = 0, weight_t = 0, total = 0;
    size_t grad_floats = 0, error_partials_floats = 0, split_floats = 0, column_sums_floats = 0, weight_t_floats = 0;

    GeneralScratch(const TrainArgs& a, bool transpose_forward) {
        const int64_t n = a.batch_size;
        const int64_t last_rows = a.rows - (ceil_div(a.rows, n) - 1) * n;
        const GemmPlan forward = plan_gemm(Layout::NN, n, a.out_features, a.in_features, EpilogueMode::MseGrad);
        const GemmPlan last_forward =
            plan_gemm(Layout::NN, last_rows, a.out_features, a.in_features, EpilogueMode::MseGrad);
        const GemmPlan weights = plan_gemm(Layout::TN, a.in_features, a.out_features, n, EpilogueMode::Sgd);
        const GemmPlan last_weights =
            plan_gemm(Layout::TN, a.in_features, a.out_features, last_rows, EpilogueMode::Sgd);
        grad_floats = static_cast<size_t>(n * a.out_features);
        error_partials_floats = static_cast<size_t>(std::max(forward.blocks, last_forward.blocks));
        split_floats = std::max(weights.scratch_floats, last_weights.scratch_floats);
        column_sums_floats = a.bias ? column_sum_scratch_floats(n, a.out_features) : 0;
        const bool transposes =
            transpose_forward && (nn_faster_through_transpose(forward) || nn_faster_through_transpose(last_forward));
        weight_t_floats = transposes ? static_cast<size_t>(a.in_features * a.out_features) : 0;
        grad = 0;
        error_partials = grad + scratch_round(grad_floats);
        split = error_partials + scratch_round(error_partials_floats);
        column_sums = split + scratch_round(split_floats);
        weight_t = column_sums + scratch_round(column_sums_floats);
        total = weight_t + scratch_round(weight_t_floats);
    }

    // Makes the guards after the sub-buffers inaccessible (in the CUDA emulator's build).
    void guard(float* scratch) const {
        const size_t begins[] = {grad, error_partials, split, column_sums, weight_t, total};
        const size_t floats[] = {grad_floats, error_partials_floats, split_floats, column_sums_floats, weight_t_floats};
        for (int i = 0; i < 5; ++i)
            set_scratch_access(scratch + begins[i] + floats[i], begins[i + 1] - begins[i] - floats[i], false);
    }
};

template <int IN, int OUT>
void rows_step(const TrainArgs& a, const float* x, const float* t, int64_t rows, bool last, float* scratch,
               cudaStream_t stream) {
    const int64_t blocks = rows_blocks(rows);
    const float count = static_cast<float>(rows * a.out_features);
    const int in = static_cast<int>(a.in_features), out = static_cast<int>(a.out_features);
    static const std::string& rows_name = instance_name("train_rows_kernel", {std::to_string(IN), std::to_string(OUT)});
    static const std::string& finalize_name =
        instance_name("train_rows_finalize_kernel", {std::to_string(IN), std::to_string(OUT)});
    launch(rows_name.c_str(), train_rows_kernel<IN, OUT>, static_cast<unsigned>(blocks), kTrainRowsThreads, 0, stream,
           x, t, a.weight, a.bias, rows, in, out, count, scratch);
    launch(finalize_name.c_str(), train_rows_finalize_kernel<IN, OUT>, 1, kTrainRowsThreads, 0, stream, scratch,
           blocks, in, out, a.weight, a.bias, a.learning_rate, rows,
           last ? a.error : nullptr, a.accumulator);
}

void general_step(const TrainArgs& a, const float* x, const float* t, int64_t rows, bool last,
                  const GeneralScratch& layout, float* scratch, cudaStream_t stream) {
    const int64_t count = rows * a.out_features;
    float* grad = scratch + layout.grad;
    float* error_partials = scratch + layout.error_partials;

    const GemmPlan forward = plan_gemm(Layout::NN, rows, a.out_features, a.in_features, EpilogueMode::MseGrad);
    Epilogue mse{};
    mse.mode = EpilogueMode::MseGrad;
    mse.bias = a.bias;
    mse.target = t;
    mse.scale = static_cast<float>(count);
    mse.partials = error_partials;
    if (layout.weight_t_floats > 0 && nn_faster_through_transpose(forward)) {
        // Copies W as it is before this step's update, which the weight gradient's epilogue makes below.
        run_gemm_through_transpose(forward, x, a.weight, grad, mse, scratch + layout.weight_t, stream);
    } else {
        run_gemm(forward, x, a.weight, grad, mse, nullptr, stream);
    }

    // W is not an operand of Xᵀ·G, so the SGD update can be fused into the product's epilogue.
    const GemmPlan weights = plan_gemm(Layout::TN, a.in_features, a.out_features, rows, EpilogueMode::Sgd);
    Epilogue sgd{};
    sgd.mode = EpilogueMode::Sgd;
    sgd.scale = a.learning_rate;
    run_gemm(weights, x, grad, a.weight, sgd, scratch + layout.split, stream);

    if (a.bias)
        launch_column_sum(grad, rows, a.out_features, a.bias, EpilogueMode::Sgd, a.learning_rate,
                          scratch + layout.column_sums, stream);

    float* error = last ? a.error : nullptr;
    if (error || a.accumulator)
        launch_error_finalize(error_partials, forward.blocks, count, rows, error, a.accumulator, stream);
}

}  // namespace

size_t train_scratch_floats(const TrainArgs& a, bool transpose_forward) {
    switch (choose_path(a)) {
        case TrainPath::Warp:
        case TrainPath::Block: return 0;
        case TrainPath::Rows: return rows_scratch_floats(a);
        case TrainPath::General: return GeneralScratch(a, transpose_forward).total;
    }
    return 0;
}

void run_train(const TrainArgs& a, float* scratch, bool transpose_forward, cudaStream_t stream) {
    const TrainPath path = choose_path(a);
    if (path == TrainPath::Warp) {
        if (tiny(a)) launch("train_warp_kernel<1, 1>", train_warp_kernel<1, 1>, 1, kWarpLanes, 0, stream, a);
        else launch("train_warp_kernel<4, 4>", train_warp_kernel<4, 4>, 1, kWarpLanes, 0, stream, a);
        return;
    }
    if (path == TrainPath::Block) {
        const int threads = block_threads(a);
        launch("train_block_kernel", train_block_kernel, 1, threads, block_shared_bytes(a, threads), stream, a);
        return;
    }

    const GeneralScratch layout(a, transpose_forward);
    if (path == TrainPath::General) layout.guard(scratch);
    for (int64_t step = 0; step < a.step_count; ++step) {
        const BatchRows picked = batch_rows(a.order, a.seed, a.first_step + step, a.rows, a.batch_size);
        const int64_t rows = picked.count;
        const float* x = a.input + picked.first * a.in_features;
        const float* t = a.target + picked.first * a.out_features;
        const bool last = step == a.step_count - 1;
        if (path == TrainPath::Rows) {
            if (tiny(a)) rows_step<1, 1>(a, x, t, rows, last, scratch, stream);
            else rows_step<4, 4>(a, x, t, rows, last, scratch, stream);
        } else {
            general_step(a, x, t, rows, last, layout, scratch, stream);
        }
    }
}

}  // namespace nrn::cuda
