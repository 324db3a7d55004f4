// Every operation of every present backend against the naive double-precision reference,
// on random shapes including 1, primes and sizes that are not multiples of any tile.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "accumulator.h"
#include "harness.h"
#include "random.h"

using namespace test;

namespace {

struct LinearShape {
    int64_t batch, in, out;
};

// 1 → 1 layers on 15, 16 and 1,000 rows: the host sums their gradients over the batch 16 terms
// at a time in 16 lanes, then the rest one by one (host_kernels.cpp, Long sums): here no round
// of lanes, one round and nothing after, and 62 rounds and 8 terms after.
const LinearShape kShapes[] = {
    {1, 1, 1},     {1, 7, 3},    {3, 5, 2},      {2, 1, 9},       {7, 17, 31},   {31, 65, 1},  {5, 3, 129},
    {65, 127, 129}, {17, 257, 7}, {129, 31, 257}, {257, 64, 128},  {64, 128, 32}, {1, 300, 1000},
    {1000, 300, 10}, {1000, 300, 129}, {15, 1, 1}, {16, 1, 1}, {1000, 1, 1},
    // Narrow products summed in vectors of rows (host_kernels.cpp), with whole and short strips:
    // rows read in place (weight gradients, over more than one depth block; a forward of one
    // input, an input gradient of one output) and rows transposed (forwards, input gradients).
    {300, 40, 3}, {130, 97, 2}, {1000, 16, 1}, {200, 1, 5}, {150, 6, 1}, {500, 12, 3}, {200, 5, 12}, {100, 3, 3},
    // Bias gradients (host_kernels.cpp, LongSums::columns; 129 to 300 outputs above take several
    // blocks of columns and of rows): one whole vector of columns (16 with AVX-512), and after
    // whole vectors 5 and 13 columns in groups of 4 whose last one overlaps the one before,
    // 1 column alone, over several blocks of rows.
    {33, 9, 16}, {700, 3, 21}, {300, 2, 29}, {500, 4, 17},
    // Products of 8 to 16 columns, on the host's micro-kernel of one vector per row: whole panels
    // of 16 (8 with AVX2) and strips of 16 rows over 2 depth blocks, then a short strip; panels
    // of 8 columns in 16 (AVX-512).
    {300, 200, 16}, {96, 8, 8},
    // Products of 1 to 4 rows, summed over the whole depth in registers (host_kernels.cpp, short
    // products; {2, 1, 9}, {5, 3, 129}, {1, 300, 1000}, {200, 1, 5} and {100, 3, 3} above are
    // such too): forwards over 4, 3 and 2 rows, weight gradients of 2 and 1 inputs; blocks of
    // whole vectors, of half as many, of narrower vectors, and the last 1, 2 or 3 columns; and
    // fewer columns than the micro-kernel takes.
    {4, 33, 100}, {3, 17, 16}, {2, 9, 8}, {4, 20, 18}, {1000, 2, 47}, {70, 1, 300}, {1000, 2, 7}, {3, 40, 5},
    {2, 6, 2},
};

// Products of few output tiles over a long depth, which the host splits along the depth into
// parts (host_kernels.cpp, depth_parts; {1000, 300, 129} above has 2 parts in its weight
// gradient). Weight gradients: 4 parts of 4 or 5 depth blocks, the last one short, over 2 x 2
// output tiles; 16 narrow parts; 8 parts of a short product over 2 column tiles. A forward: 3
// parts over 4 row tiles. The first shape's bias gradient is summed in 2 parts of the batch
// (column_sum_parts). Host only: the emulated CUDA kernels would take a minute over these.
const LinearShape kDepthPartShapes[] = {{2200, 70, 257}, {100000, 33, 5}, {20000, 3, 300}, {256, 1500, 60}};

std::string describe(const Context& context, const LinearShape& s) {
    return context.name() + " " + std::to_string(s.batch) + "x" + std::to_string(s.in) + "x" + std::to_string(s.out);
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The forward of shape s, with each kind of bias and without, against the reference.
void check_forward(const Context& context, const LinearShape& s, std::mt19937_64& rng) {
    const auto x = random_values(rng, s.batch * s.in), w = random_values(rng, s.in * s.out),
               b = random_values(rng, s.out);
    Tensor tx(context, {s.batch, s.in}, x), tw(context, {s.in, s.out}, w);
    Tensor tb1(context, {s.out}, b), tb2(context, {1, s.out}, b);
    Tensor ty(context, {s.batch, s.out});
    const double atol = product_atol(s.in + 1), rtol = 1e-5;
    for (int mode = 0; mode < 3; ++mode) {  // 1-D bias, 1 x out bias, no bias
        REQUIRE_OK(nrn_tensor_fill(context, ty, kNaN));
        const nrn_tensor* bias = mode == 0 ? tb1.get() : mode == 1 ? tb2.get() : nullptr;
        REQUIRE_OK(nrn_linear_forward(context, tx, tw, bias, ty));
        const auto expected = reference_forward(x, w, mode == 2 ? std::vector<float>{} : b, s.batch, s.in, s.out);
        CHECK_CLOSE(ty.read(), expected, atol, rtol,
                    "forward " + describe(context, s) + (mode == 0 ? " bias" : mode == 1 ? " 1xout bias" : " no bias"));
    }
}

// The backward of shape s, for each set of gradients asked for, overwriting and accumulating,
// against the reference.
void check_backward(const Context& context, const LinearShape& s, std::mt19937_64& rng) {
    const auto x = random_values(rng, s.batch * s.in), w = random_values(rng, s.in * s.out),
               gy = random_values(rng, s.batch * s.out);
    const auto old_gx = random_values(rng, s.batch * s.in), old_gw = random_values(rng, s.in * s.out),
               old_gb = random_values(rng, s.out);
    Tensor tx(context, {s.batch, s.in}, x), tw(context, {s.in, s.out}, w), tgy(context, {s.batch, s.out}, gy);
    Tensor tgx(context, {s.batch, s.in}), tgw(context, {s.in, s.out}), tgb(context, {s.out});
    const BackwardReference ref = reference_backward(x, w, gy, s.batch, s.in, s.out);
    const double rtol = 1e-5;
    // Which gradients are asked for: all, dX only, dW and db, db only.
    const bool wanted[4][3] = {{true, true, true}, {true, false, false}, {false, true, true}, {false, false, true}};
    for (nrn_grad_mode mode : {NRN_GRAD_OVERWRITE, NRN_GRAD_ACCUMULATE}) {
        const bool accumulate = mode == NRN_GRAD_ACCUMULATE;
        for (const auto& want : wanted) {
            // Overwrite must not read the buffers: start them as NaN.
            if (accumulate) {
                tgx.write(old_gx), tgw.write(old_gw), tgb.write(old_gb);
            } else {
                for (nrn_tensor* t : {tgx.get(), tgw.get(), tgb.get()}) REQUIRE_OK(nrn_tensor_fill(context, t, kNaN));
            }
            const auto before_gx = tgx.read(), before_gw = tgw.read(), before_gb = tgb.read();
            REQUIRE_OK(nrn_linear_backward(context, tx, tw, tgy, want[0] ? tgx.get() : nullptr,
                                           want[1] ? tgw.get() : nullptr, want[2] ? tgb.get() : nullptr, mode));
            auto expect = [&](const std::vector<double>& grad, const std::vector<float>& old) {
                std::vector<double> e = grad;
                if (accumulate) {
                    for (size_t i = 0; i < e.size(); ++i) e[i] += old[i];
                }
                return e;
            };
            const std::string what = describe(context, s) + (accumulate ? " accumulate" : " overwrite");
            if (want[0]) {
                CHECK_CLOSE(tgx.read(), expect(ref.gx, old_gx), product_atol(s.out + 1), rtol, "dX " + what);
            } else {
                CHECK_IDENTICAL(tgx.read(), before_gx, "dX not asked for, untouched " + what);
            }
            if (want[1]) {
                CHECK_CLOSE(tgw.read(), expect(ref.gw, old_gw), product_atol(s.batch + 1), rtol, "dW " + what);
            } else {
                CHECK_IDENTICAL(tgw.read(), before_gw, "dW not asked for, untouched " + what);
            }
            if (want[2]) {
                CHECK_CLOSE(tgb.read(), expect(ref.gb, old_gb), product_atol(s.batch + 1), rtol, "db " + what);
            } else {
                CHECK_IDENTICAL(tgb.read(), before_gb, "db not asked for, untouched " + what);
            }
        }
    }
}

}  // namespace

// CTest runs this area again with NEURON_HOST_SIMD=avx2 and =baseline: those runs test the
// narrower kernels only if the setting took effect.
TEST_CASE(ops_vs_reference, the_host_kernels_asked_for_are_the_ones_used) {
    nrn_host_properties info{};
    REQUIRE_OK(nrn_host_info(&info));
    note(std::string("host kernels: ") + info.simd + ", " + std::to_string(info.threads) + " threads");
    const char* requested = std::getenv("NEURON_HOST_SIMD");
    const std::string simd = info.simd;
    if (requested != nullptr && std::string(requested) == "baseline") CHECK_MSG(simd == "baseline", simd);
    if (requested != nullptr && std::string(requested) == "avx2")
        CHECK_MSG(simd == "avx2" || simd == "baseline", simd << " (a CPU without AVX2 runs baseline)");
    CHECK(info.threads >= 1 && info.threads <= 256);
}

TEST_CASE(ops_vs_reference, linear_forward_matches_reference) {
    std::mt19937_64 rng(1);
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        for (const LinearShape& s : kShapes) check_forward(context, s, rng);
    }
}

