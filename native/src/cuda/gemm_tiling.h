// How the tiled SGEMM (gemm_kernels.cuh) divides its work: the two block tiles, the padding of
// its shared-memory rows, and which elements of a block tile each thread computes. Plain C++
// as well, so that native/tests/gemm_tiling_tests.cpp can check on the host that the threads
// cover each tile once and read shared memory without bank conflicts.
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace nrn::cuda {

// Thread tid of a block takes a place (ty, tx) in the grid of BM/TM thread rows by BN/TN = 16
// thread columns (thread_row and thread_col below). Warp w covers thread rows 2w and 2w + 1,
// all 16 columns, in one of two lane orders.
enum class ThreadLanes {
    // (ty, tx) = (2w + lane / 16, lane % 16): each half-warp one thread row.
    HalfWarpRows,
    // (ty, tx) = (2w + lane % 2, lane / 2): lanes n and n ^ 1 read the same B fragment, lanes n
    // and n ^ 2 the same A fragment. For compute capability 7.x, NVIDIA's developer forum
    // describes a warp's float4 read returning in two passes instead of four when all its
    // lanes pair up so; on the H200 it depends on the tile (below).
    Paired,
};

// Each tile's lane order. On the H200 (nvcc 13.0), paired lanes made the mid case's weight
// gradient (TN on 64 x 64 tiles, split along K) 17% faster than half-warp rows (0.314 against
// 0.378 ms) and the large case's (TN on 128 x 128 tiles) 16% slower (6.921 against 5.974 ms);
// the other four products of those cases, all on 128 x 128 tiles, differed by 2% at most.
// NEURON_CUDA_GEMM_SWAPPED_LANES (CMake) builds each tile with the other order, to time the two
// against each other on a GPU (scripts/gpu-check.sh does).
#if defined(NRN_GEMM_SWAPPED_LANES)
constexpr ThreadLanes kLargeTileLanes = ThreadLanes::Paired;
constexpr ThreadLanes kSmallTileLanes = ThreadLanes::HalfWarpRows;
#else
constexpr ThreadLanes kLargeTileLanes = ThreadLanes::HalfWarpRows;
constexpr ThreadLanes kSmallTileLanes = ThreadLanes::Paired;
#endif

// Block tiles: 128 x 128 x 8 with 8 x 8 per thread for large products, 64 x 64 x 16 with
// 4 x 4 per thread otherwise; both run 256 threads.
struct LargeTile {
    static constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
    static constexpr ThreadLanes Lanes = kLargeTileLanes;
};
struct SmallTile {
    static constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4;
    static constexpr ThreadLanes Lanes = kSmallTileLanes;
};
constexpr int kGemmThreads = 256;
static_assert((LargeTile::BM / LargeTile::TM) * (LargeTile::BN / LargeTile::TN) == kGemmThreads);
static_assert((SmallTile::BM / SmallTile::TM) * (SmallTile::BN / SmallTile::TN) == kGemmThreads);

// Blocks walk a product's tiles along grid x only, m fastest (the order of an m-by-n grid, which
// would bound the column tiles by grid y's 65535): block b computes the tile whose first row is
// (b mod m_tiles)·BM and first column (b div m_tiles)·BN. A product launches m_tiles · n_tiles
// blocks, at most 2^31 - 1 (grid x's limit).
struct TileOrigin {
    int64_t row, col;
};

template <int BM, int BN>
NRN_HD TileOrigin tile_origin(unsigned block, int64_t m) {
    const unsigned m_tiles = static_cast<unsigned>((m + BM - 1) / BM);
    return {static_cast<int64_t>(block % m_tiles) * BM, static_cast<int64_t>(block / m_tiles) * BN};
}

// Floats after each shared-memory row of a staged operand: rows stay 16-byte aligned, and the
// transposing stores of a k-contiguous operand fall on different banks.
constexpr int kGemmSharedPad = 4;

template <int BN, int TN, ThreadLanes L>
NRN_HD constexpr int thread_row(int tid) {
    static_assert(BN / TN == 16, "a warp covers two thread rows of 16 thread columns");
    return L == ThreadLanes::Paired ? 2 * (tid / 32) + tid % 2 : tid / 16;
}

template <int BN, int TN, ThreadLanes L>
NRN_HD constexpr int thread_col(int tid) {
    static_assert(BN / TN == 16, "a warp covers two thread rows of 16 thread columns");
    return L == ThreadLanes::Paired ? tid % 32 / 2 : tid % 16;
}

// Thread (ty, tx) computes rows ty·TM + i (i < TM) of the block tile and TN columns, read from
// shared memory as float4s, which a warp's load serves in four passes of 8 consecutive threads;
// a pass takes as many cycles as the most distinct 4-byte words that any one of the 32 banks must
// deliver (one word read by several threads is one). The columns are TN/4 groups of 4
// consecutive columns, BN/(TN/4) apart: group g starts at g·BN/(TN/4) + 4·tx, so the 8 threads
// of a pass read 32 consecutive floats, each bank once. (TN consecutive columns from TN·tx, the
// mapping this replaced, has threads tx and tx + 4 of a pass read the same banks with TN = 8:
// on the H200 it made each of the benchmark's six products 1-38% slower.)

// Blocks per multiprocessor the GEMM kernels are compiled for (__launch_bounds__): two cap a
// thread at 128 registers. On the H200 (nvcc 13.0) the 128 x 128 kernels fit them without
// spilling, and one block (no cap, half the warps) made each of the benchmark's six products
// 2-56% slower.
constexpr int kGemmMinBlocks = 2;

// Floats from one 4-column group of a thread to its next.
template <int BN, int TN>
NRN_HD constexpr int column_group_stride() {
    static_assert(TN % 4 == 0 && BN % (TN / 4) == 0, "columns go in groups of 4");
    return BN / (TN / 4);
}

// Column of the block tile that holds register column j (j < TN) of thread column tx.
template <int BN, int TN>
NRN_HD constexpr int thread_column(int tx, int j) {
    return (j / 4) * column_group_stride<BN, TN>() + tx * 4 + j % 4;
}

}  // namespace nrn::cuda
