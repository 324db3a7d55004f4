#include "host/host_kernels.h"

#include "host/thread_pool.h"
#include "thread_object.h"

#include <emmintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "accumulator.h"
#include "backend.h"
#include "random.h"

namespace nrn::host {
namespace {

// Tasks: each thread computes whole output tiles of kRowsPerTask x kColTile floats.
constexpr int64_t kColTile = 256;
constexpr int64_t kRowsPerTask = 64;
// The depth is taken kDepthBlock at a time so that a packed panel of the right-hand
// matrix (kDepthBlock x at most 32 floats, 16 KiB) stays in L1 and the packed rows of the
// left-hand matrix (kRowsPerTask x kDepthBlock, 32 KiB) in L2.
constexpr int64_t kDepthBlock = 128;
// Products with fewer columns than this bypass the micro-kernel (whose panels are 8 columns wide
// on baseline x86-64, 8 or 16 with AVX2, 16 or 32 with AVX-512: ProductKernels).
constexpr int64_t kMinKernelCols = 8;

// Below this much work per thread (in the micro-kernel's multiply-adds: product_work, below),
// handing work to a pool thread costs more than it saves. A worker starts ~2 µs after the caller
// publishes a part while it still spins from the last job (thread_pool.cpp), ~30 µs once it
// sleeps, and what it writes is then read from its core's cache by the next operation if that
// one runs on the caller alone. On a 2-core VM (~95 of the micro-kernel's multiply-adds per ns on
// one core, ~44 µs for this bound), a quarter of this bound made training steps of small layers
// 16 to 32% slower (neuron_steps_bench: 128 → 128 over 256 rows, 256 → 256 over 64, 64 → 128
// over 256), though the forward of the first, alone, ran faster (45 → 26 µs): the error's pass
// after it took 21 µs instead of 4.
constexpr double kMinWorkPerThread = 1 << 22;

// How many threads share `tasks` tasks of `work` in all.
int64_t task_threads(int64_t tasks, double work) {
    return work < 2 * kMinWorkPerThread || tasks < 2
               ? 1
               : std::min<int64_t>({max_threads(), tasks, static_cast<int64_t>(work / kMinWorkPerThread)});
}

// How many threads share the `parts` parts of a pass over `terms` floats that does little with
// each (the squared error's, a 1 → 1 layer's forward and gradients, the bias sums): at least
// kMinPassTermsPerThread terms each, however many parts the shape splits it into. Such a pass
// over data in one core's cache gains little from a second core, and what it writes there the
// next operation then reads from that core's cache: on a 2-core VM, a 1 → 4 layer's training
// step over 65,536 rows (262,144 squared errors in 4 parts) took 388 µs with the parts on 2
// threads and 218 µs on one. At least 2^16 (every part on its own thread, as before), 2^18,
// 2^19, 2^20 and 2^21 terms per thread gave, in µs per step (neuron_steps_bench, min of 3 runs):
// 1 → 4 over 65,536 rows 388, 218, 214, 220, 228; 1 → 64 over 16,384 508, 481, 535, 869, 891;
// 16 → 16 over 65,536 761, 743, 758, 1393, 1381. A pass that neither writes for the next
// operation nor reads what the last one wrote (a 1 → 1 layer's fused step) takes a thread per
// part instead (Spread::PerPart): with this bound, such a step over 262,144 rows took 43 µs
// against 21.
constexpr int64_t kMinPassTermsPerThread = 1 << 18;
int64_t pass_threads(int64_t parts, int64_t terms) {
    return std::max<int64_t>(1, std::min<int64_t>({parts, max_threads(), terms / kMinPassTermsPerThread}));
}

// Runs body(first, last, part) over `threads` contiguous ranges of the task indices [0, tasks),
// one part per range, on several threads. Each task writes its own outputs. The body must not
// throw: a part may run on a pool thread.
template <class Body>
void parallel_tasks(int64_t tasks, int64_t threads, const Body& body) {
    if (threads <= 1) {
        body(int64_t{0}, tasks, 0);
        return;
    }
    struct Split {
        const Body* body;
        int64_t tasks, parts;
    } split{&body, tasks, threads};
    run_parts(static_cast<int>(threads), [](void* context, int part) {
        const Split& s = *static_cast<const Split*>(context);
        (*s.body)(s.tasks * part / s.parts, s.tasks * (part + 1) / s.parts, part);
    }, &split);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------------
// Matrix product
//
// out = start + lhs · rhs, where lhs(r, k) = lhs[r·lhs_row + k·lhs_col] and
// rhs(k, c) = rhs[k·rhs_row + c·rhs_col]: the strides let one kernel serve X·W, Xᵀ·G and G·Wᵀ;
// start is out itself (a gradient accumulated), zero or the bias (Start, below).
//
// Every output element is computed as ((start + a₀b₀) + a₁b₁) + … in increasing k, one rounded
// multiply and one rounded add per term (the build turns off FMA contraction). Blocking,
// threads and the instruction set only change which elements are computed together, never
// that sequence, so every code path below gives bit-identical results.
//
// The one exception is a product of few output tiles over a long depth (as the weight gradient
// Xᵀ·G of a layer with few inputs over a large batch: its rows are the inputs, its depth the
// batch), which would otherwise run on one or two threads. Its depth is split into parts
// (split_product, below), and an element is (((start + part 0's terms) + S₁) + S₂) + …, where
// part 0's terms are added as above and S_p sums part p's terms from zero the same way. How many
// parts, and where they start, follows from the product's shape alone, never from the number of
// threads.
// ---------------------------------------------------------------------------------------

// Where an output element's sum starts: its value in `out` (an accumulating product), zero, or
// element c of a row (the bias, the same for every row). Starting from zero or the row gives the
// bits that filling `out` with them first would, without a pass over `out` before the product.
enum class Start { Out, Zero, Row };

struct Gemm {
    const float* lhs;
    int64_t lhs_row, lhs_col;
    const float* rhs;
    int64_t rhs_row, rhs_col;
    float* out;
    int64_t rows, depth, cols;
    int64_t col_tasks;  // tasks are numbered row-major over (row tile, column tile)
    Start start;
    const float* start_row;  // Start::Row: cols floats
};

#define NRN_INLINE inline __attribute__((always_inline))

// The micro-kernel keeps an MR x NR block of the output in registers (MR·NV vectors of
// Width floats) across kDepthBlock terms: per k it loads NV vectors of the packed right-hand
// panel, broadcasts MR left-hand values and does MR·NV multiplies and adds, with no memory
// traffic for the output. The accumulators stay in registers only if
//  - every loop over them has constant bounds and is fully unrolled (then each acc[i][v] is
//    a scalar SSA value),
//  - MR·NV + NV + 1 vectors fit the register file of the instruction set in use, so Width,
//    MR and NV are chosen per instruction set (a 64-byte vector compiled for SSE2 would be
//    four registers, and the block would live on the stack), and
//  - no vector crosses a call: everything is always_inline into the function compiled for
//    that instruction set, and vectors are passed by reference (a by-value 32/64-byte vector
//    in a baseline x86-64 function goes through memory, and changes the ABI).
template <int Width>
struct Simd {
    typedef float Vector __attribute__((vector_size(Width * sizeof(float))));
    static NRN_INLINE void load(Vector& v, const float* p) { __builtin_memcpy(&v, p, sizeof(Vector)); }
    static NRN_INLINE void store(float* p, const Vector& v) { __builtin_memcpy(p, &v, sizeof(Vector)); }
};

// Exchanges, between rows lo and hi of a Width x Width block held in vectors, the elements
// of lo whose index has bit B set with those of hi whose index has it clear: one level of a
// transpose by quadrants. (__builtin_shufflevector: GCC 12 and clang; __builtin_shuffle
// before.)
template <int Width, int B, class V, int... P>
NRN_INLINE void exchange_half_blocks(V& lo, V& hi, std::integer_sequence<int, P...>) {
    const V a = lo, b = hi;
#if defined(__clang__) || __GNUC__ >= 12
    lo = __builtin_shufflevector(a, b, ((P & B) == 0 ? P : Width + P - B)...);
    hi = __builtin_shufflevector(a, b, ((P & B) == 0 ? P + B : Width + P)...);
#else
    typedef int Mask __attribute__((vector_size(Width * sizeof(int))));
    lo = __builtin_shuffle(a, b, Mask{((P & B) == 0 ? P : Width + P - B)...});
    hi = __builtin_shuffle(a, b, Mask{((P & B) == 0 ? P + B : Width + P)...});
#endif
}

// Transposes the Width x Width block r[row][column] in registers: swap the off-diagonal
// quadrants, then do the same within every quadrant, down to single elements.
template <int Width, int B = Width / 2, class V>
NRN_INLINE void transpose_block(V (&r)[Width]) {
    if constexpr (B >= 1) {
#pragma GCC unroll 16
        for (int i = 0; i < Width; ++i) {
            if ((i & B) == 0) exchange_half_blocks<Width, B>(r[i], r[i + B], std::make_integer_sequence<int, Width>());
        }
        transpose_block<Width, B / 2>(r);
    }
}

constexpr int power_of_two_at_least(int n) { return n <= 1 ? 1 : 2 * power_of_two_at_least((n + 1) / 2); }

// dst[k·stride + i] = src[i·ld + k] for k < kc and i < R: R rows of an operand contiguous along
// k, stored k-major. Element by element this costs a load and a store per element (for the
// left-hand strips of X·W, a tenth of the product's time), so W x W blocks (W a power of two,
// R ≤ W; rows past R are zeros) are transposed in registers.
template <int W, int R = W>
NRN_INLINE void transpose_rows(float* __restrict dst, int64_t stride, const float* __restrict src, int64_t ld,
                               int64_t kc) {
    static_assert((W & (W - 1)) == 0 && R <= W, "W x W blocks of R rows");
    using S = Simd<W>;
    using V = typename S::Vector;
    int64_t k = 0;
    for (; k + W <= kc; k += W) {
        V r[W] = {};
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i) S::load(r[i], src + i * ld + k);
        transpose_block<W>(r);
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i) __builtin_memcpy(dst + (k + i) * stride, &r[i], sizeof(float) * R);
    }
    for (; k < kc; ++k) {
        for (int i = 0; i < R; ++i) dst[k * stride + i] = src[i * ld + k];
    }
}

// Packs b[k][j] = src[k + j·ld] (k < kc, j < NR; zero for j >= nc): a right-hand panel whose
// operand is contiguous along k (Wᵀ in G·Wᵀ).
template <int Width, int NV>
NRN_INLINE void pack_transposed_panel(float* __restrict b, const float* __restrict src, int64_t ld, int64_t kc,
                                      int64_t nc) {
    constexpr int NR = Width * NV;
    if (nc == NR) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) transpose_rows<Width>(b + v * Width, NR, src + v * Width * ld, ld, kc);
        return;
    }
    for (int64_t j = 0; j < NR; ++j) {
        for (int64_t i = 0; i < kc; ++i) b[i * NR + j] = j < nc ? src[j * ld + i] : 0.0f;
    }
}

// dst[0, n) = src[0, n) for n ≤ 32 (the part inside the matrix of an edge block's row, or of a
// packed panel's or strip's row): at most two copies of a constant size (4, 8 or 16 floats),
// overlapping where n is none of them, in place of a call to memmove. A product of 10 columns makes such calls for every row of
// every block. neuron_products_bench, 65,536 x 10 → 10, best of five, before and after: X·W 0.58
// → 0.48 ms, Xᵀ·G 0.88 → 0.41 ms.
NRN_INLINE void copy_short_row(float* __restrict dst, const float* __restrict src, int64_t n) {
    const auto copy_twice = [&](auto size) {  // size floats at 0 and at n − size, size ≤ n ≤ 2·size
        constexpr int64_t kSize = decltype(size)::value;
        __builtin_memcpy(dst, src, sizeof(float) * kSize);
        __builtin_memcpy(dst + n - kSize, src + n - kSize, sizeof(float) * kSize);
    };
    if (n >= 16) {
        copy_twice(std::integral_constant<int64_t, 16>());
    } else if (n >= 8) {
        copy_twice(std::integral_constant<int64_t, 8>());
    } else if (n >= 4) {
        copy_twice(std::integral_constant<int64_t, 4>());
    } else {
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    }
}

