#include "host/host_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

namespace nrn::host {
namespace {

// Tiles: an output tile of kRowBlock x kColTile floats stays in L1 while the matching
// kDepthBlock x kColTile block of the right-hand matrix (256 KiB) stays in L2.
constexpr int64_t kColTile = 256;
constexpr int64_t kDepthBlock = 256;
constexpr int64_t kRowBlock = 4;
constexpr int64_t kRowsPerTask = 64;

// Below this many multiply-adds per thread, starting a thread costs more than it saves.
constexpr double kMinWorkPerThread = 1 << 21;

int max_threads() {
    static const int threads = [] {
        if (const char* text = std::getenv("NEURON_HOST_THREADS")) {
            const int requested = std::atoi(text);
            if (requested >= 1) return std::min(requested, 256);
        }
        const unsigned hardware = std::thread::hardware_concurrency();
        return hardware == 0 ? 1 : static_cast<int>(std::min(hardware, 64u));
    }();
    return threads;
}

// Runs body(first, last) over contiguous ranges of the task indices [0, tasks), on several
// threads when `work` (multiply-adds) is large enough. Each task writes its own outputs.
template <class Body>
void parallel_tasks(int64_t tasks, double work, const Body& body) {
    int64_t threads = std::min<int64_t>(max_threads(), tasks);
    threads = std::min<int64_t>(threads, static_cast<int64_t>(work / kMinWorkPerThread));
    if (threads <= 1) {
        body(int64_t{0}, tasks);
        return;
    }
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(threads - 1));
    auto first_of = [&](int64_t t) { return tasks * t / threads; };
    for (int64_t t = 1; t < threads; ++t) {
        try {
            workers.emplace_back(body, first_of(t), first_of(t + 1));
        } catch (...) {
            body(first_of(t), first_of(t + 1));  // no thread to be had: do it here
        }
    }
    body(first_of(0), first_of(1));
    for (auto& worker : workers) worker.join();
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// y0..y3[c] += a0..a3 · w[c] for c < n: four output rows share each load of w.
inline void axpy4(int64_t n, float a0, float a1, float a2, float a3, const float* __restrict w,
                  float* __restrict y0, float* __restrict y1, float* __restrict y2, float* __restrict y3) {
    for (int64_t c = 0; c < n; ++c) {
        const float wc = w[c];
        y0[c] += a0 * wc;
        y1[c] += a1 * wc;
        y2[c] += a2 * wc;
        y3[c] += a3 * wc;
    }
}

inline void axpy1(int64_t n, float a, const float* __restrict w, float* __restrict y) {
    for (int64_t c = 0; c < n; ++c) y[c] += a * w[c];
}

// Σ a[i]·b[i] with 16 independent partial sums (vectorisable, fixed order) combined pairwise.
inline float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
    float partial[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 16; ++k) partial[k] += a[i + k] * b[i + k];
    }
    for (int k = 0; i < n; ++i, ++k) partial[k] += a[i] * b[i];
    for (int width = 8; width >= 1; width /= 2) {
        for (int k = 0; k < width; ++k) partial[k] += partial[k + width];
    }
    return partial[0];
}

// out[rows x cols] (+)= Σ_k lhs(r, k) · rhs[k x cols] for the tile rows [r0, r1), columns [c0, c1).
// lhs(r, k) = lhs[r * lhs_row + k * lhs_col], so the same kernel serves X·W (lhs = X) and Xᵀ·G (lhs = Xᵀ).
void gemm_tile(const float* lhs, int64_t lhs_row, int64_t lhs_col, const float* rhs, float* out,
               int64_t depth, int64_t cols, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    const int64_t n = c1 - c0;
    for (int64_t k0 = 0; k0 < depth; k0 += kDepthBlock) {
        const int64_t k1 = std::min(depth, k0 + kDepthBlock);
        int64_t r = r0;
        for (; r + kRowBlock <= r1; r += kRowBlock) {
            float* y = out + r * cols + c0;
            const float* a = lhs + r * lhs_row;
            for (int64_t k = k0; k < k1; ++k) {
                const float* ak = a + k * lhs_col;
                axpy4(n, ak[0], ak[lhs_row], ak[2 * lhs_row], ak[3 * lhs_row], rhs + k * cols + c0,
                      y, y + cols, y + 2 * cols, y + 3 * cols);
            }
        }
        for (; r < r1; ++r) {
            float* y = out + r * cols + c0;
            const float* a = lhs + r * lhs_row;
            for (int64_t k = k0; k < k1; ++k) axpy1(n, a[k * lhs_col], rhs + k * cols + c0, y);
        }
    }
}

