// Fused Linear + MSE + SGD training kernels (launched from train.cu).
//
// Every step computes the batch's gradient from the weights as they were before the step,
// then updates them: Y = X·W + b, G = (Y − T)/N, W −= lr·XᵀG, b −= lr·Σrows G, error = ΣD²/(2N).
#pragma once

#include <cstdint>

#include "accumulator.h"
#include "backend.h"
#include "device_utils.cuh"
#include "random.h"

namespace nrn {

// The device pointers of TrainArgs, the argument of train_warp_kernel and train_block_kernel
// (the CUDA emulator checks them at launches).
template <class F>
void device_pointers(const TrainArgs& a, F&& visit) {
    visit("input", a.input);
    visit("target", a.target);
    visit("weight", a.weight);
    visit("bias", a.bias);
    visit("error", a.error);
    visit("accumulator", a.accumulator);
}

}  // namespace nrn

namespace nrn::cuda {

// One row's share of a step of a layer of in <= IN inputs and out <= OUT outputs, with W and b
// in registers: its predictions y = x·W + b (each summed from zero over k, then b added), its
// differences D = y − t, and G = D / count added to the running sums dW += xᵀG and db += G, and
// D² to squares. Elements past in and out are neither read nor summed.
template <int IN, int OUT>
__device__ __forceinline__ void add_row_gradient(const float* x, const float* t, int in, int out,
                                                 const float (&w)[IN][OUT], const float (&b)[OUT], float count,
                                                 float (&dw)[IN][OUT], float (&db)[OUT], float& squares) {
    float xv[IN];
#pragma unroll
    for (int k = 0; k < IN; ++k) xv[k] = k < in ? x[k] : 0.0f;
#pragma unroll
    for (int o = 0; o < OUT; ++o) {
        if (o >= out) break;
        float y = 0.0f;
#pragma unroll
        for (int k = 0; k < IN; ++k)
            if (k < in) y += xv[k] * w[k][o];
        y += b[o];
        const float d = y - t[o];
        const float g = d / count;
        squares += d * d;
        db[o] += g;
#pragma unroll
        for (int k = 0; k < IN; ++k)
            if (k < in) dw[k][o] += xv[k] * g;
    }
}

// ---- One warp runs every step, W and b in registers ------------------------------------
//
// For the smallest layers and batches (in <= IN, out <= OUT, compile-time bounds, and a few
// multiply-adds a step, train.cu's kWarpMaxMultiplyAdds), where a step's arithmetic is a handful
// of dependent operations and the one-block kernel's barriers, shared-memory round trips and
// reductions would be most of its latency. The 32 lanes of one warp run the same steps on copies
// of W and b in registers (a row's loads are one broadcast), so no lane ever waits for another
// within a step. Work that is not on the weights' chain is done 32 steps at a time, a step a lane:
// lane j works out the batch of the chunk's step j before the chunk, keeps that step's sum of
// squares, and finishes it into the step's error after the chunk; the accumulator then adds the
// chunk's errors in step order, as the host does.
//
// The arithmetic is the one-block kernel's: a prediction sums x·w from zero over k, then adds b;
// G = D / count; dW and db sum over the batch's rows in order. Only the squared differences
// are summed in row order rather than as a tree.
constexpr int kWarpLanes = 32;

template <int IN, int OUT>
__global__ void __launch_bounds__(kWarpLanes) train_warp_kernel(TrainArgs a) {
    const int lane = static_cast<int>(threadIdx.x);
    const int in = static_cast<int>(a.in_features);
    const int out = static_cast<int>(a.out_features);

    float w[IN][OUT], b[OUT];
#pragma unroll
    for (int k = 0; k < IN; ++k)
#pragma unroll
        for (int o = 0; o < OUT; ++o) w[k][o] = k < in && o < out ? a.weight[k * out + o] : 0.0f;
#pragma unroll
    for (int o = 0; o < OUT; ++o) b[o] = a.bias && o < out ? a.bias[o] : 0.0f;
    float acc[NRN_ACCUMULATOR_SIZE] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (a.accumulator)
        for (int i = 0; i < NRN_ACCUMULATOR_SIZE; ++i) acc[i] = a.accumulator[i];
    float last_error = 0.0f;

    for (int64_t chunk = 0; chunk < a.step_count; chunk += kWarpLanes) {
        const int steps = static_cast<int>(a.step_count - chunk < kWarpLanes ? a.step_count - chunk : kWarpLanes);
        // Step chunk + lane's batch: its first row and its row count.
        int64_t my_first = 0, my_rows = 0;
        if (lane < steps) {
            const BatchRows mine = batch_rows(a.order, a.seed, a.first_step + chunk + lane, a.rows, a.batch_size);
            my_first = mine.first;
            my_rows = mine.count;
        }
        float my_squares = 0.0f;

        for (int j = 0; j < steps; ++j) {
            const int64_t first = __shfl_sync(kFullWarp, my_first, j);
            // batch_rows's count from the first row: one shuffle a step instead of two.
            const int rows = static_cast<int>(a.rows - first < a.batch_size ? a.rows - first : a.batch_size);
            const float* x = a.input + first * in;
            const float* t = a.target + first * out;
            const float count = static_cast<float>(rows * out);

            float dw[IN][OUT], db[OUT], squares = 0.0f;
#pragma unroll
            for (int o = 0; o < OUT; ++o) {
                db[o] = 0.0f;
#pragma unroll
                for (int k = 0; k < IN; ++k) dw[k][o] = 0.0f;
            }
            for (int r = 0; r < rows; ++r)
                add_row_gradient(x + r * in, t + r * out, in, out, w, b, count, dw, db, squares);
#pragma unroll
            for (int o = 0; o < OUT; ++o) {
                if (o >= out) break;
#pragma unroll
                for (int k = 0; k < IN; ++k)
                    if (k < in) w[k][o] -= a.learning_rate * dw[k][o];
                if (a.bias) b[o] -= a.learning_rate * db[o];
            }
            if (lane == j) my_squares = squares;
        }

        if (a.accumulator || (a.error && chunk + steps == a.step_count)) {  // uniform across the warp
            const float my_error = lane < steps ? mse_error(my_squares, my_rows * out) : 0.0f;
            if (a.accumulator)
                for (int j = 0; j < steps; ++j)
                    accumulator_add(acc, __shfl_sync(kFullWarp, my_error, j), __shfl_sync(kFullWarp, my_rows, j));
            last_error = __shfl_sync(kFullWarp, my_error, steps - 1);
        }
    }

    if (lane != 0) return;
#pragma unroll
    for (int k = 0; k < IN; ++k)
#pragma unroll
        for (int o = 0; o < OUT; ++o)
            if (k < in && o < out) a.weight[k * out + o] = w[k][o];
    if (a.bias)
#pragma unroll
        for (int o = 0; o < OUT; ++o)
            if (o < out) a.bias[o] = b[o];
    if (a.error) *a.error = last_error;
    if (a.accumulator)
        for (int i = 0; i < NRN_ACCUMULATOR_SIZE; ++i) a.accumulator[i] = acc[i];
}

// ---- One block runs every step ----------------------------------------------------------
//
// For layers and batches small enough that one block does a step in well under a kernel
// launch's cost. W and b live in shared memory for the whole run and are written back at the
// end; the accumulator's float-float sums live in thread 0's registers. Dynamic shared memory:
// W (in·out), b (out), G (batch_size·out), reduction scratch (blockDim.x), blockDim.x a power of two.
//
// A step's latency is what bounds this kernel, so nothing that can be done ahead waits in it:
// the batches do not depend on the weights, and the first warp works out those of the next
// kTrainPickAhead steps at once, a step a lane (the batch order's hashing and 64-bit divisions
// would otherwise start every step).
constexpr int kTrainBlockMaxThreads = 256;
constexpr int kTrainPickAhead = 32;

__global__ void __launch_bounds__(kTrainBlockMaxThreads) train_block_kernel(TrainArgs a) {
    float* shared = dynamic_shared_floats();
    const int in = static_cast<int>(a.in_features);
    const int out = static_cast<int>(a.out_features);
    const int batch_size = static_cast<int>(a.batch_size);
    float* w = shared;
    float* b = w + in * out;
    float* g = b + out;
    float* scratch = g + batch_size * out;
    const int tid = static_cast<int>(threadIdx.x);
    const int threads = static_cast<int>(blockDim.x);
    __shared__ int64_t picked_first[kTrainPickAhead];
    __shared__ int picked_count[kTrainPickAhead];

    for (int i = tid; i < in * out; i += threads) w[i] = a.weight[i];
    for (int o = tid; o < out; o += threads) b[o] = a.bias ? a.bias[o] : 0.0f;
    float acc[NRN_ACCUMULATOR_SIZE] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (tid == 0 && a.accumulator)
        for (int i = 0; i < NRN_ACCUMULATOR_SIZE; ++i) acc[i] = a.accumulator[i];
    float last_error = 0.0f;
    __syncthreads();

    for (int64_t step = 0; step < a.step_count; ++step) {
        const int slot = static_cast<int>(step % kTrainPickAhead);
        if (slot == 0) {  // uniform across the block; the last step's closing barrier freed the slots
            if (tid < kTrainPickAhead && step + tid < a.step_count) {
                const BatchRows ahead = batch_rows(a.order, a.seed, a.first_step + step + tid, a.rows, a.batch_size);
                picked_first[tid] = ahead.first;
                picked_count[tid] = static_cast<int>(ahead.count);
            }
            __syncthreads();
        }
        const int64_t first = picked_first[slot];
        const int rows = picked_count[slot];
        const float* x = a.input + first * in;
        const float* t = a.target + first * out;
        const float count = static_cast<float>(rows * out);

        // Forward and MSE gradient from the current W and b.
        float squares = 0.0f;
        for (int e = tid; e < rows * out; e += threads) {
            const int r = e / out, o = e % out;
            float y = 0.0f;
            for (int k = 0; k < in; ++k) y += x[r * in + k] * w[k * out + o];
            y += b[o];
            const float d = y - t[e];
            g[e] = d / count;
            squares += d * d;
        }
        __syncthreads();  // G complete; no thread reads W or b again in this step

        // Gradients and updates: each parameter is owned by one thread.
        for (int e = tid; e < in * out; e += threads) {
            const int k = e / out, o = e % out;
            float s = 0.0f;
            for (int r = 0; r < rows; ++r) s += x[r * in + k] * g[r * out + o];
            w[e] -= a.learning_rate * s;
        }
        if (a.bias) {
            for (int o = tid; o < out; o += threads) {
                float s = 0.0f;
                for (int r = 0; r < rows; ++r) s += g[r * out + o];
                b[o] -= a.learning_rate * s;
            }
        }

        const bool last = step == a.step_count - 1;
        if (a.accumulator || (a.error && last)) {  // uniform across the block
            const float total = block_sum(squares, scratch);
            if (tid == 0) {
                last_error = mse_error(total, static_cast<int64_t>(rows) * out);
                if (a.accumulator) accumulator_add(acc, last_error, rows);
            }
        }
        __syncthreads();  // updates visible, G free, before the next step's forward
    }

    for (int i = tid; i < in * out; i += threads) a.weight[i] = w[i];
    if (a.bias)
        for (int o = tid; o < out; o += threads) a.bias[o] = b[o];
    if (tid == 0) {
        if (a.error) *a.error = last_error;
        if (a.accumulator)
            for (int i = 0; i < NRN_ACCUMULATOR_SIZE; ++i) a.accumulator[i] = acc[i];
    }
}

// ---- Many rows, tiny layer: one step = two launches -------------------------------------
//
// For in <= IN and out <= OUT (compile-time bounds, so the per-thread gradient sums stay in
// registers): each thread runs rows in grid-stride order, summing its share of XᵀG, ΣG and
// ΣD²; warps and then the block combine them in a fixed order into partials[block][P].
template <int IN, int OUT>
struct RowsLayout {
    static constexpr int kValues = IN * OUT + OUT + 1;  // dW, db, Σd²
};

constexpr int kTrainRowsThreads = 256;
constexpr int kTrainRowsWarps = kTrainRowsThreads / 32;

template <int IN, int OUT>
__global__ void __launch_bounds__(kTrainRowsThreads)
    train_rows_kernel(const float* x, const float* t, const float* w, const float* bias, int64_t rows, int in,
                      int out, float count, float* partials) {
    constexpr int P = RowsLayout<IN, OUT>::kValues;
    __shared__ float warp_sums[P][kTrainRowsWarps];

    float wr[IN][OUT], br[OUT], dw[IN][OUT], db[OUT], squares = 0.0f;
#pragma unroll
    for (int k = 0; k < IN; ++k)
#pragma unroll
        for (int o = 0; o < OUT; ++o) {
            wr[k][o] = (k < in && o < out) ? w[k * out + o] : 0.0f;
            dw[k][o] = 0.0f;
        }
#pragma unroll
    for (int o = 0; o < OUT; ++o) {
        br[o] = (bias && o < out) ? bias[o] : 0.0f;
        db[o] = 0.0f;
    }

    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride)
        add_row_gradient(x + r * in, t + r * out, in, out, wr, br, count, dw, db, squares);

