// The tiled SGEMM kernel family and its helpers (launched from gemm.cu).
//
// One block computes a BM x BN tile of C with (BM/TM)·(BN/TN) threads, each holding a
// TM x TN register tile. K is walked in steps of BK through two shared-memory buffers:
// while the block multiplies one buffer, each thread has already loaded the next K step
// into registers and stores it to the other buffer afterwards, so one barrier per step
// suffices. Both operands are staged k-major (s[k][x]) whatever their layout in memory.
#pragma once

#include <cstdint>

#include "device_utils.cuh"
#include "gemm_tiling.h"
#include "kernels.h"

namespace nrn::cuda {

struct GemmParams {
    const float* a;
    const float* b;
    float* c;
    int64_t m, n, k;
    int64_t lda, ldb, ldc;
    int64_t k_chunk;        // blockIdx.z covers K range [z·k_chunk, min(k, (z+1)·k_chunk))
    int64_t c_split_stride; // blockIdx.z writes to c + z·c_split_stride (0 without split-K)
    Epilogue epilogue;
};

// The device pointers of GemmParams (the CUDA emulator checks them at launches).
template <class F>
void device_pointers(const GemmParams& p, F&& visit) {
    visit("a", p.a);
    visit("b", p.b);
    visit("c", p.c);
    device_pointers(p.epilogue, visit);
}

// Stages a BX x BK tile of one operand through registers. Element (x, k) of the operand is
// base[x·ld + k] when ContigK (contiguous along k), else base[k·ld + x]. Each thread moves
// groups of 4 elements that are consecutive along the contiguous dimension. With Vec the
// group is one aligned float4 load, which the caller allows only when the contiguous extent,
// ld and base are multiples of 4 floats, so a group is either wholly inside or wholly outside.
template <int BX, int BK, int THREADS, bool ContigK, bool Vec>
struct TileLoader {
    static constexpr int kGroups = BX * BK / 4;
    static_assert(kGroups % THREADS == 0, "tile must split evenly into float4 groups per thread");
    static constexpr int kPerThread = kGroups / THREADS;
    static constexpr int kGroupsPerLine = ContigK ? BK / 4 : BX / 4;

    float v[kPerThread][4];

    // Tile coordinates (x, k) of the first element of group `g`.
    __device__ __forceinline__ static void group_origin(int g, int& x, int& k) {
        if (ContigK) {
            x = g / kGroupsPerLine;
            k = (g % kGroupsPerLine) * 4;
        } else {
            k = g / kGroupsPerLine;
            x = (g % kGroupsPerLine) * 4;
        }
    }

    __device__ __forceinline__ void load(const float* base, int64_t ld, int64_t x0, int64_t x_end, int64_t k0,
                                         int64_t k_end, int tid) {
#pragma unroll
        for (int r = 0; r < kPerThread; ++r) {
            int x, k;
            group_origin(tid + r * THREADS, x, k);
            const int64_t gx = x0 + x, gk = k0 + k;
            if (Vec) {
                float4 q = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                if (gx < x_end && gk < k_end)
                    q = *reinterpret_cast<const float4*>(base + (ContigK ? gx * ld + gk : gk * ld + gx));
                v[r][0] = q.x;
                v[r][1] = q.y;
                v[r][2] = q.z;
                v[r][3] = q.w;
            } else {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int64_t ex = ContigK ? gx : gx + e;
                    const int64_t ek = ContigK ? gk + e : gk;
                    v[r][e] = (ex < x_end && ek < k_end) ? base[ContigK ? ex * ld + ek : ek * ld + ex] : 0.0f;
                }
            }
        }
    }

    template <int LDS>
    __device__ __forceinline__ void store(float (*s)[LDS], int tid) const {
#pragma unroll
        for (int r = 0; r < kPerThread; ++r) {
            int x, k;
            group_origin(tid + r * THREADS, x, k);
            if (ContigK) {
#pragma unroll
                for (int e = 0; e < 4; ++e) s[k + e][x] = v[r][e];
            } else {
                *reinterpret_cast<float4*>(&s[k][x]) = make_float4(v[r][0], v[r][1], v[r][2], v[r][3]);
            }
        }
    }
};