TEST_CASE(ops_vs_reference, linear_backward_matches_reference) {
    std::mt19937_64 rng(2);
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        for (const LinearShape& s : kShapes) check_backward(context, s, rng);
    }
}

TEST_CASE(ops_vs_reference, host_products_split_along_the_depth_match_reference) {
    std::mt19937_64 rng(4);
    Context context(NRN_BACKEND_HOST);
    for (const LinearShape& s : kDepthPartShapes) {
        check_forward(context, s, rng);
        check_backward(context, s, rng);
    }
}

TEST_CASE(ops_vs_reference, mse_matches_reference) {
    std::mt19937_64 rng(3);
    const std::vector<std::vector<int64_t>> shapes = {{1}, {7}, {1, 1}, {3, 5}, {31, 17}, {129, 3}, {1000, 300}, {2, 3, 5}};
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        for (const auto& shape : shapes) {
            int64_t count = 1;
            for (int64_t d : shape) count *= d;
            const auto p = random_values(rng, count, -3.0f, 3.0f), t = random_values(rng, count, -3.0f, 3.0f);
            Tensor tp(context, shape, p), tt(context, shape, t), tg(context, shape), te(context, {1});
            Tensor ta(context, {NRN_ACCUMULATOR_SIZE});
            REQUIRE_OK(nrn_accumulator_reset(context, ta));
            REQUIRE_OK(nrn_tensor_fill(context, tg, kNaN));
            const MseReference ref = reference_mse(p, t);
            const std::string what = context.name() + " " + shape_text(shape);
            REQUIRE_OK(nrn_mse(context, tp, tt, tg, te, ta));
            CHECK_CLOSE(tg.read(), ref.grad, 1e-7, 1e-6, "mse grad " + what);
            CHECK_CLOSE(te.read(), std::vector<double>{ref.error}, 1e-7, 1e-5, "mse error " + what);
            // Only the error, no gradient; accumulated a second time.
            REQUIRE_OK(nrn_tensor_fill(context, te, kNaN));
            REQUIRE_OK(nrn_mse(context, tp, tt, nullptr, te, ta));
            CHECK_CLOSE(te.read(), std::vector<double>{ref.error}, 1e-7, 1e-5, "mse error without grad " + what);
            double error_sum = 0, samples = 0;
            REQUIRE_OK(nrn_accumulator_read(context, ta, &error_sum, &samples));
            const double batch = static_cast<double>(shape[0]);
            CHECK_MSG(samples == 2 * batch, what << ": accumulator counted " << samples << " samples, expected " << 2 * batch);
            CHECK_MSG(std::fabs(error_sum - 2 * batch * ref.error) <= 1e-5 * (1 + 2 * batch * ref.error),
                      what << ": accumulator error sum " << error_sum << ", expected " << 2 * batch * ref.error);
            REQUIRE_OK(nrn_accumulator_reset(context, ta));
            REQUIRE_OK(nrn_accumulator_read(context, ta, &error_sum, &samples));
            CHECK(error_sum == 0 && samples == 0);
        }
    }
}