// out[rows x cols] (+)= lhs · rhs over tasks of kRowsPerTask rows x kColTile columns.
void gemm(const float* lhs, int64_t lhs_row, int64_t lhs_col, const float* rhs, float* out,
          int64_t rows, int64_t depth, int64_t cols) {
    const int64_t row_tasks = ceil_div(rows, kRowsPerTask);
    const int64_t col_tasks = ceil_div(cols, kColTile);
    const double work = static_cast<double>(rows) * static_cast<double>(depth) * static_cast<double>(cols);
    parallel_tasks(row_tasks * col_tasks, work, [&](int64_t first, int64_t last) {
        for (int64_t task = first; task < last; ++task) {
            const int64_t r0 = (task / col_tasks) * kRowsPerTask, c0 = (task % col_tasks) * kColTile;
            gemm_tile(lhs, lhs_row, lhs_col, rhs, out, depth, cols, r0, std::min(rows, r0 + kRowsPerTask), c0,
                      std::min(cols, c0 + kColTile));
        }
    });
}

}  // namespace

void linear_forward(const float* x, const float* w, const float* b, float* y,
                    int64_t batch, int64_t in, int64_t out) {
    for (int64_t r = 0; r < batch; ++r) {
        float* __restrict row = y + r * out;
        if (b != nullptr) {
            std::copy(b, b + out, row);
        } else {
            std::fill(row, row + out, 0.0f);
        }
    }
    gemm(x, in, 1, w, y, batch, in, out);
}

void linear_backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb,
                     int64_t batch, int64_t in, int64_t out, bool accumulate) {
    if (gx != nullptr) {
        // gx[r][i] = Σ_o gy[r][o] · w[i][o]: dot products of contiguous rows. A block of w's rows
        // stays in cache while every row of gy in the task passes over it.
        const int64_t row_tasks = ceil_div(batch, kRowsPerTask);
        const int64_t in_block = std::max<int64_t>(1, (64 * 1024) / std::max<int64_t>(1, out));
        const int64_t in_tasks = ceil_div(in, in_block);
        const double work = static_cast<double>(batch) * static_cast<double>(in) * static_cast<double>(out);
        parallel_tasks(row_tasks * in_tasks, work, [&](int64_t first, int64_t last) {
            for (int64_t task = first; task < last; ++task) {
                const int64_t r0 = (task / in_tasks) * kRowsPerTask, r1 = std::min(batch, r0 + kRowsPerTask);
                const int64_t i0 = (task % in_tasks) * in_block, i1 = std::min(in, i0 + in_block);
                for (int64_t r = r0; r < r1; ++r) {
                    const float* g = gy + r * out;
                    float* dst = gx + r * in;
                    for (int64_t i = i0; i < i1; ++i) {
                        const float value = dot(g, w + i * out, out);
                        dst[i] = accumulate ? dst[i] + value : value;
                    }
                }
            }
        });
    }
    if (gw != nullptr) {
        // gw[i][o] (+)= Σ_r x[r][i] · gy[r][o]: the forward kernel with xᵀ as its left operand.
        if (!accumulate) std::fill(gw, gw + in * out, 0.0f);
        gemm(x, 1, in, gy, gw, in, batch, out);
    }
    if (gb != nullptr) {
        // Column sums in double, rows in order.
        std::vector<double> sums(static_cast<size_t>(out), 0.0);
        double* __restrict s = sums.data();
        for (int64_t r = 0; r < batch; ++r) {
            const float* __restrict g = gy + r * out;
            for (int64_t o = 0; o < out; ++o) s[o] += static_cast<double>(g[o]);
        }
        for (int64_t o = 0; o < out; ++o) {
            gb[o] = accumulate ? static_cast<float>(static_cast<double>(gb[o]) + s[o]) : static_cast<float>(s[o]);
        }
    }
}

float mse(const float* prediction, const float* target, float* grad, int64_t count) {
    const float n = static_cast<float>(count);
    double partial[4] = {};
    int64_t i = 0;
    for (; i + 4 <= count; i += 4) {
        for (int k = 0; k < 4; ++k) {
            const float d = prediction[i + k] - target[i + k];
            if (grad != nullptr) grad[i + k] = d / n;
            partial[k] += static_cast<double>(d) * static_cast<double>(d);
        }
    }
    for (int k = 0; i < count; ++i, ++k) {
        const float d = prediction[i] - target[i];
        if (grad != nullptr) grad[i] = d / n;
        partial[k] += static_cast<double>(d) * static_cast<double>(d);
    }
    const double sum = (partial[0] + partial[1]) + (partial[2] + partial[3]);
    return static_cast<float>(sum / (2.0 * static_cast<double>(count)));
}

void sgd_update(float* __restrict param, const float* __restrict grad, int64_t count, float learning_rate) {
    for (int64_t i = 0; i < count; ++i) param[i] -= learning_rate * grad[i];
}

}  // namespace nrn::host
