// Matrix products and column sums: kernel selection by shape (plan_gemm) and launches.
#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda_check.h"
#include "gemm_kernels.cuh"
#include "launch.cuh"

namespace nrn::cuda {
namespace {

// Below this many output tiles a product does not fill the GPU (an H200 has 132
// multiprocessors); the planner then prefers small tiles and splits K. The choice depends on
// the shape alone, so results are the same on every device.
constexpr int64_t kFillTiles = 128;
constexpr int64_t kSplitTarget = 256;       // blocks to aim for when splitting K
constexpr int64_t kMinSplitK = 1024;        // least K per split
constexpr int64_t kMaxSplits = 1024;
constexpr int64_t kMaxGridX = 2147483647;  // tiles, one block each, along grid x
constexpr int64_t kMaxGridY = 65535;

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

const char* layout_name(Layout layout) {
    switch (layout) {
        case Layout::NN: return "NN";
        case Layout::NT: return "NT";
        case Layout::TN: return "TN";
    }
    return "?";
}

template <Layout L, class T, bool Vec>
void launch_tile(const GemmPlan& plan, const GemmParams& params, cudaStream_t stream) {
    static const std::string& name = instance_name(
        "gemm_kernel", {layout_name(L), std::to_string(T::BM) + " x " + std::to_string(T::BN), Vec ? "float4" : "float"});
    const int64_t tiles = ceil_div(plan.m, T::BM) * ceil_div(plan.n, T::BN);  // see tile_origin
    const dim3 grid(static_cast<unsigned>(tiles), 1, static_cast<unsigned>(plan.splits));
    launch(name.c_str(), gemm_kernel<L, T::BM, T::BN, T::BK, T::TM, T::TN, T::Lanes, Vec>, grid, kGemmThreads, 0,
           stream, params);
}

template <Layout L>
void launch_layout(const GemmPlan& plan, const GemmParams& params, bool vec, cudaStream_t stream) {
    if (plan.tile == LargeTile::BM) {
        if (vec) launch_tile<L, LargeTile, true>(plan, params, stream);
        else launch_tile<L, LargeTile, false>(plan, params, stream);
    } else {
        if (vec) launch_tile<L, SmallTile, true>(plan, params, stream);
        else launch_tile<L, SmallTile, false>(plan, params, stream);
    }
}

int64_t reduce_blocks(int64_t count) { return std::min<int64_t>(ceil_div(count, 256), 4096); }

}  // namespace

GemmPlan plan_gemm(Layout layout, int64_t m, int64_t n, int64_t k, EpilogueMode mode) {
    GemmPlan plan{};
    plan.layout = layout;
    plan.m = m;
    plan.n = n;
    plan.k = k;
    const int64_t large_tiles = ceil_div(m, LargeTile::BM) * ceil_div(n, LargeTile::BN);
    plan.tile = large_tiles >= kFillTiles ? LargeTile::BM : SmallTile::BM;
    const int bk = plan.tile == LargeTile::BM ? LargeTile::BK : SmallTile::BK;
    const int64_t tiles = ceil_div(m, plan.tile) * ceil_div(n, plan.tile);
    if (tiles > kMaxGridX)
        throw Error(NRN_STATUS_BACKEND_ERROR, "matrix product too large for the CUDA kernels: " + std::to_string(m) +
                                                  " x " + std::to_string(n) + " outputs");

    plan.splits = 1;
    if (mode != EpilogueMode::MseGrad && tiles < kFillTiles && k >= 2 * kMinSplitK) {
        plan.splits = std::min({ceil_div(kSplitTarget, tiles), ceil_div(k, kMinSplitK), kMaxSplits});
    }
    plan.k_chunk = ceil_div(ceil_div(k, plan.splits), bk) * bk;
    plan.splits = ceil_div(k, plan.k_chunk);  // no empty split
    plan.blocks = tiles * plan.splits;
    plan.scratch_floats = plan.splits > 1 ? static_cast<size_t>(plan.splits * m * n) : 0;
    return plan;
}

void run_gemm(const GemmPlan& plan, const float* a, const float* b, float* c, const Epilogue& epilogue,
              float* scratch, cudaStream_t stream) {
    GemmParams params{};
    params.a = a;
    params.b = b;
    params.m = plan.m;
    params.n = plan.n;
    params.k = plan.k;
    params.k_chunk = plan.k_chunk;
    // Dense row-major operands: the leading dimension is the stored row length.
    params.lda = plan.layout == Layout::TN ? plan.m : plan.k;
    params.ldb = plan.layout == Layout::NT ? plan.k : plan.n;
    params.ldc = plan.n;

    // float4 loads need 16-byte aligned bases and row lengths that are multiples of 4 floats;
    // a row length that is a multiple of 4 also makes each group wholly in or out of range.
    const bool vec = aligned16(a) && aligned16(b) && params.lda % 4 == 0 && params.ldb % 4 == 0;

    if (plan.splits > 1) {
        params.c = scratch;
        params.c_split_stride = plan.m * plan.n;
        params.epilogue = Epilogue{};  // Store, no bias: raw partial products
    } else {
        params.c = c;
        params.c_split_stride = 0;
        params.epilogue = epilogue;
    }

    switch (plan.layout) {
        case Layout::NN: launch_layout<Layout::NN>(plan, params, vec, stream); break;
        case Layout::NT: launch_layout<Layout::NT>(plan, params, vec, stream); break;
        case Layout::TN: launch_layout<Layout::TN>(plan, params, vec, stream); break;
    }

    if (plan.splits > 1) {
        const int64_t count = plan.m * plan.n;
        launch("split_reduce_kernel", split_reduce_kernel, static_cast<unsigned>(reduce_blocks(count)), 256, 0, stream,
               scratch, plan.splits, count, plan.n, c, epilogue);
    }
}

// The NT kernel reads B (N x K) along K, the NN kernel B (K x N) along N; on the H200 the 128 x 128
// NT kernel ran 16-17% faster than the NN one on the same shapes (products bench, nvcc 13.0: the
// mid case's 65,536 x 256 x 256 in 0.238 ms against 0.283, the large case's 8,192 x 4,096 x 4,096
// in 6.13 ms against 7.36). Transposing B moves 8·K·N bytes, which at the H200's ~4 TB/s costs
// about 250/M of that saving: a quarter at kTransposeMinRows rows, less with more. Below the
// large tiles nothing was measured, and the NN kernel stays.
namespace {
constexpr int64_t kTransposeMinRows = 1024;
constexpr int kTransposeThreadRows = 8;
}  // namespace

bool nn_faster_through_transpose(const GemmPlan& nn) {
    return nn.layout == Layout::NN && nn.tile == LargeTile::BM && nn.splits == 1 && nn.m >= kTransposeMinRows;
}

void run_gemm_through_transpose(const GemmPlan& nn, const float* a, const float* b, float* c,
                                const Epilogue& epilogue, float* b_t, cudaStream_t stream) {
    const GemmPlan nt = plan_gemm(Layout::NT, nn.m, nn.n, nn.k, epilogue.mode);
    // b_t (N x K) = bᵀ, b being K x N: one block a tile.
    const int64_t tiles = ceil_div(nn.k, kTransposeTile) * ceil_div(nn.n, kTransposeTile);
    if (nt.tile != nn.tile || nt.splits != 1 || nt.blocks != nn.blocks || tiles > kMaxGridX)
        throw Error(NRN_STATUS_INTERNAL_ERROR, "a product through a transposed operand could not be planned");
    const dim3 block(kTransposeTile, kTransposeThreadRows);
    launch("transpose_kernel", transpose_kernel<kTransposeThreadRows>, static_cast<unsigned>(tiles), block, 0, stream,
           b, nn.k, nn.n, b_t);
    run_gemm(nt, a, b_t, c, epilogue, nullptr, stream);
}

namespace {
constexpr int64_t kColumnSumChunkRows = 1024;
constexpr int64_t kColumnSumMaxChunks = 1024;

int64_t column_sum_chunk_rows(int64_t rows) {
    const int64_t chunks = std::min(ceil_div(rows, kColumnSumChunkRows), kColumnSumMaxChunks);
    return ceil_div(rows, chunks);
}
}  // namespace

size_t column_sum_scratch_floats(int64_t rows, int64_t cols) {
    return static_cast<size_t>(ceil_div(rows, column_sum_chunk_rows(rows)) * cols);
}

void launch_column_sum(const float* g, int64_t rows, int64_t cols, float* out, EpilogueMode mode, float scale,
                       float* scratch, cudaStream_t stream) {
    const int64_t chunk_rows = column_sum_chunk_rows(rows);
    const int64_t chunks = ceil_div(rows, chunk_rows);
    const int64_t col_blocks = ceil_div(cols, kColumnSumLanes);
    if (chunks > kMaxGridY)
        throw Error(NRN_STATUS_INTERNAL_ERROR, "column sum: too many row chunks");
    const dim3 grid(static_cast<unsigned>(col_blocks), static_cast<unsigned>(chunks));
    const dim3 block(kColumnSumLanes, kColumnSumRows);
    launch("column_sum_partial_kernel", column_sum_partial_kernel, grid, block, 0, stream, g, rows, cols, chunk_rows,
           scratch);

    Epilogue e{};
    e.mode = mode;
    e.scale = scale;
    launch("split_reduce_kernel", split_reduce_kernel, static_cast<unsigned>(reduce_blocks(cols)), 256, 0, stream,
           scratch, chunks, cols, cols, out, e);
}

}  // namespace nrn::cuda