TEST_CASE(ops_vs_reference, accumulator_mean_over_many_batches) {
    std::mt19937_64 rng(4);
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        Tensor ta(context, {NRN_ACCUMULATOR_SIZE});
        REQUIRE_OK(nrn_accumulator_reset(context, ta));
        double expected_sum = 0, expected_count = 0;
        for (int i = 0; i < 200; ++i) {
            const int64_t batch = 1 + static_cast<int64_t>(rng() % 37);
            const auto p = random_values(rng, batch * 3), t = random_values(rng, batch * 3);
            Tensor tp(context, {batch, 3}, p), tt(context, {batch, 3}, t), te(context, {1});
            REQUIRE_OK(nrn_mse(context, tp, tt, nullptr, te, ta));
            expected_sum += static_cast<double>(te.read()[0]) * static_cast<double>(batch);
            expected_count += static_cast<double>(batch);
        }
        double error_sum = 0, samples = 0;
        REQUIRE_OK(nrn_accumulator_read(context, ta, &error_sum, &samples));
        CHECK_MSG(samples == expected_count, context.name() << ": " << samples << " samples, expected " << expected_count);
        CHECK_MSG(std::fabs(error_sum / samples - expected_sum / expected_count) <= 1e-6 * expected_sum / expected_count,
                  context.name() << ": mean " << error_sum / samples << ", expected " << expected_sum / expected_count);
    }
}

