// How the tiled SGEMM (gemm_kernels.cuh) divides its work: the two block tiles, the padding of
// its shared-memory rows, and which elements of a block tile each thread computes. Plain C++
// as well, so that native/tests/gemm_tiling_tests.cpp can check on the host that the threads
// cover each tile once and read shared memory without bank conflicts.
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace nrn::cuda {

// Block tiles: 128 x 128 x 8 with 8 x 8 per thread for large products, 64 x 64 x 16 with
// 4 x 4 per thread otherwise; both run 256 threads.
struct LargeTile {
    static constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
};
struct SmallTile {
    static constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4;
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

// Thread tid of a block takes a place (ty, tx) in the grid of BM/TM thread rows by BN/TN = 16
// thread columns (thread_row and thread_col below). Warp w covers thread rows 2w and 2w + 1,
// all 16 columns, in one of two lane orders.
enum class ThreadLanes {
    // (ty, tx) = (2w + lane / 16, lane % 16): each half-warp one thread row.
    HalfWarpRows,
    // (ty, tx) = (2w + lane % 2, lane / 2): lanes n and n ^ 1 read the same B fragment, lanes n
    // and n ^ 2 the same A fragment. For compute capability 7.x, NVIDIA's developer forum
    // describes a warp's float4 read returning in two passes instead of four when all its
    // lanes pair up so; whether sm_90 does the same is for a GPU to say.
    Paired,
};

// The lane order the kernels use. NEURON_CUDA_GEMM_PAIRED_LANES (CMake) builds the other one,
// to time the two against each other on a GPU (scripts/gpu-check.sh does).
#if defined(NRN_GEMM_PAIRED_LANES)
constexpr ThreadLanes kThreadLanes = ThreadLanes::Paired;
#else
constexpr ThreadLanes kThreadLanes = ThreadLanes::HalfWarpRows;
#endif

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

// Thread (ty, tx) computes rows ty·TM + i (i < TM) of the block tile, and TN columns chosen by
// one of these mappings. Both read a thread's columns from shared memory as float4s, which a
// warp's load serves in four passes of 8 consecutive threads; a pass takes as many cycles as
// the most distinct 4-byte words that any one of the 32 banks must deliver (one word read by
// several threads is one).
enum class ThreadColumns {
    // TN/4 groups of 4 consecutive columns, BN/(TN/4) apart: group g starts at
    // g·BN/(TN/4) + 4·tx. The 8 threads of a pass read 32 consecutive floats: each bank once.
    Interleaved,
    // TN consecutive columns from TN·tx. With TN = 8 the threads tx and tx + 4 of a pass read
    // the same banks, so every read of a B fragment takes two cycles a pass instead of one.
    Contiguous,
};

// The mapping the kernels use. NEURON_CUDA_GEMM_CONTIGUOUS_COLUMNS (CMake) builds the other
// one, to time the two against each other on a GPU (scripts/gpu-check.sh does).
#if defined(NRN_GEMM_CONTIGUOUS_COLUMNS)
constexpr ThreadColumns kThreadColumns = ThreadColumns::Contiguous;
#else
constexpr ThreadColumns kThreadColumns = ThreadColumns::Interleaved;
#endif

// Blocks per multiprocessor the GEMM kernels are compiled for (__launch_bounds__). Two cap a
// thread at 128 registers, where the 128 x 128 kernels spill 24-72 bytes to the stack (nvcc
// 11.8, sm_90); one lifts the cap (131-138 registers, no spills) at half the warps per
// multiprocessor. NEURON_CUDA_GEMM_MIN_BLOCKS (CMake) picks; scripts/gpu-check.sh times both.
#if defined(NRN_GEMM_MIN_BLOCKS)
constexpr int kGemmMinBlocks = NRN_GEMM_MIN_BLOCKS;
#else
constexpr int kGemmMinBlocks = 2;
#endif
static_assert(kGemmMinBlocks == 1 || kGemmMinBlocks == 2, "NEURON_CUDA_GEMM_MIN_BLOCKS is 1 or 2");

// Floats from one 4-column group of a thread to its next.
template <int BN, int TN, ThreadColumns C>
NRN_HD constexpr int column_group_stride() {
    static_assert(TN % 4 == 0 && BN % (TN / 4) == 0, "columns go in groups of 4");
    return C == ThreadColumns::Interleaved ? BN / (TN / 4) : 4;
}

// Column of the block tile that holds register column j (j < TN) of thread column tx.
template <int BN, int TN, ThreadColumns C>
NRN_HD constexpr int thread_column(int tx, int j) {
    return (j / 4) * column_group_stride<BN, TN, C>() + tx * (C == ThreadColumns::Interleaved ? 4 : TN) + j % 4;
}

}  // namespace nrn::cuda
