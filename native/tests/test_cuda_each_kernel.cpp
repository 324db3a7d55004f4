// Each CUDA kernel, in each form the planners pick (the GEMM's layouts, tiles and loads, split
// along K or not; the training paths' kernels for each layer size), at the smallest shapes that
// pick it, against the host backend: the area that compute-sanitizer's racecheck, synccheck and
// initcheck check on a GPU (scripts/gpu-check.sh runs it test by test, a minute at most each).
// Racecheck's cost grows with shared-memory accesses; cuda_vs_host's shapes, chosen to test
// results, took it over five minutes on an H200.
// cuda_calls.the_each_kernel_area_launches_every_kernel checks, on the CUDA emulator, that these
// shapes still launch every kernel as the planners change.
//
// Where the sizes come from (gemm.cu's plan_gemm, train.cu's choose_path):
//   - a product runs on 128 x 128 tiles from 128 of them (about 2.1 million outputs), else on
//     64 x 64 tiles, and is split along K below 128 tiles with K of 2,048 or more;
//   - it reads float4s when its operands' rows are multiples of 4 floats, else single floats;
//   - the forward goes through a transposed copy of W on 128 x 128 tiles from 1,024 rows;
//   - a GEMM block stages K tiles of 16 (64 x 64) or 8 (128 x 128) in two buffers, and refills a
//     buffer it has read only from the third K tile: every product of the products tests has
//     K > 2 · BK (the general training steps' forward products, with K of 16 and 9, are there for
//     their epilogue).
#include <cmath>
#include <vector>

#include "cuda_comparison.h"

using namespace test;

TEST_CASE(cuda_each_kernel, products_on_64_by_64_tiles_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(61);
    // Forward (NN), dX (NT) and dW (TN) on 2 x 2, 2 x 1 and 1 x 2 tiles with partial edges; K of
    // 37, 67 and 70: single floats. Then 36, 68 and 72, with rows that are multiples of 4: float4s.
    // The bias gradient's column sums come with each.
    check_products(cuda, host, rng, Shape{70, 37, 67});
    check_products(cuda, host, rng, Shape{72, 36, 68});
}

TEST_CASE(cuda_each_kernel, products_split_along_k_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(62);
    // One 5 x 7 output tile each, K = 2,100 in 3 splits of 704: the forward, the weight gradient
    // (with the bias gradient's column sums over 3 chunks of rows) and the input gradient.
    check_products(cuda, host, rng, Shape{5, 2100, 7}, kForward);
    check_products(cuda, host, rng, Shape{2100, 5, 7}, kWeightGradient | kBiasGradient);
    check_products(cuda, host, rng, Shape{5, 7, 2100}, kInputGradient);
}

TEST_CASE(cuda_each_kernel, forward_products_on_128_by_128_tiles_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(63);
    // 8 x 16 tiles under 1,024 rows (W is not transposed), K = 17 then 20: single floats, float4s.
    check_products(cuda, host, rng, Shape{1000, 17, 1921}, kForward);
    check_products(cuda, host, rng, Shape{1000, 20, 1924}, kForward);
}

TEST_CASE(cuda_each_kernel, transposed_forward_products_on_128_by_128_tiles_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(64);
    // NT on a transposed W: 9 x 16 tiles, W of 17 x 1,921 moved in partial 32 x 32 tiles, read as
    // single floats; then 8 x 16 tiles and rows of 20, read as float4s.
    check_products(cuda, host, rng, Shape{1025, 17, 1921}, kForward);
    check_products(cuda, host, rng, Shape{1024, 20, 2048}, kForward);
}

TEST_CASE(cuda_each_kernel, weight_gradients_on_128_by_128_tiles_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(65);
    // dW = Xᵀ·G (TN) on 8 x 16 tiles, K = 17 rows then 20: single floats, float4s.
    check_products(cuda, host, rng, Shape{17, 1000, 1921}, kWeightGradient);
    check_products(cuda, host, rng, Shape{20, 1000, 1924}, kWeightGradient);
}

TEST_CASE(cuda_each_kernel, general_training_steps_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(66);
    // The general path: the forward's epilogue writes the MSE gradient and sums each block's
    // squared errors through shared memory, on 64 x 64 tiles (16 → 16, past the one-block path's
    // 65,536 multiply-adds a step) and on 128 x 128 tiles through a transposed W (9 → 1,921 on
    // 1,024 rows); then the weight gradient with the SGD update, the bias's column sums, and the
    // error's sum in double.
    check_fused_step(cuda, host, rng, Shape{300, 16, 16});
    check_fused_step(cuda, host, rng, Shape{1024, 9, 1921});
}