// A long run's totals: past 2^25 samples a float sum with a float compensation stops counting
// (its sum sticks at 2^24 and its compensation fills up to 2^24). Each backend then carries on
// from such a state, as one long training call or a loop without resets does.
TEST_CASE(ops_vs_reference, accumulator_counts_past_2_to_the_25_samples_exactly) {
    const int64_t ones = 40'000'000, threes = 12'000'000;
    float state[NRN_ACCUMULATOR_SIZE] = {0, 0, 0, 0};
    for (int64_t i = 0; i < ones; ++i) nrn::accumulator_add(state, 0.5f, 1);
    double error_sum = 0, samples = 0;
    nrn::accumulator_totals(state, &error_sum, &samples);
    CHECK_MSG(samples == static_cast<double>(ones), samples << " samples after " << ones << " batches of 1");
    CHECK_MSG(error_sum == 0.5 * static_cast<double>(ones), "error sum " << error_sum << " after " << ones << " batches");

    const float error = 0.1f;
    for (int64_t i = 0; i < threes; ++i) nrn::accumulator_add(state, error, 3);
    nrn::accumulator_totals(state, &error_sum, &samples);
    const double expected_samples = static_cast<double>(ones + 3 * threes);
    const double expected_sum = 0.5 * static_cast<double>(ones) + static_cast<double>(error * 3.0f) * static_cast<double>(threes);
    CHECK_MSG(samples == expected_samples, samples << " samples, expected " << expected_samples);
    CHECK_MSG(std::fabs(error_sum - expected_sum) <= 1e-12 * expected_sum, "error sum " << error_sum << ", expected " << expected_sum);

    const int calls = 100;
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        Tensor ta(context, {NRN_ACCUMULATOR_SIZE}, std::vector<float>(state, state + NRN_ACCUMULATOR_SIZE));
        Tensor prediction(context, {1, 1}, {0.0f}), target(context, {1, 1}, {1.0f});  // error 1²/2
        for (int call = 0; call < calls; ++call) REQUIRE_OK(nrn_mse(context, prediction, target, nullptr, nullptr, ta));
        double device_sum = 0, device_samples = 0;
        REQUIRE_OK(nrn_accumulator_read(context, ta, &device_sum, &device_samples));
        CHECK_MSG(device_samples == expected_samples + calls,
                  context.name() << ": " << device_samples << " samples, expected " << expected_samples + calls);
        CHECK_MSG(std::fabs(device_sum - (expected_sum + 0.5 * calls)) <= 1e-12 * expected_sum,
                  context.name() << ": error sum " << device_sum << ", expected " << expected_sum + 0.5 * calls);
    }
}

// An error that overflows float (a diverging run) makes the mean infinite, not NaN, and later
// finite errors keep it infinite; only an accumulator reset starts afresh.
TEST_CASE(ops_vs_reference, accumulator_keeps_an_infinite_error_infinite) {
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        Tensor ta(context, {NRN_ACCUMULATOR_SIZE}, std::vector<float>(NRN_ACCUMULATOR_SIZE, 0.0f));
        Tensor small(context, {1, 1}, {0.5f}), huge(context, {1, 1}, {3e19f}), zero(context, {1, 1}, {0.0f});
        REQUIRE_OK(nrn_mse(context, small, zero, nullptr, nullptr, ta));  // error 0.125
        REQUIRE_OK(nrn_mse(context, huge, zero, nullptr, nullptr, ta));   // (3e19)²/2 overflows float
        REQUIRE_OK(nrn_mse(context, small, zero, nullptr, nullptr, ta));
        double error_sum = 0, samples = 0;
        REQUIRE_OK(nrn_accumulator_read(context, ta, &error_sum, &samples));
        CHECK_MSG(std::isinf(error_sum) && error_sum > 0, context.name() << ": error sum " << error_sum << ", expected +inf");
        CHECK_MSG(samples == 3, context.name() << ": " << samples << " samples, expected 3");
    }
    // The total can also overflow in the fold of the rounding error, after a finite first sum.
    float hi = FLT_MAX, lo = 0.0f;
    for (int i = 0; i < 2; ++i) nrn::float_float_add(&hi, &lo, std::ldexp(1.0f, 102));
    CHECK_MSG(std::isinf(hi) && hi > 0 && lo == 0.0f, "FLT_MAX + 2 * 2^102 gives hi " << hi << ", lo " << lo);
    // The same through nrn_mse on each backend: an error of 2^102 (a row of 2^52 and 0 against
    // zeros), added twice to a sum at FLT_MAX, carries the total past the float range only in
    // the fold; the total is +inf, not inf - inf = NaN.
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        Tensor ta(context, {NRN_ACCUMULATOR_SIZE}, {FLT_MAX, 0.0f, 0.0f, 0.0f});
        Tensor prediction(context, {1, 2}, {std::ldexp(1.0f, 52), 0.0f}), zero(context, {1, 2}, {0.0f, 0.0f});
        for (int i = 0; i < 2; ++i) REQUIRE_OK(nrn_mse(context, prediction, zero, nullptr, nullptr, ta));
        double error_sum = 0, samples = 0;
        REQUIRE_OK(nrn_accumulator_read(context, ta, &error_sum, &samples));
        CHECK_MSG(std::isinf(error_sum) && error_sum > 0, context.name() << ": error sum " << error_sum << ", expected +inf");
        CHECK_MSG(samples == 2, context.name() << ": " << samples << " samples, expected 2");
    }
}