// acc[MR][NR] (in registers) starts from `from` (row stride ld_from: c's own values, or with
// stride 0 one row for all), adds a·b over kc terms and is stored to c (row stride ldc).
// a: MR floats per k (packed); b: NR floats per k (packed).
template <int Width, int MR, int NV>
NRN_INLINE void micro_kernel(const float* __restrict a, const float* __restrict b, int64_t kc, const float* from,
                             int64_t ld_from, float* c, int64_t ldc) {
    using S = Simd<Width>;
    using V = typename S::Vector;
    constexpr int NR = Width * NV;
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) S::load(acc[i][v], from + i * ld_from + v * Width);
    }
    for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
        V bk[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) S::load(bk[v], b + v * Width);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const float ai = a[i];
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[i][v] += bk[v] * ai;  // mul, then add: never fused
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) S::store(c + i * ldc + v * Width, acc[i][v]);
    }
}

// The packed right-hand panels of one column tile and depth block (128 KiB), one set per part
// of a product.
constexpr int64_t kTilePanelFloats = kColTile * kDepthBlock;

// What an operation needs beyond its arguments, per calling thread (each counted in elements).
struct ScratchSizes {
    int64_t panel_parts = 0;  // sets of product panels, one per thread of a product
    int64_t part_sums = 0;    // the sums of a product's depth parts after the first
    int64_t bias_sums = 0;    // a bias gradient's column sums

    static ScratchSizes largest(const ScratchSizes& a, const ScratchSizes& b) {
        return {std::max(a.panel_parts, b.panel_parts), std::max(a.part_sums, b.part_sums),
                std::max(a.bias_sums, b.bias_sums)};
    }
    bool empty() const { return panel_parts == 0 && part_sums == 0 && bias_sums == 0; }
};

// What the operations need beyond their arguments, per calling thread: the products' panels and
// depth parts' sums, and the bias sums. reserve() grows it before an operation writes anything,
// and it never shrinks, so that a training step allocates nothing and running out of memory
// changes no output. Pool threads only use what the caller reserved: they must not throw.
struct Scratch {
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float[], Free> panels;
    int64_t panel_parts = 0;
    std::vector<float> part_sums;
    std::vector<double> sums;

    void reserve(const ScratchSizes& sizes) {
        if (sizes.panel_parts > panel_parts) {
            panels.reset(
                static_cast<float*>(std::aligned_alloc(64, sizeof(float) * kTilePanelFloats * sizes.panel_parts)));
            panel_parts = panels ? sizes.panel_parts : 0;
            if (!panels) throw std::bad_alloc();
        }
        if (part_sums.size() < static_cast<size_t>(sizes.part_sums)) part_sums.resize(static_cast<size_t>(sizes.part_sums));
        if (sums.size() < static_cast<size_t>(sizes.bias_sums)) sums.resize(static_cast<size_t>(sizes.bias_sums));
    }
};

// The calling thread's Scratch (thread_object: usable from the thread's exit hooks too).
Scratch& scratch() { return thread_object<Scratch>(); }

// Scratch::reserve, without touching the thread's Scratch when nothing is needed (the
// tutorial's 1 → 1 layer needs nothing, and a thread-local look-up costs a call).
NRN_INLINE void reserve_scratch(const ScratchSizes& sizes) {
    if (!sizes.empty()) scratch().reserve(sizes);
}

// Prefetching. A product over a long depth (a weight gradient Xᵀ·G over a large batch) packs
// both operands' next depth block after each block's micro-kernels, and the packing waits for
// memory: the hardware prefetchers run only a little ahead of the loads, so they fetch little
// while the micro-kernels run. So the micro-kernels of a column tile's last row tile in a depth
// block fetch into the cache what the next block's packing will read: the next block of the
// right-hand panels and of the first row tile's rows, a share before each micro-kernel call.
// (Fetching the next row tile's rows too, within a block, measured from 10% slower, G·Wᵀ at
// 16,384 x 32 x 128, to a few percent faster, Xᵀ·G at 2,048 x 1,024 x 1,024: left out.)
// Only output tiles of at least kMinPrefetchSide rows and columns do: an R x C tile does
// 16·R·C / (R + C) multiply-adds per line fetched (256 for 32 x 32), and smaller tiles were
// slower with prefetches (65,536 x 16 x 16 Xᵀ·G by 5 to 15%, and by 5% with prefetching
// compiled into the one-vector kernel and never taken). Prefetches change no value.
// Xᵀ·G in GFLOP/s before → after, best of 4 to 5 runs alternating builds on a 2-core AVX-512
// VM (neuron_products_bench, or 40 to 60 calls of one product), in six such comparisons:
// 65,536 x 64 x 64 157–262 → 188–290 (+11% to +35%), and in three 65,536 x 128 x 128
// 242–257 → 271–301 (+12% to +17%). Other shapes (1,024 x 256 x 256, 2,048 x 1,024 x 1,024,
// 8,192 x 256 x 256, 4,096 x 512 x 96, 65,536 x 16 x 16) and the other products moved within
// the VM's noise, about ±5% between runs.
constexpr int64_t kMinPrefetchSide = 32;

// The 64-byte lines of `rows` runs of `length` floats, `stride` floats apart from `base`,
// fetched in order, an even share of them by each of the `calls` calls of issue() that
// spread(calls) plans.
class Prefetch {
public:
    Prefetch() = default;
    Prefetch(const float* base, int64_t stride, int64_t rows, int64_t length)
        : base_(base), run_end_(length), stride_(stride), length_(length) {
        if (stride == length || rows == 1) length_ *= rows, rows = 1, run_end_ = length_;
        lines_ = rows * ceil_div(length_, kLineFloats);
    }
    void spread(int64_t calls) { share_ = lines_ == 0 ? 0 : ceil_div(lines_, calls); }
    NRN_INLINE void issue() {
        int64_t count = std::min(share_, lines_);
        for (lines_ -= count; count > 0; --count) {
            __builtin_prefetch(base_ + next_);
            next_ += kLineFloats;
            if (next_ >= run_end_) next_ = run_end_ - length_ + stride_, run_end_ = next_ + length_;
        }
    }

private:
    static constexpr int64_t kLineFloats = 16;
    const float* base_ = nullptr;
    int64_t next_ = 0, run_end_ = 0;  // offsets from base_: the next line to fetch, the end of its run
    int64_t stride_ = 0, length_ = 0, lines_ = 0, share_ = 0;
};

// What packing reads of g's left-hand rows [r0, r1) and right-hand columns [c0, c1) over the
// depth [k0, k0 + kc) (nothing for an operand strided both ways, which no layer has).
NRN_INLINE Prefetch lhs_prefetch(const Gemm& g, int64_t r0, int64_t r1, int64_t k0, int64_t kc) {
    if (g.lhs_row == 1) return Prefetch(g.lhs + r0 + k0 * g.lhs_col, g.lhs_col, kc, r1 - r0);
    if (g.lhs_col == 1) return Prefetch(g.lhs + r0 * g.lhs_row + k0, g.lhs_row, r1 - r0, kc);
    return {};
}
NRN_INLINE Prefetch rhs_prefetch(const Gemm& g, int64_t c0, int64_t c1, int64_t k0, int64_t kc) {
    if (g.rhs_col == 1) return Prefetch(g.rhs + c0 + k0 * g.rhs_row, g.rhs_row, kc, c1 - c0);
    if (g.rhs_row == 1) return Prefetch(g.rhs + c0 * g.rhs_col + k0, g.rhs_col, c1 - c0, kc);
    return {};
}

// Computes the tasks [first, last) with an MR x (Width·NV) micro-kernel. Called only from the
// instruction-set-specific functions below, into which it and the micro-kernel are inlined.
//
// The range is visited column tile by column tile: for each depth block, the tile's right-hand
// panels are packed once and serve every row tile of the range. (Packed per task, they were
// read again for every 64 rows, from rows of the operand a page apart: a fifth of the time of
// a large forward or weight-gradient product.) Each output element still takes its depth
// blocks in increasing order.
template <int Width, int MR, int NV>
NRN_INLINE void gemm_tasks(const Gemm& g, float* b, int64_t first, int64_t last) {
    constexpr int NR = Width * NV;
    static_assert(kColTile % NR == 0, "a column tile is whole panels");
    static_assert(NV > 1 || Width < kMinPrefetchSide, "one-vector products are too narrow to prefetch for");
    constexpr int64_t kPackedRows = (kRowsPerTask + MR - 1) / MR * MR;
    constexpr int64_t kPanelFloats = kDepthBlock * NR;
    static_assert(kColTile / NR * kPanelFloats == kTilePanelFloats, "b holds one column tile");
    // Packed operands: a holds a task's rows as MR-row strips, k-major within a strip
    // (a[strip][k][MR]); b (the part's panels, from Scratch) the column tile's NR-column panels,
    // each k-major (b[panel][k][NR]). Rows and columns past the matrix are zero, so edge blocks
    // run the same micro-kernel.
    alignas(64) float a[kPackedRows * kDepthBlock];
    alignas(64) float edge[MR * NR];  // output block at the matrix edge
    alignas(64) float edge_row[NR];   // a bias row's last panel, padded with zeros
    alignas(64) static constexpr float zeros[NR] = {};  // where Start::Zero sums start

    for (int64_t ct = 0; ct < g.col_tasks; ++ct) {
        // The row tiles rt of this column tile whose task rt·col_tasks + ct is in [first, last).
        const int64_t rt_begin = first <= ct ? 0 : ceil_div(first - ct, g.col_tasks);
        const int64_t rt_end = last <= ct ? 0 : ceil_div(last - ct, g.col_tasks);
        if (rt_begin >= rt_end) continue;
        const int64_t c0 = ct * kColTile, c1 = std::min(g.cols, c0 + kColTile);
        const int64_t panels = ceil_div(c1 - c0, NR);

        for (int64_t k0 = 0; k0 < g.depth; k0 += kDepthBlock) {
            const int64_t kc = std::min(g.depth, k0 + kDepthBlock) - k0;

            // Each operand is read along its contiguous dimension: a transposed operand (Xᵀ for
            // dW, Wᵀ for dX) read across would cost a cache line per element, and rows of
            // 4 KiB (1,024 features) map to the same L1 set. Full blocks copy a constant size
            // (one vector move, not a call or `rep movs`).
            for (int64_t p = 0; p < panels; ++p) {
                float* const panel = b + p * kPanelFloats;
                const int64_t c = c0 + p * NR, nc = std::min<int64_t>(NR, c1 - c);
                if (g.rhs_col == 1) {
                    for (int64_t k = 0; k < kc; ++k) {
                        const float* src = g.rhs + (k0 + k) * g.rhs_row + c;
                        if (nc == NR) {
                            __builtin_memcpy(panel + k * NR, src, sizeof(float) * NR);
                        } else {
                            __builtin_memset(panel + k * NR, 0, sizeof(float) * NR);
                            copy_short_row(panel + k * NR, src, nc);
                        }
                    }
                } else if (g.rhs_row == 1) {
                    pack_transposed_panel<Width, NV>(panel, g.rhs + k0 + c * g.rhs_col, g.rhs_col, kc, nc);
                } else {
                    for (int64_t j = 0; j < NR; ++j) {
                        const float* src = g.rhs + k0 * g.rhs_row + (c + j) * g.rhs_col;
                        for (int64_t k = 0; k < kc; ++k) panel[k * NR + j] = j < nc ? src[k * g.rhs_row] : 0.0f;
                    }
                }
            }

            for (int64_t rt = rt_begin; rt < rt_end; ++rt) {
                const int64_t r0 = rt * kRowsPerTask, r1 = std::min(g.rows, r0 + kRowsPerTask);
                const int64_t strips = (r1 - r0 + MR - 1) / MR;
                if (g.lhs_row == 1) {
                    for (int64_t k = 0; k < kc; ++k) {
                        const float* src = g.lhs + r0 + (k0 + k) * g.lhs_col;
                        for (int64_t s = 0; s < strips; ++s) {
                            float* dst = a + s * kc * MR + k * MR;
                            const int64_t mr = std::min<int64_t>(MR, r1 - r0 - s * MR);
                            if (mr == MR) {
                                __builtin_memcpy(dst, src + s * MR, sizeof(float) * MR);
                            } else {
                                __builtin_memset(dst, 0, sizeof(float) * MR);
                                copy_short_row(dst, src + s * MR, mr);
                            }
                        }
                    }
                } else {
                    for (int64_t s = 0; s < strips; ++s) {
                        float* dst = a + s * kc * MR;
                        const int64_t rs = r0 + s * MR, mr = std::min<int64_t>(MR, r1 - rs);
                        if (g.lhs_col == 1 && mr == MR) {
                            transpose_rows<power_of_two_at_least(MR), MR>(dst, MR, g.lhs + rs * g.lhs_row + k0,
                                                                        g.lhs_row, kc);
                            continue;
                        }
                        for (int64_t i = 0; i < MR; ++i) {
                            const float* src = g.lhs + (rs + i) * g.lhs_row + k0 * g.lhs_col;
                            for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = i < mr ? src[k * g.lhs_col] : 0.0f;
                        }
                    }
                }

                // What the next pack reads, fetched while the micro-kernels run (Prefetching).
                // NV = 1 serves products of at most one vector's columns, fewer than
                // kMinPrefetchSide: testing it drops prefetching from that kernel.
                const bool prefetch = NV > 1 && r1 - r0 >= kMinPrefetchSide && c1 - c0 >= kMinPrefetchSide;
                Prefetch next_lhs, next_rhs;
                if (prefetch && rt + 1 == rt_end && k0 + kDepthBlock < g.depth) {
                    const int64_t k1 = k0 + kDepthBlock, kc1 = std::min(g.depth, k1 + kDepthBlock) - k1;
                    const int64_t first_row = rt_begin * kRowsPerTask;
                    next_lhs = lhs_prefetch(g, first_row, std::min(g.rows, first_row + kRowsPerTask), k1, kc1);
                    next_rhs = rhs_prefetch(g, c0, c1, k1, kc1);
                }
                next_lhs.spread(panels * strips);
                next_rhs.spread(panels * strips);

                // The first depth block's sums start where g says; later ones from out.
                const Start start = k0 == 0 ? g.start : Start::Out;
                const bool own = start == Start::Out;  // else one row for all: zeros or the bias
                for (int64_t p = 0; p < panels; ++p) {
                    const int64_t c = c0 + p * NR, nc = std::min<int64_t>(NR, c1 - c);
                    const float* row = start == Start::Row ? g.start_row + c : zeros;
                    if (start == Start::Row && nc < NR) {  // NR floats to read: the bias, then zeros
                        __builtin_memset(edge_row, 0, sizeof(edge_row));
                        copy_short_row(edge_row, row, nc);
                        row = edge_row;
                    }
                    for (int64_t s = 0; s < strips; ++s) {
                        const int64_t r = r0 + s * MR, mr = std::min<int64_t>(MR, r1 - r);
                        float* y = g.out + r * g.cols + c;
                        next_lhs.issue();
                        next_rhs.issue();
                        if (mr == MR && nc == NR) {
                            micro_kernel<Width, MR, NV>(a + s * kc * MR, b + p * kPanelFloats, kc, own ? y : row,
                                                        own ? g.cols : 0, y, g.cols);
                        } else {
                            // Through a full-size block; only the elements inside the matrix are read and written.
                            for (int64_t i = 0; own && i < mr; ++i) copy_short_row(edge + i * NR, y + i * g.cols, nc);
                            micro_kernel<Width, MR, NV>(a + s * kc * MR, b + p * kPanelFloats, kc, own ? edge : row,
                                                        own ? NR : 0, edge, NR);
                            for (int64_t i = 0; i < mr; ++i) copy_short_row(y + i * g.cols, edge + i * NR, nc);
                        }
                    }
                }
            }
        }
    }
}