// r[4g..4g+4) = s[g·Stride..g·Stride+4) for g < N/4, read from shared memory as float4s
// (s 16-byte aligned; N and Stride multiples of 4).
template <int Stride, int N>
__device__ __forceinline__ void load_fragment(float (&r)[N], const float* s) {
#pragma unroll
    for (int i = 0; i < N; i += 4) {
        const float4 q = *reinterpret_cast<const float4*>(s + i / 4 * Stride);
        r[i] = q.x;
        r[i + 1] = q.y;
        r[i + 2] = q.z;
        r[i + 3] = q.w;
    }
}

// Writes one product element v to c[idx] as the epilogue's mode says: Store (plus the bias),
// Add, Sgd (c -= scale·v) or MseGrad (c = (v + bias − target)/scale, adding the squared
// difference to `squares`). column() gives idx's column; it is called only to read the bias.
template <class Column>
__device__ __forceinline__ void apply_epilogue(const Epilogue& e, float* c, int64_t idx, Column column, float v,
                                               float& squares) {
    switch (e.mode) {
        case EpilogueMode::Store:
            if (e.bias) v += e.bias[column()];
            c[idx] = v;
            break;
        case EpilogueMode::Add:
            c[idx] += v;
            break;
        case EpilogueMode::Sgd:
            c[idx] -= e.scale * v;
            break;
        case EpilogueMode::MseGrad: {
            if (e.bias) v += e.bias[column()];
            const float d = v - e.target[idx];
            c[idx] = d / e.scale;
            squares += d * d;
            break;
        }
    }
}

template <Layout L, int BM, int BN, int BK, int TM, int TN, ThreadLanes Lanes, bool Vec>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), kGemmMinBlocks) gemm_kernel(GemmParams p) {
    constexpr int kThreads = (BM / TM) * (BN / TN);
    constexpr int kPad = kGemmSharedPad;
    constexpr bool kTransA = L == Layout::TN;
    constexpr bool kTransB = L == Layout::NT;
    static_assert(TM % 4 == 0 && TN % 4 == 0, "register tiles are read as float4");

    __shared__ __align__(16) float as[2][BK][BM + kPad];
    __shared__ __align__(16) float bs[2][BK][BN + kPad];
    __shared__ float reduce_scratch[kThreads / 32];

    const int tid = static_cast<int>(threadIdx.x);
    const int tx = thread_col<BN, TN, Lanes>(tid);
    const int ty = thread_row<BN, TN, Lanes>(tid);
    const TileOrigin origin = tile_origin<BM, BN>(blockIdx.x, p.m);
    const int64_t m0 = origin.row, n0 = origin.col;
    const int64_t k_begin = static_cast<int64_t>(blockIdx.z) * p.k_chunk;
    const int64_t k_end = p.k < k_begin + p.k_chunk ? p.k : k_begin + p.k_chunk;

    TileLoader<BM, BK, kThreads, !kTransA, Vec> load_a;
    TileLoader<BN, BK, kThreads, kTransB, Vec> load_b;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

    if (k_begin < k_end) {
        load_a.load(p.a, p.lda, m0, p.m, k_begin, k_end, tid);
        load_b.load(p.b, p.ldb, n0, p.n, k_begin, k_end, tid);
        load_a.store(as[0], tid);
        load_b.store(bs[0], tid);
    }
    __syncthreads();

    int buffer = 0;
    for (int64_t k0 = k_begin; k0 < k_end; k0 += BK) {
        const bool has_next = k0 + BK < k_end;
        if (has_next) {
            load_a.load(p.a, p.lda, m0, p.m, k0 + BK, k_end, tid);
            load_b.load(p.b, p.ldb, n0, p.n, k0 + BK, k_end, tid);
        }
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float ra[TM], rb[TN];
            load_fragment<4>(ra, &as[buffer][kk][ty * TM]);
            load_fragment<column_group_stride<BN, TN>()>(
                rb, &bs[buffer][kk][thread_column<BN, TN>(tx, 0)]);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
        }
        // The other buffer was last read in the previous step, which the barrier below (of
        // that step) separates from these stores.
        if (has_next) {
            load_a.store(as[buffer ^ 1], tid);
            load_b.store(bs[buffer ^ 1], tid);
        }
        __syncthreads();
        buffer ^= 1;
    }

    // Epilogue.
    const Epilogue& e = p.epilogue;
    float* c = p.c + static_cast<int64_t>(blockIdx.z) * p.c_split_stride;
    float squares = 0.0f;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int64_t row = m0 + ty * TM + i;
        if (row >= p.m) break;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int64_t col = n0 + thread_column<BN, TN>(tx, j);
            if (col >= p.n) break;
            apply_epilogue(e, c, row * p.ldc + col, [col] { return col; }, acc[i][j], squares);
        }
    }
    if (e.mode == EpilogueMode::MseGrad) {
        const float total = block_sum(squares, reduce_scratch);
        if (tid == 0) e.partials[blockIdx.x] = total;
    }
}