TEST_CASE(ops_vs_reference, sgd_update_matches_reference) {
    std::mt19937_64 rng(5);
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        for (int64_t count : {1, 3, 17, 129, 1000, 65537}) {
            const auto p = random_values(rng, count), g = random_values(rng, count);
            Tensor tp(context, {count}, p), tg(context, {count}, g);
            const float lr = 0.37f;
            REQUIRE_OK(nrn_sgd_update(context, tp, tg, lr));
            std::vector<double> expected(p.size());
            for (size_t i = 0; i < p.size(); ++i) expected[i] = static_cast<double>(p[i]) - static_cast<double>(lr) * g[i];
            CHECK_CLOSE(tp.read(), expected, 1e-7, 1e-6, "sgd " + context.name() + " " + std::to_string(count));
            // Same element count, different shape: allowed.
            if (count == 1000) {
                Tensor tg2(context, {10, 100}, g);
                REQUIRE_OK(nrn_sgd_update(context, tp, tg2, -lr));
                CHECK_CLOSE(tp.read(), to_double(p), 1e-6, 1e-6, "sgd back " + context.name());
            }
        }
    }
}

TEST_CASE(ops_vs_reference, copies_views_and_rows) {
    std::mt19937_64 rng(6);
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        const std::string name = context.name();
        const auto a = random_values(rng, 13 * 7);
        Tensor ta(context, {13, 7}, a);
        CHECK_IDENTICAL(ta.read(), a, "copy to and from host " + name);

        // Shape queries.
        int32_t ndim = 0;
        int64_t shape[NRN_MAX_DIMS] = {}, count = 0;
        REQUIRE_OK(nrn_tensor_ndim(ta, &ndim));
        REQUIRE_OK(nrn_tensor_shape(ta, NRN_MAX_DIMS, shape));
        REQUIRE_OK(nrn_tensor_element_count(ta, &count));
        CHECK(ndim == 2 && shape[0] == 13 && shape[1] == 7 && count == 91);
        int64_t exact[2] = {};  // room for exactly ndim dimensions is enough
        REQUIRE_OK(nrn_tensor_shape(ta, 2, exact));
        CHECK(exact[0] == 13 && exact[1] == 7);

        // Tensor copy.
        Tensor tb(context, {7, 13});
        REQUIRE_OK(nrn_tensor_copy(context, ta, tb));
        CHECK_IDENTICAL(tb.read(), a, "nrn_tensor_copy " + name);

        // A view of rows 4..9 reads and writes the source's memory.
        nrn_tensor* view = nullptr;
        REQUIRE_OK(nrn_tensor_view_rows(ta, 4, 6, &view));
        std::vector<float> got(6 * 7);
        REQUIRE_OK(nrn_tensor_copy_to_host(context, view, got.data(), 42));
        CHECK_IDENTICAL(got, std::vector<float>(a.begin() + 28, a.begin() + 70), "view_rows reads " + name);
        REQUIRE_OK(nrn_tensor_shape(view, NRN_MAX_DIMS, shape));
        CHECK(shape[0] == 6 && shape[1] == 7);
        REQUIRE_OK(nrn_tensor_fill(context, view, 5.0f));
        std::vector<float> expected = a;
        std::fill(expected.begin() + 28, expected.begin() + 70, 5.0f);
        CHECK_IDENTICAL(ta.read(), expected, "fill through a view " + name);
        // A view of a view.
        nrn_tensor* inner = nullptr;
        REQUIRE_OK(nrn_tensor_view_rows(view, 2, 1, &inner));
        const std::vector<float> row(7, -2.0f);
        REQUIRE_OK(nrn_tensor_copy_from_host(context, inner, row.data(), 7));
        std::fill(expected.begin() + 42, expected.begin() + 49, -2.0f);
        CHECK_IDENTICAL(ta.read(), expected, "write through a view of a view " + name);
        REQUIRE_OK(nrn_tensor_destroy(inner));
        REQUIRE_OK(nrn_tensor_destroy(view));

        // Row copies between tensors of equal row size and within one tensor.
        const auto c = random_values(rng, 5 * 7);
        Tensor tc(context, {5, 7}, c);
        REQUIRE_OK(nrn_tensor_copy_rows(context, tc, 1, ta, 10, 3));
        std::copy(c.begin() + 7, c.begin() + 28, expected.begin() + 70);
        CHECK_IDENTICAL(ta.read(), expected, "copy_rows " + name);
        REQUIRE_OK(nrn_tensor_copy_rows(context, ta, 0, ta, 12, 1));
        std::copy(expected.begin(), expected.begin() + 7, expected.begin() + 84);
        CHECK_IDENTICAL(ta.read(), expected, "copy_rows within a tensor " + name);

        // Asynchronous copies through pinned memory.
        void* pinned = nullptr;
        REQUIRE_OK(nrn_pinned_alloc(context, 91 * sizeof(float), &pinned));
        float* host = static_cast<float*>(pinned);
        for (int i = 0; i < 91; ++i) host[i] = static_cast<float>(i) * 0.5f;
        Tensor td(context, {91});
        REQUIRE_OK(nrn_tensor_copy_from_host_async(context, td, host, 91));
        REQUIRE_OK(nrn_context_synchronize(context));
        std::fill(host, host + 91, 0.0f);
        REQUIRE_OK(nrn_tensor_copy_to_host_async(context, td, host, 91));
        REQUIRE_OK(nrn_context_synchronize(context));
        bool same = true;
        for (int i = 0; i < 91; ++i) same = same && host[i] == static_cast<float>(i) * 0.5f;
        CHECK_MSG(same, "asynchronous copies through pinned memory " << name);
        REQUIRE_OK(nrn_pinned_free(pinned));
    }
}

