// Tests of the GEMM kernels' work division (native/src/cuda/gemm_tiling.h), on the host: the
// threads of a block cover every element of its tile once, their reads of register fragments
// from shared memory are free of bank conflicts, and the paired lane order pairs them. Speed on a GPU is measured by
// neuron_products_bench; these check the access pattern it depends on, on every machine.
#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cuda/gemm_tiling.h"

namespace {

using nrn::cuda::kGemmSharedPad;
using nrn::cuda::kGemmThreads;
using nrn::cuda::LargeTile;
using nrn::cuda::SmallTile;
using nrn::cuda::ThreadLanes;

int failures = 0;

void check(bool condition, const std::string& what) {
    if (!condition) {
        std::printf("FAIL: %s\n", what.c_str());
        ++failures;
    }
}

const char* name(ThreadLanes l) { return l == ThreadLanes::Paired ? "paired lanes" : "half-warp rows"; }

template <class T>
std::string tile_name() {
    return std::to_string(T::BM) + "x" + std::to_string(T::BN) + " tile";
}

// Shared memory as the kernels' float4 reads meet it: 32 banks of one 4-byte word each; a warp's
// 16-byte read is served in 4 passes of 8 consecutive lanes, and a pass takes as many cycles as
// the most distinct words any one bank must deliver (one word read by many lanes is broadcast).
constexpr int kBanks = 32;
constexpr int kLanesPerPass = 8;

// Cycles of the slowest pass of a warp reading float4s at word offsets first_word[lane].
int worst_pass_cycles(const std::array<int, 32>& first_word) {
    int worst = 0;
    for (int pass = 0; pass < 32 / kLanesPerPass; ++pass) {
        std::map<int, std::set<int>> words_of_bank;
        for (int lane = pass * kLanesPerPass; lane < (pass + 1) * kLanesPerPass; ++lane)
            for (int e = 0; e < 4; ++e) {
                const int word = first_word[static_cast<size_t>(lane)] + e;
                words_of_bank[word % kBanks].insert(word);
            }
        for (const auto& [bank, words] : words_of_bank) worst = std::max(worst, static_cast<int>(words.size()));
    }
    return worst;
}

// Thread columns to tile columns: the kernels' mapping (thread_column), and the one it replaced
// (TN consecutive columns from TN·tx), which the bank model must see conflict.
enum class Columns { Kernels, Replaced };

const char* name(Columns c) { return c == Columns::Kernels ? "the kernels'" : "the replaced"; }

template <class T, Columns C>
int column_of(int tx, int j) {
    return C == Columns::Kernels ? nrn::cuda::thread_column<T::BN, T::TN>(tx, j) : tx * T::TN + j;
}

// Word offsets in shared memory at which the lanes of `warp` start their float4 reads of A's
// fragment group g (thread rows) and of B's (thread columns) at k row kk, as gemm_kernel reads.
template <class T, Columns C, ThreadLanes L>
void fragment_words(int warp, int kk, int g, std::array<int, 32>& a_word, std::array<int, 32>& b_word) {
    for (int lane = 0; lane < 32; ++lane) {
        const int tid = warp * 32 + lane;
        const int ty = nrn::cuda::thread_row<T::BN, T::TN, L>(tid), tx = nrn::cuda::thread_col<T::BN, T::TN, L>(tid);
        a_word[static_cast<size_t>(lane)] = kk * (T::BM + kGemmSharedPad) + ty * T::TM + 4 * g;
        b_word[static_cast<size_t>(lane)] = kk * (T::BN + kGemmSharedPad) + column_of<T, C>(tx, 4 * g);
    }
}

// Worst cycles per pass over every warp of a block, k row and 4-wide fragment group, reading A's
// fragment (thread rows) and B's (thread columns) as gemm_kernel does.
template <class T, Columns C, ThreadLanes L = ThreadLanes::HalfWarpRows>
void fragment_read_cycles(int& a_cycles, int& b_cycles) {
    a_cycles = b_cycles = 0;
    for (int warp = 0; warp < kGemmThreads / 32; ++warp)
        for (int kk = 0; kk < T::BK; ++kk)
            for (int g = 0; g < T::TN / 4 || g < T::TM / 4; ++g) {
                std::array<int, 32> a_word{}, b_word{};
                fragment_words<T, C, L>(warp, kk, g, a_word, b_word);
                if (g < T::TM / 4) a_cycles = std::max(a_cycles, worst_pass_cycles(a_word));
                if (g < T::TN / 4) b_cycles = std::max(b_cycles, worst_pass_cycles(b_word));
            }
}

// Every thread of a block has its own place (ty, tx) in the grid of thread rows and columns, and
// warp w covers thread rows 2w and 2w + 1.
template <class T, ThreadLanes L>
void threads_cover_the_grid_once() {
    constexpr int kRows = T::BM / T::TM, kCols = T::BN / T::TN;
    std::vector<int> owners(kRows * kCols, 0);
    for (int tid = 0; tid < kGemmThreads; ++tid) {
        const int ty = nrn::cuda::thread_row<T::BN, T::TN, L>(tid), tx = nrn::cuda::thread_col<T::BN, T::TN, L>(tid);
        const std::string where = tile_name<T>() + ", " + name(L) + ": thread " + std::to_string(tid);
        check(ty >= 0 && ty < kRows && tx >= 0 && tx < kCols, where + " is outside the grid");
        check(ty / 2 == tid / 32, where + " is not in its warp's two thread rows");
        if (ty >= 0 && ty < kRows && tx >= 0 && tx < kCols) ++owners[static_cast<size_t>(ty * kCols + tx)];
    }
    for (int place = 0; place < kRows * kCols; ++place)
        check(owners[static_cast<size_t>(place)] == 1, tile_name<T>() + ", " + name(L) + ": place " +
                                                           std::to_string(place) + " has " +
                                                           std::to_string(owners[static_cast<size_t>(place)]) + " threads");
}

// Whether, in every fragment read of every warp, lane n reads where lane n ^ distance does.
template <class T, ThreadLanes L>
void lanes_pair_up(int distance, bool& a_paired, bool& b_paired) {
    a_paired = b_paired = true;
    for (int warp = 0; warp < kGemmThreads / 32; ++warp)
        for (int kk = 0; kk < T::BK; ++kk)
            for (int g = 0; g < T::TN / 4 || g < T::TM / 4; ++g) {
                std::array<int, 32> a_word{}, b_word{};
                fragment_words<T, Columns::Kernels, L>(warp, kk, g, a_word, b_word);
                for (size_t lane = 0; lane < 32; ++lane) {
                    const size_t partner = lane ^ static_cast<size_t>(distance);
                    if (g < T::TM / 4 && a_word[lane] != a_word[partner]) a_paired = false;
                    if (g < T::TN / 4 && b_word[lane] != b_word[partner]) b_paired = false;
                }
            }
}

template <class T, Columns C>
void threads_cover_each_column_once() {
    constexpr int kThreadCols = T::BN / T::TN;
    std::vector<int> owners(T::BN, 0);
    for (int tx = 0; tx < kThreadCols; ++tx)
        for (int j = 0; j < T::TN; ++j) {
            const int col = column_of<T, C>(tx, j);
            check(col >= 0 && col < T::BN, tile_name<T>() + ", " + name(C) + ": column " + std::to_string(col) +
                                               " of thread column " + std::to_string(tx) + " is outside the tile");
            if (col >= 0 && col < T::BN) ++owners[static_cast<size_t>(col)];
            // The epilogue stops at the first column past the matrix: columns must increase with j.
            if (j > 0)
                check(col > column_of<T, C>(tx, j - 1),
                      tile_name<T>() + ", " + name(C) + ": columns of thread column " + std::to_string(tx) +
                          " do not increase");
            // Each group of 4 is one aligned float4 in shared memory.
            if (j % 4 == 0) check(col % 4 == 0, tile_name<T>() + ", " + name(C) + ": a group starts unaligned");
        }
    for (int col = 0; col < T::BN; ++col)
        check(owners[static_cast<size_t>(col)] == 1, tile_name<T>() + ", " + name(C) + ": column " +
                                                         std::to_string(col) + " belongs to " +
                                                         std::to_string(owners[static_cast<size_t>(col)]) + " threads");
}

void each_thread_has_its_own_place() {
    threads_cover_the_grid_once<LargeTile, ThreadLanes::HalfWarpRows>();
    threads_cover_the_grid_once<SmallTile, ThreadLanes::HalfWarpRows>();
    threads_cover_the_grid_once<LargeTile, ThreadLanes::Paired>();
    threads_cover_the_grid_once<SmallTile, ThreadLanes::Paired>();
}

void each_tile_column_belongs_to_one_thread() {
    threads_cover_each_column_once<LargeTile, Columns::Kernels>();
    threads_cover_each_column_once<SmallTile, Columns::Kernels>();
}

template <class T, Columns C, ThreadLanes L = ThreadLanes::HalfWarpRows>
void expect_fragment_cycles(int expected_a, int expected_b) {
    int a = 0, b = 0;
    fragment_read_cycles<T, C, L>(a, b);
    std::printf("%s, %s columns, %s: A fragment %d, B fragment %d cycle(s) per pass\n", tile_name<T>().c_str(),
                name(C), name(L), a, b);
    check(a == expected_a, tile_name<T>() + ", " + name(C) + ": A fragment reads take " + std::to_string(a) +
                               " cycles per pass, expected " + std::to_string(expected_a));
    check(b == expected_b, tile_name<T>() + ", " + name(C) + ": B fragment reads take " + std::to_string(b) +
                               " cycles per pass, expected " + std::to_string(expected_b));
}

void fragment_reads_have_no_bank_conflicts() {
    // The kernels' mapping: one cycle per pass for both operands.
    expect_fragment_cycles<LargeTile, Columns::Kernels>(1, 1);
    expect_fragment_cycles<SmallTile, Columns::Kernels>(1, 1);
    // The mapping it replaced, to show that the model sees the conflict it had.
    expect_fragment_cycles<LargeTile, Columns::Replaced>(1, 2);
    // The paired lane order reads the same words in other lanes: no conflicts either.
    expect_fragment_cycles<LargeTile, Columns::Kernels, ThreadLanes::Paired>(1, 1);
    expect_fragment_cycles<SmallTile, Columns::Kernels, ThreadLanes::Paired>(1, 1);
}

template <class T, ThreadLanes L>
void expect_pairs(int distance, bool expected_a, bool expected_b) {
    bool a = false, b = false;
    lanes_pair_up<T, L>(distance, a, b);
    const std::string what = tile_name<T>() + ", " + name(L) + ": lanes n and n ^ " + std::to_string(distance);
    check(a == expected_a, what + (expected_a ? " do not" : " do") + " read the same A fragment");
    check(b == expected_b, what + (expected_b ? " do not" : " do") + " read the same B fragment");
}

void paired_lanes_read_the_same_fragments() {
    for (int distance : {1, 2}) {
        // Paired: B's reads pair lanes n and n ^ 1, A's lanes n and n ^ 2.
        expect_pairs<LargeTile, ThreadLanes::Paired>(distance, distance == 2, distance == 1);
        expect_pairs<SmallTile, ThreadLanes::Paired>(distance, distance == 2, distance == 1);
        // Half-warp rows pair A's reads at both distances (a half-warp reads one A fragment),
        // B's at neither.
        expect_pairs<LargeTile, ThreadLanes::HalfWarpRows>(distance, true, false);
    }
}

// The blocks of a product along grid x (tile_origin): each tile of the m x n output once, m
// fastest, for shapes whose column tiles pass grid y's 65535 as well as ordinary ones.
template <class T>
void expect_tiles_covered(int64_t m, int64_t n) {
    const int64_t m_tiles = (m + T::BM - 1) / T::BM, n_tiles = (n + T::BN - 1) / T::BN;
    const std::string what = tile_name<T>() + ", " + std::to_string(m) + " x " + std::to_string(n);
    std::set<std::pair<int64_t, int64_t>> seen;
    bool inside = true, m_fastest = true;
    for (int64_t b = 0; b < m_tiles * n_tiles; ++b) {
        const auto origin = nrn::cuda::tile_origin<T::BM, T::BN>(static_cast<unsigned>(b), m);
        inside = inside && origin.row >= 0 && origin.row < m && origin.col >= 0 && origin.col < n &&
                 origin.row % T::BM == 0 && origin.col % T::BN == 0;
        m_fastest = m_fastest && origin.row == b % m_tiles * T::BM;
        seen.insert({origin.row, origin.col});
    }
    check(inside, what + ": a block's tile lies outside the product");
    check(m_fastest, what + ": consecutive blocks do not walk the rows first");
    check(static_cast<int64_t>(seen.size()) == m_tiles * n_tiles, what + ": a tile is computed twice or never");
}

void blocks_cover_each_tile_once_along_grid_x() {
    const int64_t wide = int64_t{65535} * 128 + 1;  // 65,536 column tiles of 128
    expect_tiles_covered<LargeTile>(2, wide);
    expect_tiles_covered<LargeTile>(wide, 2);
    expect_tiles_covered<LargeTile>(300, 70000 * 128);
    expect_tiles_covered<LargeTile>(1537, 1535);
    expect_tiles_covered<LargeTile>(256, 1024);  // whole tiles only
    expect_tiles_covered<SmallTile>(1, 1);
    expect_tiles_covered<SmallTile>(65, 127);
    // The largest block index a launch can have, on a product just under it.
    const int64_t rows = 1 << 16;
    const auto last = nrn::cuda::tile_origin<LargeTile::BM, LargeTile::BN>(0x7fffffffu, rows * LargeTile::BM);
    check(last.row == (0x7fffffffLL % rows) * LargeTile::BM && last.col == (0x7fffffffLL / rows) * LargeTile::BN,
          "block 2^31 - 1 starts where it should");
}

}  // namespace

int main(int argc, char** argv) {
    const std::string test = argc > 1 ? argv[1] : "";
    if (test == "each_thread_has_its_own_place") each_thread_has_its_own_place();
    else if (test == "each_tile_column_belongs_to_one_thread") each_tile_column_belongs_to_one_thread();
    else if (test == "paired_lanes_read_the_same_fragments") paired_lanes_read_the_same_fragments();
    else if (test == "fragment_reads_have_no_bank_conflicts") fragment_reads_have_no_bank_conflicts();
    else if (test == "blocks_cover_each_tile_once_along_grid_x") blocks_cover_each_tile_once_along_grid_x();
    else {
        std::printf("unknown test '%s'\n", test.c_str());
        return 2;
    }
    std::printf("%s: %s\n", test.c_str(), failures == 0 ? "passed" : "FAILED");
    return failures == 0 ? 0 : 1;
}