// Products with fewer than kMinKernelCols columns: the micro-kernel's panels are at least 8
// columns wide, so it would mostly multiply zero padding. Each output element still takes its
// terms in increasing k, from where g starts it, as in the micro-kernel; what differs is only
// which elements are summed side by side.
//
// In scalars: kNarrowRows rows at a time, their sums in registers, each term of the right-hand
// operand loaded once for them. Any strides. (Through `out`, every term would wait for the
// previous one's store.)
constexpr int kNarrowRows = 4;

// Where the sums of column c start, unless they start from `out` (Start::Out): zero or the row's
// element c. The narrow kernels take it as they start a task's sums, rather than from a pass
// that wrote it over `out` before the product: one thread, best of 500 calls, X·W + b of
// 1 → 4 over 65,536 rows took 124 to 132 µs that way and takes 69 to 73 now, of 16 → 4 over
// 16,384 rows 76 to 79 → 61 to 65 µs.
NRN_INLINE float column_start(const Gemm& g, int64_t c) { return g.start == Start::Row ? g.start_row[c] : 0.0f; }

template <int COLS, int ROWS>
NRN_INLINE void narrow_rows_in_scalars(const Gemm& g, int64_t r) {
    float* y = g.out + r * COLS;
    const float* a = g.lhs + r * g.lhs_row;
    float sum[ROWS][COLS];
    if (g.start == Start::Out) {
        for (int i = 0; i < ROWS; ++i)
            for (int c = 0; c < COLS; ++c) sum[i][c] = y[i * COLS + c];
    } else {
        for (int c = 0; c < COLS; ++c) {
            const float start = column_start(g, c);
            for (int i = 0; i < ROWS; ++i) sum[i][c] = start;
        }
    }
    for (int64_t k = 0; k < g.depth; ++k) {
        const float* b = g.rhs + k * g.rhs_row;
        float bk[COLS];
        for (int c = 0; c < COLS; ++c) bk[c] = b[c * g.rhs_col];
        for (int i = 0; i < ROWS; ++i) {
            const float ak = a[i * g.lhs_row + k * g.lhs_col];
            for (int c = 0; c < COLS; ++c) sum[i][c] += ak * bk[c];
        }
    }
    for (int i = 0; i < ROWS; ++i)
        for (int c = 0; c < COLS; ++c) y[i * COLS + c] = sum[i][c];
}

template <int COLS>
void narrow_rows_in_scalars(const Gemm& g, int64_t r0, int64_t r1) {
    static_assert(kNarrowRows == 4, "one case per remainder");
    int64_t r = r0;
    for (; r + kNarrowRows <= r1; r += kNarrowRows) narrow_rows_in_scalars<COLS, kNarrowRows>(g, r);
    switch (r1 - r) {
        case 3: narrow_rows_in_scalars<COLS, 3>(g, r); break;
        case 2: narrow_rows_in_scalars<COLS, 2>(g, r); break;
        case 1: narrow_rows_in_scalars<COLS, 1>(g, r); break;
        default: break;
    }
}

// Kernel<COLS>(g, r0, r1) for the product's column count (1 to kMinKernelCols - 1), so that every
// loop over the columns has a constant bound.
template <template <int> class Kernel>
NRN_INLINE void for_narrow_columns(const Gemm& g, int64_t r0, int64_t r1) {
    static_assert(kMinKernelCols == 8, "one case per narrow column count");
    switch (g.cols) {
        case 1: Kernel<1>::run(g, r0, r1); break;
        case 2: Kernel<2>::run(g, r0, r1); break;
        case 3: Kernel<3>::run(g, r0, r1); break;
        case 4: Kernel<4>::run(g, r0, r1); break;
        case 5: Kernel<5>::run(g, r0, r1); break;
        case 6: Kernel<6>::run(g, r0, r1); break;
        case 7: Kernel<7>::run(g, r0, r1); break;
        default: assert(false);
    }
}

template <int COLS>
struct InScalars {
    static void run(const Gemm& g, int64_t r0, int64_t r1) { narrow_rows_in_scalars<COLS>(g, r0, r1); }
};

// The tasks [first, last) (task t: rows t·kRowsPerTask ...) in scalars. Compiled for baseline
// x86-64 only, and not inlined into the wider instruction sets' code: there GCC 12 vectorised
// these loops across the depth, and a 4 → 1 forward took twice as long.
__attribute__((noinline)) void narrow_tasks_in_scalars(const Gemm& g, int64_t first, int64_t last) {
    for_narrow_columns<InScalars>(g, first * kRowsPerTask, std::min(g.rows, last * kRowsPerTask));
}

// In vectors, for products of at least 4 rows: a strip of RV vectors of Width consecutive
// rows is summed in RV·COLS vectors of registers, vector (v, c) holding column c of rows
// v·Width ... v·Width + Width - 1 of the strip. Per k: RV loads of the left-hand operand, COLS
// broadcasts of the right-hand one and RV·COLS multiplies and adds. The left-hand operand's
// rows are
//  - read in place where they are contiguous (lhs_row == 1: Xᵀ·G, whose rows are the layer's
//    inputs and whose depth is the batch, and X·W or G·Wᵀ of a single input or output);
//  - transposed into `packed` first where each row is contiguous along k (lhs_col == 1: X·W and
//    G·Wᵀ), if a row has more than kMaxTransposedTermsInScalars terms (depth x columns): for
//    fewer, the transposition costs more than the scalar kernel's whole sums.
// neuron_products_bench on a 2-core VM, 65,536 rows, best of three runs, before (the scalar
// kernel for X·W and G·Wᵀ; Xᵀ·G's rows summed in a buffer in memory, one load, add and store
// per term) and after: Xᵀ·G of 16 → 4, 0.49 → 0.07 ms, of 7 → 7, 0.74 → 0.19 ms, of 300 → 1,
// 13.6 → 2.4 ms; X·W of 16 → 4, 0.99 → 0.26 ms, of 7 → 7, 0.84 → 0.38 ms; G·Wᵀ of 7 → 7,
// 0.69 → 0.37 ms.
//
// A task's rows are taken as strips, and the depth kDepthBlock at a time for all its strips in
// turn, so that the block of the left-hand operand they read stays in cache. Between blocks a
// strip's sums wait column by column: in `out` itself for a single column, else in a buffer
// that they start in (from `out` or where g starts them) and go to `out` from, once per task.
constexpr int64_t kMaxTransposedTermsInScalars = 8;

// How many vectors of rows a strip of COLS columns keeps: a power of two (strips tile a task)
// of at most 4, whose RV·COLS sums, RV operand vectors and a broadcast fit the 16 vector
// registers of AVX2 and baseline x86-64.
constexpr int narrow_strip_vectors(int cols) {
    const int fit = (16 - 1) / (cols + 1);
    return fit >= 4 ? 4 : fit >= 2 ? 2 : 1;
}

// Sums the strip's rows [r, r + nr) (RV vectors, nr ≤ RV·Width) over the depth block
// [k0, k0 + kc), from and into sums[c·R + i] (column c, row r + i). `packed` holds kDepthBlock x
// R floats: the transposed rows, or, for contiguous rows, a short strip's last terms (zero past
// its rows, as the caller filled it).
template <int Width, int RV, int R, int COLS>
NRN_INLINE void narrow_strip_block(const Gemm& g, int64_t r, int64_t nr, int64_t k0, int64_t kc, float* sums,
                                   float* __restrict packed) {
    using S = Simd<Width>;
    using V = typename S::Vector;
    // The block's terms come in at most two runs of k, from the operand in place or from `packed`:
    // lhs(r + i, k0 + k) is run.a[k·run.step + i] for k in [run.begin, run.end).
    struct Run {
        const float* a;
        int64_t step, begin, end;
    } runs[2];
    int run_count = 1;
    const float* a = g.lhs + r * g.lhs_row + k0 * g.lhs_col;
    if (g.lhs_row != 1) {
        // Rows contiguous along k: transposed in Width x Width blocks, then 4 x 4, then one by one.
        const int64_t kw = kc / Width * Width;
        for (int v = 0; v < RV; ++v) {
            const int64_t i0 = v * Width;
            if (i0 + Width <= nr) {
                transpose_rows<Width>(packed + i0, R, a + i0 * g.lhs_row, g.lhs_row, kw);
                for (int64_t i = i0; i < i0 + Width; i += 4)
                    transpose_rows<4>(packed + kw * R + i, R, a + i * g.lhs_row + kw, g.lhs_row, kc - kw);
            } else {
                for (int64_t k = 0; k < kc; ++k)
                    for (int64_t i = i0; i < i0 + Width; ++i) packed[k * R + i] = i < nr ? a[i * g.lhs_row + k] : 0.0f;
            }
        }
        runs[0] = {packed, R, 0, kc};
    } else if (nr == RV * Width) {
        runs[0] = {a, g.lhs_col, 0, kc};
    } else {
        // A short strip: the lanes past its rows read the operand's next rows, and are never
        // stored. In place, but for the last terms, whose vectors would end past the operand
        // (`end` elements): those are copied into `packed` (zero past the strip's rows).
        const int64_t end = (g.rows - 1) + (g.depth - 1) * g.lhs_col + 1,
                      spare = end - r - RV * Width;  // term k0 + k is in place while (k0 + k)·lhs_col ≤ spare
        const int64_t in_place = spare < 0 ? 0 : std::clamp<int64_t>(spare / g.lhs_col - k0 + 1, 0, kc);
        for (int64_t k = in_place; k < kc; ++k) std::copy(a + k * g.lhs_col, a + k * g.lhs_col + nr, packed + k * R);
        runs[0] = {a, g.lhs_col, 0, in_place};
        runs[1] = {packed, R, in_place, kc};
        run_count = 2;
    }

    V acc[RV][COLS];
#pragma GCC unroll 8
    for (int v = 0; v < RV; ++v) {
#pragma GCC unroll 8
        for (int c = 0; c < COLS; ++c) S::load(acc[v][c], sums + c * R + v * Width);
    }
    for (int j = 0; j < run_count; ++j) {
        const Run run = runs[j];
        for (int64_t k = run.begin; k < run.end; ++k) {
            const float* b = g.rhs + (k0 + k) * g.rhs_row;
            V ak[RV];
#pragma GCC unroll 8
            for (int v = 0; v < RV; ++v) S::load(ak[v], run.a + k * run.step + v * Width);
#pragma GCC unroll 8
            for (int c = 0; c < COLS; ++c) {
                const float bc = b[c * g.rhs_col];
#pragma GCC unroll 8
                for (int v = 0; v < RV; ++v) acc[v][c] += ak[v] * bc;  // mul, then add: never fused
            }
        }
    }
#pragma GCC unroll 8
    for (int v = 0; v < RV; ++v) {
#pragma GCC unroll 8
        for (int c = 0; c < COLS; ++c) S::store(sums + c * R + v * Width, acc[v][c]);
    }
}