TEST_CASE(ops_vs_reference, copies_between_contexts) {
    std::mt19937_64 rng(8);
    const auto backends = present_backends();
    for (nrn_backend from : backends) {
        for (nrn_backend to : backends) {
            Context source_context(from), destination_context(to);
            const std::string name = source_context.name() + " to " + destination_context.name();
            for (int64_t count : {int64_t{1}, int64_t{1000}, (int64_t{1} << 22) + 5}) {
                const auto values = random_values(rng, count);
                Tensor source(source_context, {count}, values), destination(destination_context, {count, 1});
                REQUIRE_OK(nrn_tensor_copy_between(source_context, source, destination_context, destination));
                CHECK_IDENTICAL(destination.read(), values, name + ", " + std::to_string(count) + " elements");
                CHECK_IDENTICAL(source.read(), values, "the source after a copy " + name);
            }
            // A view's rows, into a view of another shape's rows.
            const auto a = random_values(rng, 12 * 5), b = random_values(rng, 20 * 3);
            Tensor ta(source_context, {12, 5}, a), tb(destination_context, {20, 3}, b);
            nrn_tensor *rows_of_a = nullptr, *rows_of_b = nullptr;
            REQUIRE_OK(nrn_tensor_view_rows(ta, 4, 3, &rows_of_a));
            REQUIRE_OK(nrn_tensor_view_rows(tb, 10, 5, &rows_of_b));
            REQUIRE_OK(nrn_tensor_copy_between(source_context, rows_of_a, destination_context, rows_of_b));
            REQUIRE_OK(nrn_tensor_destroy(rows_of_b));
            REQUIRE_OK(nrn_tensor_destroy(rows_of_a));
            auto expected = b;
            std::copy(a.begin() + 20, a.begin() + 35, expected.begin() + 30);
            CHECK_IDENTICAL(tb.read(), expected, "rows through views " + name);
            CHECK_IDENTICAL(ta.read(), a, "the source of a copy through views " + name);
        }
    }
    // One context twice is nrn_tensor_copy: a copy of a tensor to itself changes nothing.
    Context context(NRN_BACKEND_HOST);
    const auto values = random_values(rng, 24);
    Tensor x(context, {4, 6}, values), y(context, {24});
    REQUIRE_OK(nrn_tensor_copy_between(context, x, context, y));
    CHECK_IDENTICAL(y.read(), values, "a copy within one context");
    REQUIRE_OK(nrn_tensor_copy_between(context, y, context, y));
    CHECK_IDENTICAL(y.read(), values, "a copy of a tensor to itself");
}

TEST_CASE(ops_vs_reference, operations_on_views_use_the_right_rows) {
    std::mt19937_64 rng(7);
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        const int64_t rows = 40, in = 9, out = 5, first = 13, count = 11;
        const auto x = random_values(rng, rows * in), w = random_values(rng, in * out);
        Tensor tx(context, {rows, in}, x), tw(context, {in, out}, w), ty(context, {count, out});
        nrn_tensor* view = nullptr;
        REQUIRE_OK(nrn_tensor_view_rows(tx, first, count, &view));
        REQUIRE_OK(nrn_linear_forward(context, view, tw, nullptr, ty));
        REQUIRE_OK(nrn_tensor_destroy(view));
        const std::vector<float> xs(x.begin() + first * in, x.begin() + (first + count) * in);
        CHECK_CLOSE(ty.read(), reference_forward(xs, w, {}, count, in, out), product_atol(in), 1e-5,
                    "forward on a view " + context.name());
    }
}

// ---- seeded fills ------------------------------------------------------------------------