    const int lane = static_cast<int>(threadIdx.x) & 31;
    const int warp = static_cast<int>(threadIdx.x) >> 5;
#pragma unroll
    for (int j = 0; j < P; ++j) {  // the layout of RowsLayout: dW, db, Σd²
        const float part = j < IN * OUT ? dw[j / OUT][j % OUT] : j < IN * OUT + OUT ? db[j - IN * OUT] : squares;
        const float v = warp_sum(part);
        if (lane == 0) warp_sums[j][warp] = v;
    }
    __syncthreads();
    for (int j = static_cast<int>(threadIdx.x); j < P; j += blockDim.x) {
        float s = 0.0f;
        for (int i = 0; i < kTrainRowsWarps; ++i) s += warp_sums[j][i];
        partials[static_cast<int64_t>(blockIdx.x) * P + j] = s;
    }
}

// One block: warp j' sums value j over the blocks' partials (lanes in block order, then the
// warp tree) and applies it: the SGD update of one weight or bias, or the error.
template <int IN, int OUT>
__global__ void __launch_bounds__(kTrainRowsThreads)
    train_rows_finalize_kernel(const float* partials, int64_t blocks, int in, int out, float* w, float* bias,
                               float learning_rate, int64_t batch, float* error, float* accumulator) {
    constexpr int P = RowsLayout<IN, OUT>::kValues;
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const int warp = static_cast<int>(threadIdx.x) >> 5;
    for (int j = warp; j < P; j += kTrainRowsWarps) {
        float s = 0.0f;
        for (int64_t i = lane; i < blocks; i += 32) s += partials[i * P + j];
        s = warp_sum(s);
        if (lane != 0) continue;
        if (j < IN * OUT) {
            const int k = j / OUT, o = j % OUT;
            if (k < in && o < out) w[k * out + o] -= learning_rate * s;
        } else if (j < IN * OUT + OUT) {
            const int o = j - IN * OUT;
            if (o < out && bias) bias[o] -= learning_rate * s;
        } else {
            const float e = mse_error(s, batch * out);
            if (error) *error = e;
            if (accumulator) accumulator_add(accumulator, e, batch);
        }
    }
}

}  // namespace nrn::cuda