template <int Width>
struct InVectors {
    template <int COLS>
    struct Columns {
        // Rows [r0, r1), at most kRowsPerTask.
        static NRN_INLINE void run(const Gemm& g, int64_t r0, int64_t r1) {
            constexpr int RV = narrow_strip_vectors(COLS), R = RV * Width;
            static_assert(kRowsPerTask % R == 0, "strips tile a task");
            constexpr int kStrips = kRowsPerTask / R;
            alignas(64) float buffer[kStrips][COLS][R];
            alignas(64) float packed[kDepthBlock * R];
            const int64_t n = r1 - r0, strips = std::min<int64_t>(kStrips, ceil_div(n, R));  // n ≤ kRowsPerTask
            // Strip s's sums, column c at sums(s) + c·R: a whole strip of one column in place.
            const auto in_place = [n](int64_t s) { return COLS == 1 && (s + 1) * R <= n; };
            const auto sums = [&](int64_t s) { return in_place(s) ? g.out + r0 + s * R : &buffer[s][0][0]; };
            for (int64_t s = 0; s < strips; ++s) {
                if (g.start != Start::Out) {  // lanes past the strip's rows too: they are never stored
                    float* const strip = sums(s);
                    for (int c = 0; c < COLS; ++c) std::fill(strip + c * R, strip + (c + 1) * R, column_start(g, c));
                } else if (!in_place(s)) {
                    const float* y = g.out + (r0 + s * R) * COLS;
                    const int64_t rows = std::min<int64_t>(R, n - s * R);
                    for (int64_t i = 0; i < rows; ++i) {
                        for (int c = 0; c < COLS; ++c) buffer[s][c][i] = y[i * COLS + c];
                    }
                    for (int c = 0; c < COLS; ++c) std::fill(buffer[s][c] + rows, buffer[s][c] + R, 0.0f);
                }
            }
            if (g.lhs_row == 1 && n % R != 0) std::fill(packed, packed + kDepthBlock * R, 0.0f);
            for (int64_t k0 = 0; k0 < g.depth; k0 += kDepthBlock) {
                const int64_t kc = std::min(g.depth - k0, kDepthBlock);
                for (int64_t s = 0; s < strips; ++s) {
                    const int64_t r = r0 + s * R, nr = std::min<int64_t>(R, r1 - r);
                    narrow_strip_block<Width, RV, R, COLS>(g, r, nr, k0, kc, sums(s), packed);
                }
            }
            for (int64_t s = 0; s < strips; ++s) {
                if (in_place(s)) continue;
                const int64_t rows = std::min<int64_t>(R, n - s * R);
                float* y = g.out + (r0 + s * R) * COLS;
                for (int64_t i = 0; i < rows; ++i) {
                    for (int c = 0; c < COLS; ++c) y[i * COLS + c] = buffer[s][c][i];
                }
            }
        }
    };
};

// The tasks [first, last) of a product of fewer than kMinKernelCols columns (one column tile:
// task t is rows t·kRowsPerTask ...): in vectors where they apply, of Width rows, or of 4 for
// fewer rows (a weight gradient's rows are the layer's inputs), else in scalars.
template <int Width>
NRN_INLINE void narrow_tasks(const Gemm& g, int64_t first, int64_t last) {
    const bool rows_contiguous = g.lhs_row == 1,
               rows_transposed = g.lhs_col == 1 && g.depth * g.cols > kMaxTransposedTermsInScalars;
    if (!(rows_contiguous || rows_transposed)) {
        narrow_tasks_in_scalars(g, first, last);
    } else if (g.rows >= Width) {
        for (int64_t t = first; t < last; ++t) {
            for_narrow_columns<InVectors<Width>::template Columns>(g, t * kRowsPerTask,
                                                                  std::min(g.rows, (t + 1) * kRowsPerTask));
        }
    } else if constexpr (Width > 4) {
        narrow_tasks<Width / 2>(g, first, last);
    } else {
        narrow_tasks_in_scalars(g, first, last);
    }
}

// Products of at most kMaxShortRows rows whose right-hand rows are contiguous (rhs_col == 1):
// the weight gradient Xᵀ·G of a layer with few inputs (a 1 → 64 layer's is 1 x batch x 64) and
// X·W over a batch of a few rows. The micro-kernel would multiply strips of MR rows (8 with
// AVX-512), most of them zero padding, and first pack the whole right-hand operand, which such a
// product reads only once; the narrow kernels (fewer than kMinKernelCols columns) would sum so
// few rows in scalars. Here a block of the output, ROWS rows x NV vectors of columns, is summed
// in registers over the whole depth, reading the right-hand rows in place: per k, NV loads, ROWS
// broadcasts and ROWS·NV multiplies and adds, each element's terms in increasing k from where g
// starts, as in the micro-kernel. Tasks are column tiles, as in the micro-kernel's products of a
// single row tile. neuron_products_bench on a 2-core AVX-512 VM, best of five, micro-kernel then
// this: Xᵀ·G of 1 → 64 over 16,384 rows 0.263 → 0.054 ms, of 1 → 1,024 over 1,024 0.278 → 0.066
// ms; X·W of 784 → 128 over one row 0.021 → 0.003 ms, of 1,024 → 1,024 over two 0.264 → 0.072
// ms. Against the narrow kernels (one thread, median of 300 calls through the C API): Xᵀ·G of
// 1 → 4 over 65,536 rows 72 → 36 µs, of 2 → 7 184 → 88 µs.
constexpr int64_t kMaxShortRows = 4;

// Register blocks: ROWS·NV accumulators, at most 16 with AVX-512's 32 registers and 8 with 16.
constexpr int short_rows_vectors(int width, int rows) {
    const int fit = (width == 16 ? 16 : 8) / rows;
    return fit >= 16 ? 16 : fit >= 8 ? 8 : fit >= 4 ? 4 : fit >= 2 ? 2 : 1;
}

// Sums rows [0, ROWS) x columns [c, c + nc) of g over its depth: NV whole vectors (nc =
// NV·Width), or the last 1 to 3 columns in one vector of 4 (Width = 4, NV = 1), whose start and
// sums go through `edge` and whose right-hand rows are read lane by lane. (A vector load of a
// zero-padded copy would wait, every k, for the copy's narrower stores to reach the cache.)
template <int Width, int ROWS, int NV>
NRN_INLINE void short_rows_block(const Gemm& g, int64_t c, int64_t nc) {
    using S = Simd<Width>;
    using V = typename S::Vector;
    constexpr int NR = NV * Width;
    const bool whole = nc == NR;
    static_assert(Width >= 4, "a vector of at least 4 floats");
    assert(whole || (Width == 4 && NV == 1 && nc < 4));
    alignas(64) float edge[ROWS][Width];  // a partial vector's start, then its sums
    float* const y = g.out + c;

    // Where the sums start: the output itself, zeros or the bias row (Start).
    alignas(64) static constexpr float zeros[NR] = {};
    const float* from = g.start == Start::Out ? y : g.start == Start::Row ? g.start_row + c : zeros;
    int64_t ld_from = g.start == Start::Out ? g.cols : 0;
    if (!whole) {
        for (int i = 0; i < ROWS; ++i) {
            for (int j = 0; j < Width; ++j) edge[i][j] = j < nc ? from[i * ld_from + j] : 0.0f;
        }
        from = &edge[0][0];
        ld_from = Width;
    }
    V acc[ROWS][NV];
#pragma GCC unroll 16
    for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) S::load(acc[i][v], from + i * ld_from + v * Width);
    }
    const float* b = g.rhs + c;
    const float* a = g.lhs;
    for (int64_t k = 0; k < g.depth; ++k, b += g.rhs_row, a += g.lhs_col) {
        V bk[NV];
        if (whole) {
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) S::load(bk[v], b + v * Width);
        } else if (nc == 3) {
            bk[0] = V{b[0], b[1], b[2]};
        } else if (nc == 2) {
            bk[0] = V{b[0], b[1]};
        } else {
            bk[0] = V{b[0]};
        }
#pragma GCC unroll 16
        for (int i = 0; i < ROWS; ++i) {
            const float ai = a[i * g.lhs_row];
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[i][v] += bk[v] * ai;  // mul, then add: never fused
        }
    }
    if (whole) {
#pragma GCC unroll 16
        for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) S::store(y + i * g.cols + v * Width, acc[i][v]);
        }
    } else {
        for (int i = 0; i < ROWS; ++i) {
            S::store(edge[i], acc[i][0]);
            for (int64_t j = 0; j < nc; ++j) y[i * g.cols + j] = edge[i][j];
        }
    }
}

// Columns [c, c1) in blocks of NV vectors, then the rest in blocks of half as many vectors, then
// of vectors half as wide (an AVX-512 kernel also has AVX2's and SSE's), down to one vector of 4
// floats for the last 1 to 3 columns: no block multiplies more than 3 floats of padding.
template <int Width, int ROWS, int NV>
NRN_INLINE void short_rows_columns(const Gemm& g, int64_t c, int64_t c1) {
    constexpr int NR = NV * Width;
    for (; c + NR <= c1; c += NR) short_rows_block<Width, ROWS, NV>(g, c, NR);
    if constexpr (NV > 1) {
        short_rows_columns<Width, ROWS, NV / 2>(g, c, c1);
    } else if constexpr (Width > 4) {
        short_rows_columns<Width / 2, ROWS, 1>(g, c, c1);
    } else if (c < c1) {
        short_rows_block<4, ROWS, 1>(g, c, c1 - c);
    }
}

template <int Width, int ROWS>
NRN_INLINE void short_rows_tasks(const Gemm& g, int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
        const int64_t c0 = t * kColTile, c1 = std::min(g.cols, c0 + kColTile);
        short_rows_columns<Width, ROWS, short_rows_vectors(Width, ROWS)>(g, c0, c1);
    }
}

// The tasks [first, last) of a short product (task t: columns t·kColTile ...).
template <int Width>
NRN_INLINE void short_tasks(const Gemm& g, int64_t first, int64_t last) {
    static_assert(kMaxShortRows == 4, "one case per row count");
    switch (g.rows) {
        case 1: short_rows_tasks<Width, 1>(g, first, last); break;
        case 2: short_rows_tasks<Width, 2>(g, first, last); break;
        case 3: short_rows_tasks<Width, 3>(g, first, last); break;
        case 4: short_rows_tasks<Width, 4>(g, first, last); break;
        default: assert(false);
    }
}