// C (op)= Σ_s partials[s·count + idx] for idx < count = rows·cols (C dense, row length cols),
// summed in split order; op is the epilogue mode (Store with optional bias, Add or Sgd).
__global__ void __launch_bounds__(256) split_reduce_kernel(const float* partials, int64_t splits, int64_t count,
                                                           int64_t cols, float* c, Epilogue e) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < count; idx += stride) {
        float v = 0.0f;
        for (int64_t s = 0; s < splits; ++s) v += partials[s * count + idx];
        if (e.mode == EpilogueMode::MseGrad) continue;  // never split: rejected by plan_gemm
        float unused = 0.0f;
        apply_epilogue(e, c, idx, [idx, cols] { return idx % cols; }, v, unused);
    }
}

// out (cols x rows) = inᵀ for a dense row-major rows x cols matrix, in kTransposeTile-square
// tiles staged through shared memory (a padded row keeps a warp's column reads on 32 banks), so
// that a warp reads and writes 32 consecutive floats. One block a tile, along grid x, row tiles
// slowest; ROWS rows of threads move it.
constexpr int kTransposeTile = 32;

template <int ROWS>
__global__ void __launch_bounds__(kTransposeTile * ROWS)
    transpose_kernel(const float* in, int64_t rows, int64_t cols, float* out) {
    __shared__ float tile[kTransposeTile][kTransposeTile + 1];
    const int lane = static_cast<int>(threadIdx.x);
    const int row_lane = static_cast<int>(threadIdx.y);
    const int64_t col_tiles = ceil_div(cols, kTransposeTile);
    const int64_t r0 = blockIdx.x / col_tiles * kTransposeTile, c0 = blockIdx.x % col_tiles * kTransposeTile;
    for (int i = row_lane; i < kTransposeTile; i += ROWS) {
        const int64_t r = r0 + i, c = c0 + lane;
        if (r < rows && c < cols) tile[i][lane] = in[r * cols + c];
    }
    __syncthreads();
    for (int i = row_lane; i < kTransposeTile; i += ROWS) {
        const int64_t c = c0 + i, r = r0 + lane;  // out's row c, column r
        if (c < cols && r < rows) out[c * rows + r] = tile[lane][i];
    }
}

// Column sums, first pass: blockIdx.y takes rows [y·rows_per_chunk, ...) and a 32-column slice;
// partials[y·cols + col] = the chunk's sum, combined over the 8 row lanes in a fixed tree order.
constexpr int kColumnSumLanes = 32;
constexpr int kColumnSumRows = 8;

__global__ void __launch_bounds__(kColumnSumLanes * kColumnSumRows)
    column_sum_partial_kernel(const float* g, int64_t rows, int64_t cols, int64_t rows_per_chunk, float* partials) {
    __shared__ float sums[kColumnSumRows][kColumnSumLanes];
    const int lane = static_cast<int>(threadIdx.x);
    const int row_lane = static_cast<int>(threadIdx.y);
    const int64_t col = static_cast<int64_t>(blockIdx.x) * kColumnSumLanes + lane;
    const int64_t row_begin = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
    const int64_t row_end = rows < row_begin + rows_per_chunk ? rows : row_begin + rows_per_chunk;
    float s = 0.0f;
    if (col < cols)
        for (int64_t r = row_begin + row_lane; r < row_end; r += kColumnSumRows) s += g[r * cols + col];
    sums[row_lane][lane] = s;
    __syncthreads();
    for (int stride = kColumnSumRows / 2; stride > 0; stride >>= 1) {
        if (row_lane < stride) sums[row_lane][lane] += sums[row_lane + stride][lane];
        __syncthreads();
    }
    if (row_lane == 0 && col < cols) partials[static_cast<int64_t>(blockIdx.y) * cols + col] = sums[0][lane];
}

}  // namespace nrn::cuda