TEST_CASE(random_fills, fill_sets_every_element) {
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        for (int64_t count : {1, 5, 1000, 100003}) {
            Tensor t(context, {count});
            REQUIRE_OK(nrn_tensor_fill(context, t, 2.5f));
            CHECK_IDENTICAL(t.read(), std::vector<float>(static_cast<size_t>(count), 2.5f), "fill " + context.name());
        }
    }
}

// Tensors large enough that the host backend spreads their fills and copies over threads, in
// runs of 1024-element blocks (host_kernels.cpp, Fills and copies): 3 threads' worth of plain
// fill or copy and a tail of 1029 elements, so the last block is partial. Every element must be
// written, with what its index alone gives.
TEST_CASE(random_fills, large_fills_and_copies_write_every_element) {
    const int64_t count = 3 * (int64_t{1} << 18) + 1029;
    std::vector<float> pattern(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) pattern[i] = static_cast<float>(i) * 0.25f - 1000.0f;
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        const std::string name = context.name();
        Tensor a(context, {count}, pattern), b(context, {count});
        CHECK_IDENTICAL(a.read(), pattern, "copy to and from host " + name);
        REQUIRE_OK(nrn_tensor_copy(context, a, b));
        CHECK_IDENTICAL(b.read(), pattern, "nrn_tensor_copy " + name);

        REQUIRE_OK(nrn_tensor_fill(context, a, -7.5f));
        CHECK_IDENTICAL(a.read(), std::vector<float>(pattern.size(), -7.5f), "fill " + name);

        const float low = -1.0f, high = 1.0f, mean = 2.0f, stddev = 0.5f;
        std::vector<float> uniform(pattern.size());
        std::vector<double> normal(pattern.size());
        for (int64_t i = 0; i < count; ++i) {
            uniform[i] = nrn::uniform(17, static_cast<uint64_t>(i), low, high);
            normal[i] = mean + stddev * static_cast<double>(nrn::standard_normal(18, static_cast<uint64_t>(i)));
        }
        REQUIRE_OK(nrn_tensor_fill_uniform(context, a, low, high, 17));
        CHECK_IDENTICAL(a.read(), uniform, "fill_uniform " + name);
        REQUIRE_OK(nrn_tensor_fill_normal(context, b, mean, stddev, 18));
        CHECK_CLOSE(b.read(), normal, 1e-6, 1e-6, "fill_normal " + name);
    }
}

// Every seeded fill (and so every Linear(seed:) initialisation) draws from SplitMix64: its
// published first outputs for seed 1234567, and uniform values computed from the documented
// formula (top 24 bits of mix64(seed ^ mix64(index)), over 2^24) outside this library. A change
// here changes every seeded result users have: it must be deliberate.
TEST_CASE(random_fills, the_stream_is_splitmix64_as_documented) {
    const uint64_t gamma = 0x9e3779b97f4a7c15ull;
    const uint64_t published[] = {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
                                  4593380528125082431ull, 16408922859458223821ull};
    for (uint64_t k = 0; k < 5; ++k)
        CHECK_MSG(nrn::mix64(1234567 + k * gamma) == published[k], "SplitMix64 output " << k << " for seed 1234567");
    const std::vector<float> expected{5086015.0f / 16777216.0f, 8303539.0f / 16777216.0f, 1946147.0f / 16777216.0f,
                                      4434566.0f / 16777216.0f};
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        Tensor a(context, {4});
        REQUIRE_OK(nrn_tensor_fill_uniform(context, a, 0.0f, 1.0f, 42));
        CHECK_IDENTICAL(a.read(), expected, "uniform [0, 1) for seed 42 " + context.name());
    }
}

// The normal fill pinned as the uniform one is: Box-Muller over the same stream, worked out apart (in
// Python's double arithmetic) for seed 42. A change of the transform that kept the mean and the spread
// would still change every seeded normal initialisation.
TEST_CASE(random_fills, the_normal_fill_is_box_muller_as_documented) {
    const std::vector<double> expected{-1.5442254637540294, -0.18651529323028576, 0.23688146022569476,
                                       -1.6722817079151078};
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        Tensor a(context, {4});
        REQUIRE_OK(nrn_tensor_fill_normal(context, a, 0.0f, 1.0f, 42));
        CHECK_CLOSE(a.read(), expected, 1e-7, 1e-7, "standard normal for seed 42 " + context.name());
    }
}