// One copy per instruction set, chosen at run time so that the library runs on any x86-64
// CPU. (target_clones would compile one body for every instruction set, and the vector width
// and block shape must differ between them.) Register budgets: 32 zmm for AVX-512
// (16 accumulators), 16 ymm/xmm otherwise (12 or 8). Packing takes ~33 KiB of stack and the
// part's panels in Scratch; the narrow and short products take no panels (`panels` is unused).
//
// AVX-512 machines run the AVX2 narrow kernels. A copy with vectors of 16 rows (and of 8 and 4
// for fewer rows) took host_kernels.cpp from 23 s to 65 s to compile (5.7 s before the narrow
// kernels in vectors), and the one run of neuron_products_bench that compared them put it within
// this VM's noise: 16 → 4 Xᵀ·G 0.07 against 0.10 ms, 7 → 7 0.19 against 0.18 ms.
//
// A product of kMinKernelCols to one_vector_cols columns (8 to 16 with AVX-512, 8 with AVX2: one
// vector) runs the micro-kernel with one vector per row (NV = 1), whose panels are one vector
// wide; in the wide kernel's panels of two vectors, half or more of every multiply would be zero
// padding. MR is the most rows that divide a task's and leave registers for a panel vector and a
// broadcast. Best of five runs of neuron_products_bench on a 2-core AVX-512 VM, 65,536 rows,
// X·W / Xᵀ·G / G·Wᵀ in ms, panels of 32 columns then one vector: 16 → 16, 0.38 / 0.44 / 0.40 →
// 0.17 / 0.22 / 0.17; 256 → 16, X·W 6.3 → 4.5 and Xᵀ·G 9.0 → 5.3; 8 → 256, G·Wᵀ 6.3 → 4.5.
using ProductTasks = void (*)(const Gemm&, float* panels, int64_t first, int64_t last);

struct ProductKernels {
    const char* name;          // the instruction set, as NEURON_HOST_SIMD names it
    ProductTasks wide;         // more than one_vector_cols columns: the micro-kernel
    ProductTasks one_vector;   // kMinKernelCols to one_vector_cols: the micro-kernel with NV = 1
    int64_t one_vector_cols;   // 0 where the wide micro-kernel's panels are kMinKernelCols wide
    ProductTasks narrow;       // fewer than kMinKernelCols columns, unless short
    ProductTasks short_rows;   // at most kMaxShortRows rows, the right-hand rows contiguous

    ProductTasks for_product(const Gemm& g) const {
        if (is_short(g)) return short_rows;
        if (g.cols < kMinKernelCols) return narrow;
        return g.cols <= one_vector_cols ? one_vector : wide;
    }
    static bool is_short(const Gemm& g) { return g.rows <= kMaxShortRows && g.rhs_col == 1; }
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NRN_HOST_X86_DISPATCH 1
__attribute__((target("avx512f"))) void gemm_tasks_avx512(const Gemm& g, float* panels, int64_t first, int64_t last) {
    gemm_tasks<16, 8, 2>(g, panels, first, last);
}
__attribute__((target("avx512f"))) void one_vector_tasks_avx512(const Gemm& g, float* panels, int64_t first,
                                                                 int64_t last) {
    gemm_tasks<16, 16, 1>(g, panels, first, last);
}
__attribute__((target("avx2"))) void gemm_tasks_avx2(const Gemm& g, float* panels, int64_t first, int64_t last) {
    gemm_tasks<8, 6, 2>(g, panels, first, last);
}
__attribute__((target("avx2"))) void one_vector_tasks_avx2(const Gemm& g, float* panels, int64_t first,
                                                           int64_t last) {
    gemm_tasks<8, 8, 1>(g, panels, first, last);
}
__attribute__((target("avx2"))) void narrow_tasks_avx2(const Gemm& g, float*, int64_t first, int64_t last) {
    narrow_tasks<8>(g, first, last);
}
__attribute__((target("avx512f"))) void short_tasks_avx512(const Gemm& g, float*, int64_t first, int64_t last) {
    short_tasks<16>(g, first, last);
}
__attribute__((target("avx2"))) void short_tasks_avx2(const Gemm& g, float*, int64_t first, int64_t last) {
    short_tasks<8>(g, first, last);
}
#endif
void gemm_tasks_baseline(const Gemm& g, float* panels, int64_t first, int64_t last) {
    gemm_tasks<4, 4, 2>(g, panels, first, last);
}
void narrow_tasks_baseline(const Gemm& g, float*, int64_t first, int64_t last) { narrow_tasks<4>(g, first, last); }
void short_tasks_baseline(const Gemm& g, float*, int64_t first, int64_t last) { short_tasks<4>(g, first, last); }

// What NEURON_HOST_SIMD asks for: "" when unset, else its value, which check_settings requires
// to be one of these.
std::string requested_simd() {
    const char* text = std::getenv("NEURON_HOST_SIMD");
    return text != nullptr ? text : "";
}
bool names_simd(const std::string& value) { return value == "avx512" || value == "avx2" || value == "baseline"; }

// The widest supported instruction set; NEURON_HOST_SIMD=avx512|avx2|baseline may pick a
// narrower one (all give the same results; useful to test every path on one machine).
const ProductKernels& product_kernels() {
    static const ProductKernels chosen = [] {
        const std::string want = requested_simd();
#ifdef NRN_HOST_X86_DISPATCH
        __builtin_cpu_init();
        if ((want.empty() || want == "avx512") && __builtin_cpu_supports("avx512f")) {
            return ProductKernels{"avx512", &gemm_tasks_avx512, &one_vector_tasks_avx512, 16, &narrow_tasks_avx2,
                                  &short_tasks_avx512};
        }
        if ((want.empty() || want == "avx512" || want == "avx2") && __builtin_cpu_supports("avx2")) {
            return ProductKernels{"avx2", &gemm_tasks_avx2, &one_vector_tasks_avx2, 8, &narrow_tasks_avx2,
                                  &short_tasks_avx2};
        }
#endif
        return ProductKernels{"baseline", &gemm_tasks_baseline, nullptr, 0, &narrow_tasks_baseline,
                              &short_tasks_baseline};
    }();
    return chosen;
}

}  // namespace

const char* simd_name() { return product_kernels().name; }

void check_settings() {
    if (const std::string simd = requested_simd(); !simd.empty() && !names_simd(simd)) {
        throw Error(NRN_STATUS_INVALID_ARGUMENT, "NEURON_HOST_SIMD is '" + simd + "', not avx512, avx2 or baseline");
    }
    if (requested_threads() < 0) {
        throw Error(NRN_STATUS_INVALID_ARGUMENT, std::string("NEURON_HOST_THREADS is '") +
                                                     std::getenv("NEURON_HOST_THREADS") +
                                                     "', not a whole number from 1 to 256");
    }
}

