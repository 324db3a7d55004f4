// The host backend's arithmetic: plain C++ loops, cache-blocked and written so that the
// compiler vectorises the innermost loops (contiguous memory, restrict pointers); matrix
// products use a register-blocked kernel, and the long sums (the squared error, a 1 → 1 layer's
// gradients) vectors of lanes, compiled for AVX-512, AVX2 and baseline x86-64 and picked at run
// time (NEURON_HOST_SIMD=avx2|baseline picks a narrower one; same results).
//
// Large operations are split across threads by output element: every output element is
// computed by one thread, with the same sequence of floating-point operations whatever the
// number of threads, so results are bit-identical from run to run and machine to machine (for a
// given build). A product of few outputs over a long depth (the weight gradient of a small layer
// over a large batch), a bias gradient over a long batch, and the long sums below (a squared
// error, a 1 → 1 layer's gradients) are also split along the batch into parts, as many as the
// shape says (never the number of threads), whose sums are then added in order (host_kernels.cpp:
// Matrix product, column_sum_parts, Long sums).
#pragma once

#include <cstdint>

namespace nrn::host {

// Reserves, for the calling thread, what linear_forward and linear_backward of this shape (or
// a smaller batch) need besides their arguments. Both reserve for themselves; an operation made
// of several calls reserves first, so that running out of memory (std::bad_alloc) comes before
// it writes anything. The reservation only grows: repeated calls allocate nothing.
void reserve_linear(int64_t batch, int64_t in, int64_t out);

// The instruction set of the matrix kernels in use: "avx512", "avx2" or "baseline".
const char* simd_name();

// Checks NEURON_HOST_SIMD and NEURON_HOST_THREADS; throws nrn::Error (invalid argument) for a
// value that names no instruction set or thread count, which would otherwise be ignored.
void check_settings();

// y[batch x out] = x[batch x in] · w[in x out] + b[out] (b may be null).
void linear_forward(const float* x, const float* w, const float* b, float* y,
                    int64_t batch, int64_t in, int64_t out);

// gx = gy·wᵀ, gw = xᵀ·gy, gb = Σ_rows gy; each output may be null; accumulate adds to the outputs.
// Bias gradients sum in double (over parts of a long batch, added in order); a single column's
// sum (an output of one), and a 1 → 1 layer's weight gradient (in float), over the batch in 16
// lanes (host_kernels.cpp, Long sums).
void linear_backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb,
                     int64_t batch, int64_t in, int64_t out, bool accumulate);

// grad = (pred − target)/count (grad may be null); returns Σ(pred − target)²/(2·count), summed in
// double in 16 lanes.
float mse(const float* prediction, const float* target, float* grad, int64_t count);

// One SGD step of a 1 → 1 layer (b may be null) with the MSE cost on `batch` rows x, t; returns
// the batch's error. The bits of linear_forward, mse, linear_backward (overwriting) and
// sgd_update in turn, in one pass over the batch and without its predictions and gradients.
float linear_mse_sgd_step_one_by_one(const float* x, const float* t, float* w, float* b, int64_t batch,
                                     float learning_rate);

// param -= learning_rate · grad
void sgd_update(float* param, const float* grad, int64_t count, float learning_rate);

// Fills and copies of `count` floats, spread over the host threads when there are enough of
// them to pay for waking one; element i of a draw depends on (seed, i) alone, as on CUDA.
void fill(float* data, int64_t count, float value);
// data[i] = uniform(seed, i, low, high)
void fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed);
// data[i] = mean + stddev · standard_normal(seed, i)
void fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed);
// The ranges must not overlap.
void copy(float* destination, const float* source, int64_t count);

}  // namespace nrn::host