TEST_CASE(random_fills, uniform_is_in_range_and_reproducible) {
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        const int64_t count = 100003;
        Tensor a(context, {count}), b(context, {100, 1000}), c(context, {count});
        const float low = -0.75f, high = 2.0f;
        REQUIRE_OK(nrn_tensor_fill_uniform(context, a, low, high, 1234));
        REQUIRE_OK(nrn_tensor_fill_uniform(context, c, low, high, 1235));
        const auto va = a.read(), vc = c.read();
        bool in_range = true;
        double mean = 0;
        std::vector<float> expected(va.size());
        for (size_t i = 0; i < va.size(); ++i) {
            in_range = in_range && va[i] >= low && va[i] < high;
            mean += va[i];
            expected[i] = nrn::uniform(1234, i, low, high);
        }
        mean /= static_cast<double>(count);
        CHECK_MSG(in_range, context.name() << ": uniform values outside [" << low << ", " << high << ")");
        CHECK_MSG(std::fabs(mean - 0.625) < 0.01, context.name() << ": uniform mean " << mean << ", expected about 0.625");
        CHECK_IDENTICAL(va, expected, "uniform values are the documented function of (seed, index) " + context.name());
        CHECK_MSG(va != vc, context.name() << ": different seeds gave the same values");
        REQUIRE_OK(nrn_tensor_fill_uniform(context, c, low, high, 1234));
        CHECK_IDENTICAL(c.read(), va, "same seed, same values " + context.name());
        // Another shape with the same element count: same values.
        REQUIRE_OK(nrn_tensor_fill_uniform(context, b, low, high, 1234));
        CHECK_IDENTICAL(b.read(), std::vector<float>(va.begin(), va.begin() + b.count()), "uniform on a 2-D tensor " + context.name());
    }
}

// Where floats are sparse next to the width of the range, low + (high - low)·u can round up to
// high; no value may reach it. And the widest ranges allowed give finite values.
TEST_CASE(random_fills, extreme_ranges_stay_in_range) {
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        const int64_t count = 10000;
        Tensor a(context, {count});
        // Floats are 2 apart from 2^24 on: 2^24 is the only one in [2^24, 2^24 + 2), and half the
        // values rounded up to 2^24 + 2 before they were kept below high.
        const float low = 16777216.0f, high = 16777218.0f;
        REQUIRE_OK(nrn_tensor_fill_uniform(context, a, low, high, 5));
        CHECK_IDENTICAL(a.read(), std::vector<float>(count, low), "uniform on [2^24, 2^24 + 2) " + context.name());

        REQUIRE_OK(nrn_tensor_fill_uniform(context, a, 3.0f, 3.0f, 5));
        CHECK_IDENTICAL(a.read(), std::vector<float>(count, 3.0f), "uniform on [3, 3) " + context.name());

        const float widest = std::numeric_limits<float>::max() / 2;
        REQUIRE_OK(nrn_tensor_fill_uniform(context, a, -widest, widest, 5));
        bool finite = true;
        for (float v : a.read()) finite = finite && std::isfinite(v) && v < widest;
        CHECK_MSG(finite, context.name() << ": uniform on the widest range");
        REQUIRE_OK(nrn_tensor_fill_normal(context, a, 0.0f, std::numeric_limits<float>::max() / 9, 5));
        finite = true;
        for (float v : a.read()) finite = finite && std::isfinite(v);
        CHECK_MSG(finite, context.name() << ": normal with the largest stddev allowed");
    }
}

TEST_CASE(random_fills, normal_has_the_asked_mean_and_stddev) {
    for (nrn_backend backend : present_backends()) {
        Context context(backend);
        const int64_t count = 200000;
        Tensor a(context, {count}), b(context, {count});
        const float mean = 1.5f, stddev = 0.25f;
        REQUIRE_OK(nrn_tensor_fill_normal(context, a, mean, stddev, 99));
        const auto values = a.read();
        double sum = 0, sum_sq = 0;
        bool finite = true;
        for (float v : values) {
            finite = finite && std::isfinite(v);
            sum += v;
        }
        const double m = sum / count;
        for (float v : values) sum_sq += (v - m) * (v - m);
        const double s = std::sqrt(sum_sq / (count - 1));
        CHECK(finite);
        CHECK_MSG(std::fabs(m - mean) < 0.005, context.name() << ": normal mean " << m << ", expected " << mean);
        CHECK_MSG(std::fabs(s - stddev) < 0.005, context.name() << ": normal stddev " << s << ", expected " << stddev);
        REQUIRE_OK(nrn_tensor_fill_normal(context, b, mean, stddev, 99));
        CHECK_IDENTICAL(b.read(), values, "same seed, same normal values " + context.name());
        std::vector<double> expected(values.size());
        for (size_t i = 0; i < values.size(); ++i) expected[i] = mean + stddev * static_cast<double>(nrn::standard_normal(99, i));
        CHECK_CLOSE(values, expected, 1e-6, 1e-6, "normal values are the documented function of (seed, index) " + context.name());
        REQUIRE_OK(nrn_tensor_fill_normal(context, b, mean, 0.0f, 99));
        CHECK_IDENTICAL(b.read(), std::vector<float>(static_cast<size_t>(count), mean), "stddev 0 " + context.name());
    }
}