namespace {

// A product's tasks are its output tiles, kRowsPerTask rows x kColTile columns.
int64_t product_tasks(int64_t rows, int64_t cols) { return ceil_div(rows, kRowsPerTask) * ceil_div(cols, kColTile); }

// What a product costs one thread, in the micro-kernel's multiply-adds, for deciding how many
// threads share it: each output element's depth terms, a narrow product's (fewer than
// kMinKernelCols columns) kNarrowTermWork times over; kOutputWork more per output element, for
// its own load and store and its share of packing; and kRhsWork per right-hand element, which a
// product reads (and packs) once. Measured on one core of a 2-core VM, against X·W of a
// 128 → 128 layer over 256 rows (40 µs for 4.2 M multiply-adds): a narrow kernel's term took 2
// to 11 times as long (Xᵀ·G of 16 → 4, X·W of 7 → 7); a 16 → 4 layer's G·Wᵀ over 65,536 rows,
// four terms deep, took 193 µs, 13 multiply-adds' time per element beyond its terms (and a
// 32 → 8 layer's, eight deep, 5); a 1 → 1,024 layer's Xᵀ·G over 1,024 rows (a short product,
// one term per right-hand element) 50 µs, about 4 per right-hand element beyond its term.
// Counted as multiply-adds alone, such products ran on one thread for up to ~1 ms. Training
// steps of layers whose products the output and narrow terms move onto two threads ran 1.05 to
// 2.2x as fast on that VM (neuron_steps_bench, 21 layers, among them 784 → 4 over 1,024 rows,
// 497 → 252 µs, and 256 → 2 over 4,096, 651 → 298 µs), and the right-hand term took a 4 → 16
// layer's over 65,536 rows from 713 to 452 µs. The estimate only chooses threads and depth
// parts; it grows with the rows and the depth, which a layer's batch sets, as
// product_scratch_up_to requires.
constexpr double kNarrowTermWork = 4;
constexpr double kOutputWork = 8;
constexpr double kRhsWork = 4;

double product_work(int64_t rows, int64_t depth, int64_t cols) {
    const double term = cols < kMinKernelCols ? kNarrowTermWork : 1.0;
    return static_cast<double>(rows) * static_cast<double>(cols) * (static_cast<double>(depth) * term + kOutputWork) +
           static_cast<double>(depth) * static_cast<double>(cols) * kRhsWork;
}

// Depth parts (the exception in "Matrix product", above). A product of fewer than
// kMinProductUnits tasks, with work for more than one thread, splits its depth into up to
// kMinProductUnits / tasks parts of at least kMinPartDepthBlocks depth blocks each, so that a
// machine of up to kMinProductUnits threads has work for all of them. Each of the tasks x parts
// units then goes to one thread, and part p's sums, past the first, to Scratch.
constexpr int64_t kMinProductUnits = 16;
constexpr int64_t kMinPartDepthBlocks = 4;

// How a product is shared out: its tasks, its depth parts and the threads that share the
// tasks x parts units. Small products (a small layer's, every step) return at the first test.
struct ProductSplit {
    int64_t tasks, parts, threads;
};

NRN_INLINE ProductSplit split_product(int64_t rows, int64_t depth, int64_t cols) {
    const int64_t tasks = product_tasks(rows, cols);
    const double work = product_work(rows, depth, cols);
    if (work < 2 * kMinWorkPerThread) return {tasks, 1, 1};
    const int64_t parts = tasks >= kMinProductUnits
                              ? 1
                              : std::max<int64_t>(1, std::min({ceil_div(kMinProductUnits, tasks),
                                                               ceil_div(depth, kDepthBlock) / kMinPartDepthBlocks,
                                                               static_cast<int64_t>(work / kMinWorkPerThread)}));
    return {tasks, parts, task_threads(tasks * parts, work)};
}

// What a product needs in Scratch: a set of panels per thread (none below kMinKernelCols
// columns), and the sums of its depth parts after the first.
ScratchSizes product_scratch(int64_t rows, int64_t depth, int64_t cols) {
    const ProductSplit split = split_product(rows, depth, cols);
    ScratchSizes sizes;
    // A short product (ProductKernels::is_short, which the shape alone does not tell) leaves its
    // panels unused.
    sizes.panel_parts = cols < kMinKernelCols ? 0 : split.threads;
    sizes.part_sums = (split.parts - 1) * rows * cols;
    return sizes;
}

// product_scratch for this shape and every smaller one. A smaller shape has fewer tasks and less
// work, and splits its depth only if this one has the work to. Then its parts − 1 <
// kMinProductUnits / tasks, so that its units < 2 · kMinProductUnits and its sums ≤
// kMinProductUnits · min(rows, kRowsPerTask) · min(cols, kColTile) floats (rows x cols ≤ tasks ·
// min(rows, kRowsPerTask) · min(cols, kColTile)).
ScratchSizes product_scratch_up_to(int64_t rows, int64_t depth, int64_t cols) {
    ScratchSizes sizes = product_scratch(rows, depth, cols);
    const double work = product_work(rows, depth, cols);
    if (work >= 2 * kMinWorkPerThread) {
        if (cols >= kMinKernelCols)
            sizes.panel_parts = std::max(sizes.panel_parts, task_threads(2 * kMinProductUnits, work));
        sizes.part_sums = kMinProductUnits * std::min(rows, kRowsPerTask) * std::min(cols, kColTile);
    }
    return sizes;
}

// Part p of g's depth (of `parts`): whole depth blocks, the parts as even as the blocks allow.
// Part 0 sums into out from where g starts, the others into `sums` from zero.
Gemm depth_part(const Gemm& g, int64_t p, int64_t parts, float* sums) {
    const int64_t blocks = ceil_div(g.depth, kDepthBlock);
    const int64_t k0 = blocks * p / parts * kDepthBlock, k1 = std::min(g.depth, blocks * (p + 1) / parts * kDepthBlock);
    Gemm part = g;
    part.lhs += k0 * g.lhs_col;
    part.rhs += k0 * g.rhs_row;
    part.depth = k1 - k0;
    if (p > 0) part.out = sums, part.start = Start::Zero;
    return part;
}

// out[rows x cols] = start + lhs · rhs over tasks of kRowsPerTask rows x kColTile columns, and
// depth parts, where start is out itself, zero or start_row (for every row). The calling thread's
// Scratch must hold product_scratch (reserve_linear does).
__attribute__((noinline)) void gemm(const float* lhs, int64_t lhs_row, int64_t lhs_col, const float* rhs,
                                    int64_t rhs_row, int64_t rhs_col, float* out, int64_t rows, int64_t depth,
                                    int64_t cols, Start start, const float* start_row = nullptr) {
    const Gemm g{lhs,  lhs_row, lhs_col, rhs, rhs_row, rhs_col, out, rows, depth, cols, ceil_div(cols, kColTile),
                 start, start_row};
    // Named copies, not a structured binding: C++17 lets no lambda capture one (Clang holds to that).
    const ProductSplit split = split_product(rows, depth, cols);
    const int64_t tasks = split.tasks, parts = split.parts, threads = split.threads;
    const ProductTasks run_tasks = product_kernels().for_product(g);
    // The narrow and short kernels take no panels: only their depth parts' sums are in Scratch.
    const bool takes_panels = cols >= kMinKernelCols && !ProductKernels::is_short(g);
    Scratch* const reserved = !takes_panels && parts == 1 ? nullptr : &scratch();
    if ((takes_panels && threads > reserved->panel_parts) ||
        (parts > 1 && static_cast<size_t>((parts - 1) * rows * cols) > reserved->part_sums.size())) {
        throw Error(NRN_STATUS_INTERNAL_ERROR, "a matrix product's scratch memory was not reserved");
    }
    float* const panels = takes_panels ? reserved->panels.get() : nullptr;
    float* const part_sums = parts == 1 ? nullptr : reserved->part_sums.data();

    if (threads == 1 && parts == 1) {  // every step of a small layer: no units to share out
        run_tasks(g, panels, 0, tasks);
        return;
    }

    // Unit u is task u mod tasks of part u / tasks.
    parallel_tasks(tasks * parts, threads, [&](int64_t first, int64_t last, int64_t thread) {
        for (int64_t p = first / tasks; p < parts && p * tasks < last; ++p) {
            const int64_t t0 = std::max(first - p * tasks, int64_t{0}), t1 = std::min(last - p * tasks, tasks);
            const Gemm part = parts == 1 ? g : depth_part(g, p, parts, part_sums + (p - 1) * rows * cols);
            run_tasks(part, takes_panels ? panels + thread * kTilePanelFloats : nullptr, t0, t1);
        }
    });
    // The parts' sums, in order.
    for (int64_t p = 1; p < parts; ++p) {
        const float* __restrict sums = part_sums + (p - 1) * rows * cols;
        for (int64_t i = 0; i < rows * cols; ++i) out[i] += sums[i];
    }
}

// ---------------------------------------------------------------------------------------
// Long sums
//
// A sum over a batch in one running total is a chain of dependent adds, each waiting for the
// previous one's latency (4 cycles): a 1 → 1 layer's weight gradient, bias gradient and squared
// error over 65,536 rows took 40, 45 and 14 µs that way on a 2-core VM. The sums below take
// their terms kSumLanes at a time into as many running totals (term i into lane i mod
// kSumLanes), add the lanes in a fixed pairwise tree (lane l + width into lane l, for width =
// kSumLanes/2, ..., 1), then the n mod kSumLanes last terms one by one, in order: a sum of fewer
// than kSumLanes terms is the plain running total it was. Each lane sees the same operations
// in the same order on every machine; the lanes are held in vectors of the matrix kernels'
// instruction set (LongSums), which changes how many lanes one instruction takes, not the bits.
//
// A sum of at least 2·kMinTermsPerPart terms is also split into parts, as many as its length
// says (long_sum_parts; never the number of threads): part p sums the terms [n·p/parts,
// n·(p + 1)/parts) as above, from zero and in its own lanes, on one thread, and the parts'
// sums are added in order. So the mean squared error and a 1 → 1 layer's gradients over a long
// batch can use several cores (pass_threads says how many), with the same bits on any number.
// ---------------------------------------------------------------------------------------

constexpr int kSumLanes = 16;
typedef float Floats __attribute__((vector_size(4 * sizeof(float))));
typedef double Doubles __attribute__((vector_size(2 * sizeof(double))));

// A Floats' elements 0, 1 and 2, 3 as Doubles (cvtps2pd; element by element, GCC 12 moved
// each float through a general register).
NRN_INLINE Doubles low_doubles(const Floats& x) { return _mm_cvtps_pd(x); }
NRN_INLINE Doubles high_doubles(const Floats& x) { return _mm_cvtps_pd(_mm_movehl_ps(x, x)); }

// A part takes at least this many terms (a 1 → 1 step over 65,536 rows took 11 µs on one core
// with AVX-512, 30 µs in SSE2), about as long as handing a part to a worker that is still
// spinning from the last one costs, or longer.
constexpr int64_t kMinTermsPerPart = 1 << 16;
constexpr int64_t kMaxSumParts = 16;

int64_t long_sum_parts(int64_t n) {
    return n < 2 * kMinTermsPerPart ? 1 : std::min(kMaxSumParts, n / kMinTermsPerPart);
}

// How a long sum's parts go to threads: as pass_threads says (a pass between others over the
// same data), or one per part (a pass that shares its data with no neighbour), up to the pool.
enum class Spread { ByTerms, PerPart };

// part(begin, end) for each part of the terms [0, n) (long_sum_parts), the parts shared by
// threads as `spread` says, and their sums added in order. `part` must not throw.
template <class Sum, class Part>
Sum sum_over_parts(int64_t n, Spread spread, const Part& part) {
    const int64_t parts = long_sum_parts(n);
    if (parts == 1) return part(int64_t{0}, n);
    Sum sums[kMaxSumParts];
    const int64_t threads =
        spread == Spread::ByTerms ? pass_threads(parts, n) : std::min<int64_t>(parts, max_threads());
    parallel_tasks(parts, threads, [&](int64_t first, int64_t last, int64_t) {
        for (int64_t p = first; p < last; ++p) sums[p] = part(n * p / parts, n * (p + 1) / parts);
    });
    Sum total = sums[0];
    for (int64_t p = 1; p < parts; ++p) total += sums[p];
    return total;
}

// The sums of a 1 → 1 layer's training step: its squared errors, weight gradient and bias
// gradient.
struct OneByOneSums {
    double squares = 0.0;
    float weight_grad = 0.0f;
    double bias_grad = 0.0;

    OneByOneSums& operator+=(const OneByOneSums& part) {
        squares += part.squares, weight_grad += part.weight_grad, bias_grad += part.bias_grad;
        return *this;
    }
};

// Rows [i, n) of a 1 → 1 layer's step added to its sums in order, one at a time: the rows past
// LongSums' lanes, and the whole of a batch too short for them.
NRN_INLINE void add_one_by_one_rows(const float* __restrict x, const float* __restrict t, int64_t i, int64_t n,
                                    float weight, float bias, float count, OneByOneSums& sums) {
    for (; i < n; ++i) {
        const float d = (bias + x[i] * weight) - t[i], g = d / count;
        sums.squares += static_cast<double>(d) * static_cast<double>(d);
        sums.weight_grad += x[i] * g;
        sums.bias_grad += static_cast<double>(g);
    }
}

// A column sum (LongSums::columns) takes the rows a block at a time: about kColumnSumRowBytes of
// them, which every block of columns reads in turn, from cache after the first, and at least
// kMinColumnSumRows, over which each block keeps its sums in registers. (Blocks of 16 columns
// each summed over all the rows were faster alone but slower in training steps: each read a
// cache line of every row that the error's pass had just written. Over wide rows, fewer rows per
// block spent the time loading and storing the sums: neuron_products_bench on 2 threads, best of
// three runs, 8,192 x 1,000 took 1.44 ms with 8 KiB of rows (2 rows), 1.27 ms with 16 KiB (4)
// and 0.81 ms with this (16), against 0.77 ms before; 2,048 x 4,096 took 1.41, 2.05 and 0.81 ms,
// against 1.14 ms.)
constexpr int64_t kColumnSumRowBytes = 32 * 1024;
constexpr int64_t kMinColumnSumRows = 16;

// LongSums' vector types, declared outside it: GCC drops vector_size from a typedef that depends
// on W inside the class template whose members use it.
template <int W>
struct SumVectors {
    typedef float Floats __attribute__((vector_size(W * sizeof(float))));
    typedef double Doubles __attribute__((vector_size(W / 2 * sizeof(double))));
    typedef double All __attribute__((vector_size(W * sizeof(double))));
};

// The long sums of one part, in vectors of W floats (4: SSE2, 8: AVX2, 16: AVX-512). Lane l
// of the 16 is element l mod W of float vector l / W, or element l mod (W/2) of double vector
// l / (W/2); float vector v's halves in double are double vectors 2v and 2v + 1. Always
// inlined into a function compiled for the instruction set (SumKernels), like the products'
// micro-kernel, and without lambdas, whose bodies would be compiled for baseline x86-64.
template <int W>
struct LongSums {
    using Floats = typename SumVectors<W>::Floats;
    using Doubles = typename SumVectors<W>::Doubles;
    static_assert(kSumLanes % W == 0, "whole vectors of lanes");
    static constexpr int kFloatVectors = kSumLanes / W, kDoubleVectors = 2 * kSumLanes / W;

    // Vectors by reference only: returned by value from a function not compiled for their
    // instruction set, they would go through memory (and GCC warns that the ABI changes).
    static NRN_INLINE void splat(Floats& v, float value) {
        for (int k = 0; k < W; ++k) v[k] = value;
    }
    static NRN_INLINE void load(Floats& v, const float* p) { __builtin_memcpy(&v, p, sizeof(v)); }
    // x's elements [0, W/2) and [W/2, W) in double. Converted whole: GCC 12 converts a half
    // (vector_size 16) into a 4-double vector two elements at a time, and the AVX2 step then
    // took 28 µs over 65,536 rows, against 20 to 23 µs (AVX-512: 18.7 against 11 to 12).
    static NRN_INLINE void to_doubles(const Floats& x, Doubles& low, Doubles& high) {
        using All = typename SumVectors<W>::All;
        const All all = __builtin_convertvector(x, All);
        __builtin_memcpy(&low, &all, sizeof(low));
        __builtin_memcpy(&high, reinterpret_cast<const char*>(&all) + sizeof(low), sizeof(high));
    }
    // The tree over the 16 lanes: lane l + width into lane l, for width = 8, 4, 2, 1.
    template <class Vector, int N>
    static NRN_INLINE auto add_lanes(const Vector (&v)[N]) {
        using T = std::decay_t<decltype(v[0][0])>;  // float or double
        T lanes[kSumLanes];
        static_assert(sizeof(lanes) == sizeof(v), "16 lanes");
        __builtin_memcpy(lanes, v, sizeof(lanes));
        for (int width = kSumLanes / 2; width >= 1; width /= 2) {
            for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
        }
        return lanes[0];
    }

    // Σ (p[i] − t[i])² in double; g[i] = (p[i] − t[i])/count where g is not null.
    static NRN_INLINE double squared_errors(const float* __restrict p, const float* __restrict t, float* __restrict g,
                                            int64_t n, float count) {
        double sum = 0.0;
        int64_t i = 0;
        if (n >= kSumLanes) {
            Doubles lanes[kDoubleVectors] = {};
            Floats c;
            splat(c, count);
            for (; i + kSumLanes <= n; i += kSumLanes) {
                for (int v = 0; v < kFloatVectors; ++v) {
                    Floats pv, tv;
                    load(pv, p + i + W * v);
                    load(tv, t + i + W * v);
                    const Floats d = pv - tv;
                    if (g != nullptr) {
                        const Floats gv = d / c;
                        __builtin_memcpy(g + i + W * v, &gv, sizeof(gv));
                    }
                    Doubles low, high;
                    to_doubles(d, low, high);
                    lanes[2 * v] += low * low;
                    lanes[2 * v + 1] += high * high;
                }
            }
            sum = add_lanes(lanes);
        }
        for (; i < n; ++i) {
            const float d = p[i] - t[i];
            if (g != nullptr) g[i] = d / count;
            sum += static_cast<double>(d) * static_cast<double>(d);
        }
        return sum;
    }