TEST_CASE(cuda_each_kernel, mse_reductions_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(67);
    // 300,000 elements: each block sums its squared errors through shared memory, then one block
    // sums the blocks' partials in double.
    const std::vector<int64_t> shape{1000, 300};
    const int64_t count = 1000 * 300;
    Pair y(cuda, host, shape, random_values(rng, count)), t(cuda, host, shape, random_values(rng, count));
    Pair g(cuda, host, shape), e(cuda, host, {1}), a(cuda, host, {NRN_ACCUMULATOR_SIZE});
    REQUIRE_OK(nrn_accumulator_reset(host, a.h));
    REQUIRE_OK(nrn_accumulator_reset(cuda, a.c));
    REQUIRE_OK(nrn_mse(host, y.h, t.h, g.h, e.h, a.h));
    REQUIRE_OK(nrn_mse(cuda, y.c, t.c, g.c, e.c, a.c));
    CHECK_CLOSE(g.c.read(), to_double(g.h.read()), 1e-7, 1e-5, "MSE gradient");
    CHECK_CLOSE(e.c.read(), to_double(e.h.read()), 1e-7, 1e-5, "MSE error");
    double host_sum = 0, host_count = 0, cuda_sum = 0, cuda_count = 0;
    REQUIRE_OK(nrn_accumulator_read(host, a.h, &host_sum, &host_count));
    REQUIRE_OK(nrn_accumulator_read(cuda, a.c, &cuda_sum, &cuda_count));
    CHECK_MSG(host_count == cuda_count && std::abs(host_sum - cuda_sum) <= 1e-5 * std::abs(host_sum),
              "accumulator host " << host_sum << "/" << host_count << ", cuda " << cuda_sum << "/" << cuda_count);
}

TEST_CASE(cuda_each_kernel, one_block_training_matches_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(68);
    // W, b and G in shared memory, batches picked 32 steps ahead: 40 steps refill the picks once.
    // One warp (2 → 8 on batches of 4), then eight (4 → 8 on batches of 50, G of 400 values).
    check_training(cuda, host, rng, Shape{100, 2, 8}, 4, NRN_ORDER_SHUFFLE, 40);
    check_training(cuda, host, rng, Shape{300, 4, 8}, 50, NRN_ORDER_SHUFFLE, 40);
}

TEST_CASE(cuda_each_kernel, rows_training_matches_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(69);
    // Just past the one-block path's 65,536 multiply-adds a step: each block combines its warps'
    // sums through shared memory. 1 → 1 on 65 blocks, then 4 → 4 on 5.
    check_training(cuda, host, rng, Shape{70000, 1, 1}, 65537, NRN_ORDER_SHUFFLE, 2);
    check_training(cuda, host, rng, Shape{5000, 4, 4}, 4097, NRN_ORDER_SHUFFLE, 2);
}

TEST_CASE(cuda_each_kernel, warp_training_matches_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(70);
    // One warp, W and b in registers, steps handed between lanes by shuffles; 40 steps: a chunk of
    // 32 picks and part of a second. The 1 → 1 kernel (the tutorial's), then 3 → 2 in the 4 → 4 one.
    check_training(cuda, host, rng, Shape{100, 1, 1}, 1, NRN_ORDER_SHUFFLE, 40);
    check_training(cuda, host, rng, Shape{100, 3, 2}, 5, NRN_ORDER_SHUFFLE, 40);
}

TEST_CASE(cuda_each_kernel, fills_and_sgd_updates_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(71);
    // 1,000 values: four blocks of the pointwise kernels' 256 threads, the last one partial.
    const int64_t count = 1000;
    Pair values(cuda, host, {count});
    REQUIRE_OK(nrn_tensor_fill(host, values.h, 0.25f));
    REQUIRE_OK(nrn_tensor_fill(cuda, values.c, 0.25f));
    CHECK_IDENTICAL(values.c.read(), values.h.read(), "fill");
    REQUIRE_OK(nrn_tensor_fill_uniform(host, values.h, -2.0f, 3.0f, 17));
    REQUIRE_OK(nrn_tensor_fill_uniform(cuda, values.c, -2.0f, 3.0f, 17));
    CHECK_IDENTICAL(values.c.read(), values.h.read(), "uniform fill");
    REQUIRE_OK(nrn_tensor_fill_normal(host, values.h, 1.0f, 2.0f, 18));
    REQUIRE_OK(nrn_tensor_fill_normal(cuda, values.c, 1.0f, 2.0f, 18));
    CHECK_CLOSE(values.c.read(), to_double(values.h.read()), 1e-6, 1e-6, "normal fill");
    Pair gradient(cuda, host, {count}, random_values(rng, count));
    REQUIRE_OK(nrn_sgd_update(host, values.h, gradient.h, 0.5f));
    REQUIRE_OK(nrn_sgd_update(cuda, values.c, gradient.c, 0.5f));
    CHECK_CLOSE(values.c.read(), to_double(values.h.read()), 1e-5, 1e-5, "SGD update");
}