    // Σ a[i]·b[i], each product rounded to float and summed in float.
    static NRN_INLINE float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
        float sum = 0.0f;
        int64_t i = 0;
        if (n >= kSumLanes) {
            Floats lanes[kFloatVectors] = {};
            for (; i + kSumLanes <= n; i += kSumLanes) {
                for (int v = 0; v < kFloatVectors; ++v) {
                    Floats av, bv;
                    load(av, a + i + W * v);
                    load(bv, b + i + W * v);
                    lanes[v] += av * bv;
                }
            }
            sum = add_lanes(lanes);
        }
        for (; i < n; ++i) sum += a[i] * b[i];
        return sum;
    }

    // Σ a[i], each float summed in double.
    static NRN_INLINE double sum(const float* __restrict a, int64_t n) {
        double total = 0.0;
        int64_t i = 0;
        if (n >= kSumLanes) {
            Doubles lanes[kDoubleVectors] = {};
            for (; i + kSumLanes <= n; i += kSumLanes) {
                for (int v = 0; v < kFloatVectors; ++v) {
                    Floats av;
                    load(av, a + i + W * v);
                    Doubles low, high;
                    to_doubles(av, low, high);
                    lanes[2 * v] += low;
                    lanes[2 * v + 1] += high;
                }
            }
            total = add_lanes(lanes);
        }
        for (; i < n; ++i) total += static_cast<double>(a[i]);
        return total;
    }

    // Column sums: s[o] += Σ g[r·stride + o] over the rows [r0, r1) in order, each float summed
    // in double, for o in [0, count) (see bias_gradient). A block of rows at a time (see
    // kColumnSumRowBytes): kColumnBlock columns at a time keep their sums in registers over it,
    // then the last count mod W columns do (add_last_columns). Each column's terms come in row
    // order whatever the width, so every instruction set gives the same bits. Against the SSE2
    // loop this replaces (4 columns at a time; past 16 columns the sums went to memory and back
    // for every row), neuron_products_bench's bias gradient, best of five on one core of a 2-core
    // AVX-512 VM: 16,384 x 64 0.19 → 0.065 ms, 1,024 x 256 0.046 → 0.015 ms, 65,536 x 16 0.16 →
    // 0.066 ms, 4,096 x 300 0.22 → 0.11 ms, 65,536 x 15 0.26 → 0.16 ms, 65,536 x 3 0.13 → 0.047
    // ms. (GCC 12's own vectorisation of the plain loop moved two floats of four through the stack,
    // and took 8.4 ms over 65,536 x 256, against 3.1 ms for that SSE2 loop.)
    static constexpr int kColumnBlockVectors = 4, kColumnBlock = kColumnBlockVectors * W;
    static NRN_INLINE void columns(const float* __restrict g, int64_t stride, int64_t count, int64_t r0, int64_t r1,
                                   double* __restrict s) {
        const int64_t whole = count / W * W, last = count - whole;
        const int64_t rows_per_block =
            std::max<int64_t>(kMinColumnSumRows, kColumnSumRowBytes / (stride * int64_t{sizeof(float)}));
        for (int64_t rb = r0; rb < r1; rb += rows_per_block) {
            const int64_t re = std::min(r1, rb + rows_per_block);
            int64_t c = 0;
            for (; c + kColumnBlock <= whole; c += kColumnBlock) {
                add_rows<kColumnBlockVectors>(g + c, stride, rb, re, s + c);
            }
            static_assert(kColumnBlockVectors == 4, "one case per vector count");
            switch ((whole - c) / W) {
                case 3: add_rows<3>(g + c, stride, rb, re, s + c); break;
                case 2: add_rows<2>(g + c, stride, rb, re, s + c); break;
                case 1: add_rows<1>(g + c, stride, rb, re, s + c); break;
                default: break;
            }
            if (last > 0) add_last_columns(g + whole, stride, last, rb, re, s + whole);
        }
    }

    // s[0 ... V·W) += the columns [0, V·W) of g over the rows [r0, r1), in 2·V vectors of doubles.
    template <int V>
    static NRN_INLINE void add_rows(const float* __restrict g, int64_t stride, int64_t r0, int64_t r1,
                                    double* __restrict s) {
        Doubles sums[2 * V];
        __builtin_memcpy(sums, s, sizeof(sums));
        for (int64_t r = r0; r < r1; ++r) {
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) {
                Floats x;
                load(x, g + r * stride + v * W);
                Doubles low, high;
                to_doubles(x, low, high);
                sums[2 * v] += low;
                sums[2 * v + 1] += high;
            }
        }
        __builtin_memcpy(s, sums, sizeof(sums));
    }

    // As add_rows, for n < W columns (n ≤ count, so a row has at least n floats from g): in
    // ceil(n/4) groups of 4 in SSE vectors, the last one ending at column n, so that it overlaps
    // the one before (the columns they share get the same sums in both, from the same start), or
    // one by one for fewer than 4 columns. One pass over the rows for all of them: each sum waits
    // on its previous add, and separate passes would wait in turn.
    static NRN_INLINE void add_last_columns(const float* __restrict g, int64_t stride, int64_t n, int64_t r0,
                                            int64_t r1, double* __restrict s) {
        static_assert(W <= 16, "at most 4 groups of 4");
        switch (n < 4 ? 0 : (n + 3) / 4) {
            case 4: add_groups_of_4<4>(g, stride, n, r0, r1, s); break;
            case 3: add_groups_of_4<3>(g, stride, n, r0, r1, s); break;
            case 2: add_groups_of_4<2>(g, stride, n, r0, r1, s); break;
            case 1: add_groups_of_4<1>(g, stride, n, r0, r1, s); break;
            default:
                if (n == 3) add_scalars<3>(g, stride, r0, r1, s);
                if (n == 2) add_scalars<2>(g, stride, r0, r1, s);
                if (n == 1) add_scalars<1>(g, stride, r0, r1, s);
                break;
        }
    }

    template <int G>
    static NRN_INLINE void add_groups_of_4(const float* __restrict g, int64_t stride, int64_t n, int64_t r0,
                                           int64_t r1, double* __restrict s) {
        using Four = LongSums<4>;
        int64_t at[G];
        typename Four::Doubles sums[2 * G];
        for (int i = 0; i < G; ++i) {
            at[i] = std::min<int64_t>(4 * i, n - 4);
            __builtin_memcpy(&sums[2 * i], s + at[i], 2 * sizeof(sums[0]));
        }
        for (int64_t r = r0; r < r1; ++r) {
#pragma GCC unroll 4
            for (int i = 0; i < G; ++i) {
                typename Four::Floats x;
                Four::load(x, g + r * stride + at[i]);
                typename Four::Doubles low, high;
                Four::to_doubles(x, low, high);
                sums[2 * i] += low;
                sums[2 * i + 1] += high;
            }
        }
        for (int i = 0; i < G; ++i) __builtin_memcpy(s + at[i], &sums[2 * i], 2 * sizeof(sums[0]));
    }

    template <int N>
    static NRN_INLINE void add_scalars(const float* __restrict g, int64_t stride, int64_t r0, int64_t r1,
                                       double* __restrict s) {
        double sums[N];
        for (int c = 0; c < N; ++c) sums[c] = s[c];
        for (int64_t r = r0; r < r1; ++r) {
            for (int c = 0; c < N; ++c) sums[c] += static_cast<double>(g[r * stride + c]);
        }
        for (int c = 0; c < N; ++c) s[c] = sums[c];
    }

    // A 1 → 1 layer's step over rows [0, n): the squared errors as squared_errors sums them, the
    // weight gradient as dot and the bias gradient as sum, without writing the predictions or
    // gradients out. `count` is the whole batch's row count, which the gradient
    // (prediction − target)/count divides by.
    static NRN_INLINE OneByOneSums one_by_one(const float* __restrict x, const float* __restrict t, int64_t n,
                                              float weight, float bias, float count) {
        OneByOneSums sums;
        int64_t i = 0;
        if (n >= kSumLanes) {
            // Two passes over each block of rows, its gradients kept in g (in L1) between them:
            // in SSE2, the three sums' 20 vectors of lanes in one loop do not fit the 16
            // registers, and their adds went through the stack (65,536 rows on one thread:
            // 31.5 µs, against 29.2). Wider vectors need fewer registers, but one loop for all
            // widths is simpler to check.
            constexpr int64_t kBlock = 256;
            static_assert(kBlock % kSumLanes == 0, "blocks start at lane 0");
            alignas(64) float g[kBlock];
            Doubles squares[kDoubleVectors] = {}, bias_grads[kDoubleVectors] = {};
            Floats weight_grads[kFloatVectors] = {};
            Floats w, b, c;
            splat(w, weight), splat(b, bias), splat(c, count);
            const int64_t whole = n / kSumLanes * kSumLanes;
            while (i < whole) {
                const int64_t rows = std::min(kBlock, whole - i);
                for (int64_t j = 0; j < rows; j += kSumLanes) {
                    for (int v = 0; v < kFloatVectors; ++v) {
                        Floats xv, tv;
                        load(xv, x + i + j + W * v);
                        load(tv, t + i + j + W * v);
                        const Floats d = (b + xv * w) - tv;  // as linear_forward, then mse
                        Doubles low, high;
                        to_doubles(d, low, high);
                        squares[2 * v] += low * low;
                        squares[2 * v + 1] += high * high;
                        const Floats gv = d / c;
                        __builtin_memcpy(g + j + W * v, &gv, sizeof(gv));
                    }
                }
                for (int64_t j = 0; j < rows; j += kSumLanes) {
                    for (int v = 0; v < kFloatVectors; ++v) {
                        Floats xv, gv;
                        load(xv, x + i + j + W * v);
                        load(gv, g + j + W * v);
                        weight_grads[v] += xv * gv;
                        Doubles low, high;
                        to_doubles(gv, low, high);
                        bias_grads[2 * v] += low;
                        bias_grads[2 * v + 1] += high;
                    }
                }
                i += rows;
            }
            sums.squares = add_lanes(squares);
            sums.weight_grad = add_lanes(weight_grads);
            sums.bias_grad = add_lanes(bias_grads);
        }
        add_one_by_one_rows(x, t, i, n, weight, bias, count, sums);
        return sums;
    }
};

// cvtps2pd straight from the register's halves (see low_doubles).
template <>
NRN_INLINE void LongSums<4>::to_doubles(const Floats& x, Doubles& low, Doubles& high) {
    low = low_doubles(x), high = high_doubles(x);
}

// The long sums of one part, compiled for each instruction set and picked with the matrix
// kernels (NEURON_HOST_SIMD included).
struct SumKernels {
    double (*squared_errors)(const float* p, const float* t, float* g, int64_t n, float count);
    float (*dot)(const float* a, const float* b, int64_t n);
    double (*sum)(const float* a, int64_t n);
    OneByOneSums (*one_by_one)(const float* x, const float* t, int64_t n, float weight, float bias, float count);
    void (*columns)(const float* g, int64_t cols, int64_t r0, int64_t r1, double* s);
};

// SumKernels' functions for an instruction set: squared_errors_<suffix> and so on, each one
// LongSums<width> function compiled with `attributes`.
#define NRN_LONG_SUMS_FOR(suffix, width, attributes)                                                          \
    attributes double squared_errors_##suffix(const float* p, const float* t, float* g, int64_t n, float count) { \
        return LongSums<width>::squared_errors(p, t, g, n, count);                                          \
    }                                                                                                       \
    attributes float dot_##suffix(const float* a, const float* b, int64_t n) {                              \
        return LongSums<width>::dot(a, b, n);                                                               \
    }                                                                                                       \
    attributes double sum_##suffix(const float* a, int64_t n) { return LongSums<width>::sum(a, n); }         \
    attributes OneByOneSums one_by_one_##suffix(const float* x, const float* t, int64_t n, float weight,    \
                                                float bias, float count) {                                  \
        return LongSums<width>::one_by_one(x, t, n, weight, bias, count);                                   \
    }                                                                                                       \
    attributes void columns_##suffix(const float* g, int64_t cols, int64_t r0, int64_t r1, double* s) {    \
        std::fill(s, s + cols, 0.0);                                                                        \
        LongSums<width>::columns(g, cols, cols, r0, r1, s);                                                 \
    }
#ifdef NRN_HOST_X86_DISPATCH
NRN_LONG_SUMS_FOR(avx512, 16, __attribute__((target("avx512f"))))
NRN_LONG_SUMS_FOR(avx2, 8, __attribute__((target("avx2"))))
#endif
NRN_LONG_SUMS_FOR(baseline, 4, )
#undef NRN_LONG_SUMS_FOR

const SumKernels& sum_kernels() {
    static const SumKernels chosen = [] {
        const std::string simd = simd_name();
#ifdef NRN_HOST_X86_DISPATCH
        if (simd == "avx512") {
            return SumKernels{&squared_errors_avx512, &dot_avx512, &sum_avx512, &one_by_one_avx512, &columns_avx512};
        }
        if (simd == "avx2") {
            return SumKernels{&squared_errors_avx2, &dot_avx2, &sum_avx2, &one_by_one_avx2, &columns_avx2};
        }
#endif
        return SumKernels{&squared_errors_baseline, &dot_baseline, &sum_baseline, &one_by_one_baseline,
                          &columns_baseline};
    }();
    return chosen;
}

// Σ a[i]·b[i] (in float) and Σ a[i] (in double) over the parts of a long sum.
float dot_product(const float* a, const float* b, int64_t n) {
    const auto dot = sum_kernels().dot;
    return sum_over_parts<float>(n, Spread::ByTerms,
                                 [=](int64_t begin, int64_t end) { return dot(a + begin, b + begin, end - begin); });
}
double sum_in_double(const float* a, int64_t n) {
    const auto sum = sum_kernels().sum;
    return sum_over_parts<double>(n, Spread::ByTerms,
                                  [=](int64_t begin, int64_t end) { return sum(a + begin, end - begin); });
}

// A bias gradient of more than one column sums its columns in double, over parts of the batch:
// part p is rows [batch·p/parts, batch·(p + 1)/parts), each part's rows are summed in order from
// zero, on one thread, and the parts' sums are added in order. How many parts follows from the
// shape alone: one per kMinSumsPerThread terms (a thread's worth, about as long as waking it),
// up to kMaxColumnSumParts.
constexpr int64_t kMinSumsPerThread = 1 << 18;
constexpr int64_t kMaxColumnSumParts = 16;

int64_t column_sum_parts(int64_t batch, int64_t out) {
    const int64_t terms = batch * out;  // the elements of a tensor: no overflow
    return terms < 2 * kMinSumsPerThread ? 1 : std::min({kMaxColumnSumParts, batch, terms / kMinSumsPerThread});
}

// The bias sums linear_backward keeps in Scratch: none for one column, summed in a register;
// else `out` sums per part (as many or fewer for a smaller batch).
int64_t bias_sums(int64_t batch, int64_t out) { return out > 1 ? column_sum_parts(batch, out) * out : 0; }

// gb[o] (+)= Σ_rows gy[r][o], summed in double over parts of the batch (column_sum_parts), in the
// calling thread's Scratch (reserved by the caller). Not inlined, like gemm: a 1 → 1 layer's
// steps call neither, and linear_backward stays lean for them.
__attribute__((noinline)) void bias_gradient(const float* gy, float* gb, int64_t batch, int64_t out, bool accumulate) {
    double* const sums = scratch().sums.data();
    const int64_t parts = column_sum_parts(batch, out);
    const auto sum_columns = sum_kernels().columns;
    if (parts == 1) {
        sum_columns(gy, out, 0, batch, sums);
    } else {
        // Each part has at least kMinSumsPerThread terms, so pass_threads gives it a thread of its
        // own up to the pool's size; it is asked all the same, so that every pass over a batch
        // takes its threads from one place. (The two bounds are equal but not the same thing:
        // kMinSumsPerThread sets the parts, and so the bits; pass_threads only the threads.)
        parallel_tasks(parts, pass_threads(parts, batch * out), [&](int64_t first, int64_t last, int64_t) {
            for (int64_t p = first; p < last; ++p) {
                sum_columns(gy, out, batch * p / parts, batch * (p + 1) / parts, sums + p * out);
            }
        });
    }
    for (int64_t o = 0; o < out; ++o) {
        double s = sums[o];
        for (int64_t p = 1; p < parts; ++p) s += sums[p * out + o];
        gb[o] = accumulate ? static_cast<float>(static_cast<double>(gb[o]) + s) : static_cast<float>(s);
    }
}

}  // namespace

void reserve_linear(int64_t batch, int64_t in, int64_t out) {
    ScratchSizes sizes = ScratchSizes::largest(
        ScratchSizes::largest(product_scratch_up_to(batch, in, out), product_scratch_up_to(batch, out, in)),
        product_scratch_up_to(in, batch, out));
    sizes.bias_sums = bias_sums(batch, out);
    reserve_scratch(sizes);
}

void linear_forward(const float* x, const float* w, const float* b, float* y,
                    int64_t batch, int64_t in, int64_t out) {
    if (in == 1 && out == 1) {
        // A 1 → 1 layer in one pass: the bias, then x·w added, as the product below would. Over
        // the parts and threads of a long sum of its rows, as the error's pass and the gradients
        // after it take them, so that each thread then reads the predictions it wrote. (On one
        // thread, a step over 1,048,576 rows on 2 cores took 797 µs, its forward 395 µs; now
        // 365 and 110 µs: neuron_steps_bench, min of 5 runs.)
        const float bias = b != nullptr ? b[0] : 0.0f, weight = w[0];
        const int64_t parts = long_sum_parts(batch);
        parallel_tasks(parts, pass_threads(parts, batch), [=](int64_t first, int64_t last, int64_t) {
            for (int64_t r = batch * first / parts; r < batch * last / parts; ++r) y[r] = bias + x[r] * weight;
        });
        return;
    }
    reserve_scratch(product_scratch(batch, in, out));
    // Each sum starts from the bias (or zero) and adds its terms in increasing k.
    gemm(x, in, 1, w, out, 1, y, batch, in, out, b != nullptr ? Start::Row : Start::Zero, b);
}

void linear_backward(const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb,
                     int64_t batch, int64_t in, int64_t out, bool accumulate) {
    const bool one_weight = in == 1 && out == 1;  // its gradient is a dot product, below
    ScratchSizes sizes =
        ScratchSizes::largest(gx != nullptr ? product_scratch(batch, out, in) : ScratchSizes{},
                              gw != nullptr && !one_weight ? product_scratch(in, batch, out) : ScratchSizes{});
    sizes.bias_sums = gb != nullptr ? bias_sums(batch, out) : 0;
    reserve_scratch(sizes);
    if (gx != nullptr) {
        // gx[r][i] (+)= Σ_o gy[r][o] · w[i][o]: the product kernel with wᵀ as its right operand.
        gemm(gy, out, 1, w, 1, out, gx, batch, out, in, accumulate ? Start::Out : Start::Zero);
    }
    if (gw != nullptr && one_weight) {
        // A 1 → 1 layer's one weight: a dot product over the batch, in lanes (Long sums, above).
        const float sum = dot_product(x, gy, batch);
        gw[0] = accumulate ? gw[0] + sum : sum;
    } else if (gw != nullptr) {
        // gw[i][o] (+)= Σ_r x[r][i] · gy[r][o]: the forward kernel with xᵀ as its left operand.
        gemm(x, 1, in, gy, out, 1, gw, in, batch, out, accumulate ? Start::Out : Start::Zero);
    }
    if (gb != nullptr && out == 1) {
        // One column: its sum in lanes (Long sums, above), not through the buffer below.
        const double sum = sum_in_double(gy, batch);
        gb[0] = accumulate ? static_cast<float>(static_cast<double>(gb[0]) + sum) : static_cast<float>(sum);
    } else if (gb != nullptr) {
        bias_gradient(gy, gb, batch, out, accumulate);
    }
}

float mse(const float* prediction, const float* target, float* grad, int64_t count) {
    // The squares summed in double lanes, over the parts of a long sum (Long sums, above).
    const float n = static_cast<float>(count);
    const auto squared_errors = sum_kernels().squared_errors;
    const double sum = sum_over_parts<double>(count, Spread::ByTerms, [=](int64_t begin, int64_t end) {
        return squared_errors(prediction + begin, target + begin, grad != nullptr ? grad + begin : nullptr,
                              end - begin, n);
    });
    return mse_error(sum, count);
}

float linear_mse_sgd_step_one_by_one(const float* x, const float* t, float* w, float* b, int64_t batch,
                                     float learning_rate) {
    const float weight = w[0], bias = b != nullptr ? b[0] : 0.0f, count = static_cast<float>(batch);
    OneByOneSums sums;
    if (batch < kSumLanes) {  // no lanes to fill: the rows in order, without the kernel's call (a tutorial step)
        add_one_by_one_rows(x, t, 0, batch, weight, bias, count, sums);
    } else {
        const auto one_by_one = sum_kernels().one_by_one;
        sums = sum_over_parts<OneByOneSums>(batch, Spread::PerPart, [=](int64_t begin, int64_t end) {
            return one_by_one(x + begin, t + begin, end - begin, weight, bias, count);
        });
    }
    // As linear_backward (overwriting) then sgd_update.
    w[0] -= learning_rate * sums.weight_grad;
    if (b != nullptr) b[0] -= learning_rate * static_cast<float>(sums.bias_grad);
    return mse_error(sums.squares, batch);
}

void sgd_update(float* __restrict param, const float* __restrict grad, int64_t count, float learning_rate) {
    for (int64_t i = 0; i < count; ++i) param[i] -= learning_rate * grad[i];
}

// ---------------------------------------------------------------------------------------
// Fills and copies
// ---------------------------------------------------------------------------------------
namespace {

// A fill or copy is split into blocks of kElementsPerBlock floats (4 KiB, so no two threads write
// one cache line), each thread taking a run of whole blocks; every element is computed from its
// index alone, so the result does not depend on how many threads share the work.
constexpr int64_t kElementsPerBlock = 1024;

// The least elements a thread is woken for, by what each costs: two threads start at twice
// these. Measured on a 2-vCPU VM (neuron_fills_bench, best of 7; ms on one thread against two
// given every block, ranges of three runs), at these counts two threads were no faster than one
// on a fill (2^18 floats: 0.023-0.044 against 0.023-0.045), faster on a copy (0.028-0.034
// against 0.016-0.018), and slower in one run of three on the draws: fill_uniform (about 3 ns an
// element) over 65,536 0.21-0.32 against 0.17-0.33, fill_normal (about 38 ns: libm's log and cos
// in double) over 16,384 0.47-0.66 against 0.31-0.67. At four times these, two threads were
// faster in every run: fill_uniform over 2^18 0.82-1.29 against 0.65-0.67, fill_normal over
// 65,536 2.4-2.9 against 1.5-3.0.
constexpr int64_t kMinCopiedPerThread = 1 << 18;
constexpr int64_t kMinUniformPerThread = 1 << 16;
constexpr int64_t kMinNormalPerThread = 1 << 14;

// Runs body(begin, end) over [0, count) in runs of whole blocks, on up to one thread per
// min_per_thread elements.
template <class Body>
void elementwise(int64_t count, int64_t min_per_thread, const Body& body) {
    const int64_t blocks = ceil_div(count, kElementsPerBlock);
    const int64_t threads = std::max<int64_t>(1, std::min<int64_t>({max_threads(), blocks, count / min_per_thread}));
    parallel_tasks(blocks, threads, [&](int64_t first, int64_t last, int64_t) {
        body(first * kElementsPerBlock, std::min(count, last * kElementsPerBlock));
    });
}

}  // namespace

void fill(float* data, int64_t count, float value) {
    elementwise(count, kMinCopiedPerThread, [=](int64_t begin, int64_t end) { std::fill(data + begin, data + end, value); });
}

void fill_uniform(float* data, int64_t count, float low, float high, uint64_t seed) {
    elementwise(count, kMinUniformPerThread, [=](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) data[i] = uniform(seed, static_cast<uint64_t>(i), low, high);
    });
}

void fill_normal(float* data, int64_t count, float mean, float stddev, uint64_t seed) {
    elementwise(count, kMinNormalPerThread, [=](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) data[i] = mean + stddev * standard_normal(seed, static_cast<uint64_t>(i));
    });
}

void copy(float* destination, const float* source, int64_t count) {
    elementwise(count, kMinCopiedPerThread, [=](int64_t begin, int64_t end) {
        std::memcpy(destination + begin, source + begin, static_cast<size_t>(end - begin) * sizeof(float));
    });
}

}  // namespace nrn::host
