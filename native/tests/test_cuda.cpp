// The CUDA backend against the host backend on the same random inputs, and CUDA determinism
// (every operation run twice gives bit-identical results). Skipped with a message when no
// GPU is present, unless NEURON_TEST_REQUIRE_CUDA=1, which makes a missing GPU a failure.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "cuda_comparison.h"

using namespace test;

namespace {

const Shape kShapes[] = {{1, 1, 1},   {3, 5, 2},     {7, 17, 31},   {31, 65, 1},    {65, 127, 129},
                         {129, 31, 257}, {256, 128, 64}, {1, 300, 1000}, {1000, 300, 129}, {4096, 33, 17}};

// Forward, MSE, backward (overwrite and accumulate) and SGD of one shape on both backends.
void check_operations(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s) {
    const std::string what = shape_name(s);
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair w(cuda, host, {s.in, s.out}, random_values(rng, s.in * s.out));
    Pair b(cuda, host, {s.out}, random_values(rng, s.out));
    Pair t(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out));
    Pair y(cuda, host, {s.batch, s.out}), g(cuda, host, {s.batch, s.out}), e(cuda, host, {1}), a(cuda, host, {4});
    Pair gx(cuda, host, {s.batch, s.in}), gw(cuda, host, {s.in, s.out}), gb(cuda, host, {s.out});

    // Forward.
    REQUIRE_OK(nrn_linear_forward(host, x.h, w.h, b.h, y.h));
    REQUIRE_OK(nrn_linear_forward(cuda, x.c, w.c, b.c, y.c));
    const auto y1 = y.c.read();
    CHECK_CLOSE(y1, to_double(y.h.read()), product_atol(s.in + 1), 1e-5, "forward " + what);
    REQUIRE_OK(nrn_linear_forward(cuda, x.c, w.c, b.c, y.c));
    CHECK_IDENTICAL(y.c.read(), y1, "forward twice " + what);
    REQUIRE_OK(nrn_linear_forward(host, x.h, w.h, nullptr, y.h));
    REQUIRE_OK(nrn_linear_forward(cuda, x.c, w.c, nullptr, y.c));
    CHECK_CLOSE(y.c.read(), to_double(y.h.read()), product_atol(s.in + 1), 1e-5, "forward no bias " + what);

    // MSE with gradient, error and accumulator.
    REQUIRE_OK(nrn_accumulator_reset(host, a.h));
    REQUIRE_OK(nrn_accumulator_reset(cuda, a.c));
    REQUIRE_OK(nrn_mse(host, y.h, t.h, g.h, e.h, a.h));
    REQUIRE_OK(nrn_mse(cuda, y.c, t.c, g.c, e.c, a.c));
    const auto g1 = g.c.read(), e1 = e.c.read();
    CHECK_CLOSE(g1, to_double(g.h.read()), 1e-7, 1e-5, "mse grad " + what);
    CHECK_CLOSE(e1, to_double(e.h.read()), 1e-7, 1e-5, "mse error " + what);
    REQUIRE_OK(nrn_mse(cuda, y.c, t.c, g.c, e.c, nullptr));
    CHECK_IDENTICAL(g.c.read(), g1, "mse grad twice " + what);
    CHECK_IDENTICAL(e.c.read(), e1, "mse error twice " + what);
    double hs = 0, hc = 0, cs = 0, cc = 0;
    REQUIRE_OK(nrn_accumulator_read(host, a.h, &hs, &hc));
    REQUIRE_OK(nrn_accumulator_read(cuda, a.c, &cs, &cc));
    CHECK_MSG(hc == cc && std::fabs(hs - cs) <= 1e-5 * std::fabs(hs) + 1e-7,
              what << ": accumulator host " << hs << "/" << hc << ", cuda " << cs << "/" << cc);

    // Backward, overwrite then accumulate.
    for (nrn_grad_mode mode : {NRN_GRAD_OVERWRITE, NRN_GRAD_ACCUMULATE}) {
        REQUIRE_OK(nrn_linear_backward(host, x.h, w.h, g.h, gx.h, gw.h, gb.h, mode));
        REQUIRE_OK(nrn_linear_backward(cuda, x.c, w.c, g.c, gx.c, gw.c, gb.c, mode));
        const std::string m = what + (mode == NRN_GRAD_OVERWRITE ? " overwrite" : " accumulate");
        check_gradients(&gx, &gw, &gb, g, s, m);
    }
    const auto gx1 = gx.c.read(), gw1 = gw.c.read(), gb1 = gb.c.read();
    REQUIRE_OK(nrn_linear_backward(cuda, x.c, w.c, g.c, gx.c, gw.c, gb.c, NRN_GRAD_OVERWRITE));
    REQUIRE_OK(nrn_linear_backward(cuda, x.c, w.c, g.c, gx.c, gw.c, gb.c, NRN_GRAD_ACCUMULATE));
    CHECK_IDENTICAL(gx.c.read(), gx1, "dX twice " + what);
    CHECK_IDENTICAL(gw.c.read(), gw1, "dW twice " + what);
    CHECK_IDENTICAL(gb.c.read(), gb1, "db twice " + what);

    // SGD.
    REQUIRE_OK(nrn_sgd_update(host, w.h, gw.h, 0.25f));
    REQUIRE_OK(nrn_sgd_update(cuda, w.c, gw.c, 0.25f));
    CHECK_CLOSE(w.c.read(), to_double(w.h.read()), 1e-6, 1e-5, "sgd " + what);
}

}  // namespace

TEST_CASE(cuda_vs_host, device_info) {
    if (!cuda_tests_run()) return;
    const int32_t devices = cuda_device_count();
    for (int32_t d = 0; d < devices; ++d) {
        nrn_device_info info{};
        REQUIRE_OK(nrn_cuda_device_info(d, &info));
        CHECK(std::strlen(info.name) > 0);
        CHECK(info.total_memory > 0 && info.compute_major >= 3 && info.multiprocessor_count > 0);
        note("device " + std::to_string(d) + ": " + info.name + ", sm_" + std::to_string(info.compute_major) +
             std::to_string(info.compute_minor) + ", " + std::to_string(info.total_memory >> 20) + " MiB");
    }
    Context context(NRN_BACKEND_CUDA, 0);
    nrn_backend backend = NRN_BACKEND_HOST;
    int32_t device = -1;
    REQUIRE_OK(nrn_context_backend(context, &backend));
    REQUIRE_OK(nrn_context_device(context, &device));
    CHECK(backend == NRN_BACKEND_CUDA && device == 0);
}

TEST_CASE(cuda_vs_host, operations_match_host_and_are_deterministic) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(31);
    for (const Shape& s : kShapes) check_operations(cuda, host, rng, s);
}

TEST_CASE(cuda_vs_host, fused_step_and_training_match_host_and_are_deterministic) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(32);
    for (const Shape& s : kShapes)
        for (nrn_batch_order order : {NRN_ORDER_SEQUENTIAL, NRN_ORDER_SHUFFLE, NRN_ORDER_RANDOM})
            check_training(cuda, host, rng, s, std::max<int64_t>(1, s.batch / 3), order);
}

// The one-warp and one-block paths over more steps than they pick batches for at once (32):
// full chunks of picks and a partial last one; a last batch smaller than the others.
TEST_CASE(cuda_vs_host, small_layer_training_over_many_steps_matches_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(33);
    for (nrn_batch_order order : {NRN_ORDER_SEQUENTIAL, NRN_ORDER_SHUFFLE, NRN_ORDER_RANDOM}) {
        check_training(cuda, host, rng, Shape{1000, 1, 1}, 1, order, 75);  // the tutorial's: one warp, 1 -> 1 kernel
        check_training(cuda, host, rng, Shape{100, 3, 2}, 8, order, 75);   // one warp, 4 -> 4 kernel; last batch 4 rows
        check_training(cuda, host, rng, Shape{100, 8, 8}, 16, order, 75);  // one block of 128 threads; last batch 4 rows
        check_training(cuda, host, rng, Shape{1000, 1, 1}, 99, order, 75); // one block of 128 threads; last batch 10 rows
    }
}

// Shapes chosen so that every kernel the planners (plan_gemm, train.cu's choose_path) can
// pick runs at least once; kShapes are all small enough for the 64 x 64 tiles. The comments
// say what each shape adds, from the thresholds in gemm.cu and train.cu.
TEST_CASE(cuda_vs_host, every_product_kernel_matches_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(34);
    // The 128 x 128 kernels need at least 128 output tiles, so two dimensions of each product
    // are large; the third (its depth) stays small to keep the CUDA emulator quick, but spans
    // several K steps of 8.
    const Shape large[] = {
        {1000, 24, 2304},  // forward (NN) on 8 x 18 tiles, float4 loads (under 1,024 rows: W is not transposed)
        {1000, 21, 2303},  // the same without float4 loads (rows of 21), partial edge and K tiles
        {1536, 24, 1536},  // forward through a transposed W (NT) on 12 x 12 tiles, float4 loads
        {1537, 21, 1535},  // the same without float4 loads, partial edge, K and transpose tiles
        {1536, 1536, 24},  // input gradient (NT) on 128 x 128 tiles
        {24, 1536, 1536},  // weight gradient (TN) on 128 x 128 tiles
    };
    for (const Shape& s : large) check_products(cuda, host, rng, s);
    // The weight gradient split 5 ways along K = 5000, and bias sums over 5 row chunks.
    check_operations(cuda, host, rng, Shape{5000, 40, 24});
}

TEST_CASE(cuda_vs_host, every_training_path_matches_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(35);
    struct Run {
        Shape shape;
        int64_t batch_size;
    };
    const Run runs[] = {
        {{200, 1, 1}, 64},        // warp path at its largest for 1 -> 1; last batch 8 rows
        {{10, 4, 4}, 4},          // warp path at its largest for 4 -> 4; last batch 2 rows
        {{11934, 1, 1}, 11934},   // block path at its largest: 256 threads and 48,768 bytes of dynamic shared
                                  // memory, with the kernel's 384 static bytes exactly 48 KiB (one row more
                                  // takes the rows path)
        {{150000, 1, 1}, 70000},  // rows path, 1 -> 1 (batch x in x out > 65,536); last batch 10,000
        {{90000, 4, 4}, 20000},   // rows path, 4 -> 4; last batch 10,000
        {{60000, 3, 2}, 30000},   // rows path with in < 4 and out < 4 inside the 4 x 4 kernel
        {{7000, 8, 8}, 3000},     // general path; the weight gradient split along K but the last batch's (1,000) not
        {{1408, 3, 1536}, 1408},  // general path with the forward on 11 x 12 tiles of 128 x 128 (MSE in their epilogue),
                                  // through a transposed copy of W (1,024 rows or more)
        {{8000, 5, 512}, 4032},   // general path: full batches' forward on 32 x 4 tiles of 128 x 128 through a
                                  // transposed W, the last batch's (3,968 rows, 31 x 4 large tiles) on 62 x 8 of
                                  // 64 x 64 without: more MSE partials
        {{1100, 37, 1900}, 1100}, // the forward through a transposed W of partial 32 x 32 tiles, read without
                                  // float4 loads (rows of 37)
    };
    for (const Run& run : runs) check_training(cuda, host, rng, run.shape, run.batch_size, NRN_ORDER_SHUFFLE);
}

// The 4 → 4 kernels of the rows and warp paths run smaller layers too, and must read only their
// in · out weights and out biases: here the weights and biases are views of the first rows of
// larger tensors whose remaining elements are NaN, which any read past the layer's parameters
// would spread into the results. The elements after the views stay as they were.
TEST_CASE(cuda_vs_host, small_layer_paths_read_only_the_layers_parameters) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(39);
    struct Run {
        const char* path;
        Shape shape;
        int64_t batch_size;
    };
    const Run runs[] = {
        {"rows path", {60000, 3, 2}, 30000},  // in and out at most 4, batch · in · out > 65,536
        {"warp path", {100, 3, 2}, 5},        // in and out at most 4, batch · in · out <= 64
    };
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const Run& run : runs) {
        const Shape& s = run.shape;
        const std::string path = run.path;
        Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
        Pair t(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out));
        const auto w0 = random_values(rng, s.in * s.out), b0 = random_values(rng, s.out);
        Pair w(cuda, host, {s.in, s.out}, w0), b(cuda, host, {s.out}, b0), e(cuda, host, {1});
        auto padded = [&](const std::vector<float>& values, int64_t extra) {
            std::vector<float> all = values;
            all.insert(all.end(), static_cast<size_t>(extra), nan);
            return all;
        };
        Tensor w_all(cuda, {s.in + 1, s.out}, padded(w0, s.out)), b_all(cuda, {s.out + 2}, padded(b0, 2));
        nrn_tensor *w_view = nullptr, *b_view = nullptr;
        REQUIRE_OK(nrn_tensor_view_rows(w_all, 0, s.in, &w_view));
        REQUIRE_OK(nrn_tensor_view_rows(b_all, 0, s.out, &b_view));
        const float lr = telling_rate(s);
        REQUIRE_OK(nrn_linear_mse_sgd_train(host, x.h, t.h, w.h, b.h, lr, run.batch_size, 0, 4, NRN_ORDER_SHUFFLE, 5,
                                            e.h, nullptr));
        const nrn_status trained = nrn_linear_mse_sgd_train(cuda, x.c, t.c, w_view, b_view, lr, run.batch_size, 0, 4,
                                                            NRN_ORDER_SHUFFLE, 5, e.c, nullptr);
        nrn_tensor_destroy(w_view);
        nrn_tensor_destroy(b_view);
        REQUIRE_OK(trained);
        const auto w_got = w_all.read(), b_got = b_all.read();
        const auto w_host = w.h.read(), b_host = b.h.read();
        CHECK_CLOSE(std::vector<float>(w_got.begin(), w_got.begin() + s.in * s.out), to_double(w_host), 1e-4, 1e-3,
                    path + " W from a view");
        CHECK_CLOSE(std::vector<float>(b_got.begin(), b_got.begin() + s.out), to_double(b_host), 1e-4, 1e-3,
                    path + " b from a view");
        CHECK_CLOSE(e.c.read(), to_double(e.h.read()), 1e-5, 1e-3, path + " error with parameter views");
        bool after_untouched = true;
        for (size_t i = static_cast<size_t>(s.in * s.out); i < w_got.size(); ++i) after_untouched &= std::isnan(w_got[i]);
        for (size_t i = static_cast<size_t>(s.out); i < b_got.size(); ++i) after_untouched &= std::isnan(b_got[i]);
        CHECK_MSG(after_untouched, path << ": the elements after the weight and bias views are still NaN");
    }
}

// The weight gradient's split-K scratch is sized for both batch sizes of a run: rounding K per
// split up to the tile depth can give a full batch fewer splits than a smaller last one. Here
// 1 x 1 output tile, so 256 splits at most: K = 262,145 rows take 253 splits of 1,040, the last
// batch's 262,144 rows 256 of 1,024. (In the CUDA emulator's build, scratch past a sub-buffer
// is poisoned, so a kernel writing there stops the test.) An area of its own, so that the GPU
// check's memcheck can cover its large products apart from the others; racecheck, whose cost
// grows with shared-memory accesses, checks split-K products at small sizes (cuda_each_kernel).
TEST_CASE(cuda_large_products, split_k_scratch_covers_a_last_batch_with_more_splits) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(36);
    const Shape s{524289, 5, 1};
    const int64_t batch_size = 262145;
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair t(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out));
    Pair w(cuda, host, {s.in, s.out}, random_values(rng, s.in * s.out)), b(cuda, host, {s.out}, random_values(rng, s.out));
    Pair e(cuda, host, {1});
    // Steps 0 and 1: the full batch, then the last one.
    REQUIRE_OK(nrn_linear_mse_sgd_train(host, x.h, t.h, w.h, b.h, 0.05f, batch_size, 0, 2, NRN_ORDER_SEQUENTIAL, 1,
                                        e.h, nullptr));
    REQUIRE_OK(nrn_linear_mse_sgd_train(cuda, x.c, t.c, w.c, b.c, 0.05f, batch_size, 0, 2, NRN_ORDER_SEQUENTIAL, 1,
                                        e.c, nullptr));
    CHECK_CLOSE(w.c.read(), to_double(w.h.read()), 1e-5, 1e-4, "split-K training W");
    CHECK_CLOSE(b.c.read(), to_double(b.h.read()), 1e-5, 1e-4, "split-K training b");
    CHECK_CLOSE(e.c.read(), to_double(e.h.read()), 1e-6, 1e-4, "split-K training error");
}

// Layers with more than 65535 tiles of 128 columns in a product (8,388,481 outputs, then
// inputs): past grid y's limit, had the column tiles a grid dimension of their own. Every
// product, and a fused step with the error in the forward product's epilogue. (The tile order
// itself is checked on every multi-tile shape above; the CUDA emulator, which runs each of these
// products' 16.8 million GPU threads as a fiber, would take many minutes, so it skips this.)
TEST_CASE(cuda_large_products, layers_wider_than_65535_column_tiles_match_host) {
    if (!cuda_tests_run()) return;
    if (on_cuda_emulator()) skip("too slow on the CUDA emulator; a GPU runs it");
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(37);
    const int64_t wide = int64_t{65535} * 128 + 1;
    check_products(cuda, host, rng, Shape{2, 1, wide});  // forward and dW: 2 x wide and 1 x wide outputs
    check_products(cuda, host, rng, Shape{2, wide, 1});  // dX: 2 x wide outputs
    check_fused_step(cuda, host, rng, Shape{2, 1, wide});  // the error in the forward product's epilogue
}

// A kernel that faults on the device, staged by the CUDA emulator: its launch succeeds, and the
// next call that waits for the device finds the fault. It is reported there, as a backend error
// naming the CUDA error; the process's CUDA context is then lost, so every later CUDA call fails
// the same way, without crashing, while the host backend works on and every handle can still be
// destroyed, freeing its memory (in the emulator's sanitised build, LeakSanitizer fails the area
// otherwise). An area of its own, since the fault spoils CUDA for the rest of the process.
TEST_CASE(cuda_device_fault, a_kernel_fault_is_reported_where_the_host_waits) {
    if (!cuda_tests_run()) return;
    if (!on_cuda_emulator()) skip("a kernel fault is staged on the CUDA emulator only");
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    Tensor w(cuda, {4}, {1, 2, 3, 4}), g(cuda, {4}, {1, 1, 1, 1});
    setenv("NEURON_CUDA_EMULATOR_FAULT", "sgd_update_kernel", 1);
    const nrn_status enqueued = nrn_sgd_update(cuda, w, g, 0.5f);
    unsetenv("NEURON_CUDA_EMULATOR_FAULT");
    CHECK_MSG(enqueued == NRN_STATUS_OK, "the faulting update was enqueued: " << nrn_status_string(enqueued));
    CHECK_FAILS(NRN_STATUS_BACKEND_ERROR, "nrn_context_synchronize", nrn_context_synchronize(cuda));
    CHECK_MSG(std::string(nrn_last_error()).find("cudaErrorIllegalAddress") != std::string::npos,
              "the error names CUDA's: " << nrn_last_error());
    CHECK_MSG(std::string(nrn_last_error()).find("the CUDA context is lost") != std::string::npos,
              "the error says that the context is lost, and that an earlier kernel may have faulted: "
                  << nrn_last_error());

    std::vector<float> values(4);
    CHECK_FAILS(NRN_STATUS_BACKEND_ERROR, "nrn_tensor_copy_to_host", nrn_tensor_copy_to_host(cuda, w, values.data(), 4));
    CHECK_FAILS(NRN_STATUS_BACKEND_ERROR, "nrn_sgd_update", nrn_sgd_update(cuda, w, g, 0.5f));
    CHECK_FAILS(NRN_STATUS_BACKEND_ERROR, "nrn_context_synchronize", nrn_context_synchronize(cuda));
    nrn_context* again = nullptr;
    const nrn_status created = nrn_context_create(NRN_BACKEND_CUDA, 0, &again);
    CHECK_MSG(created != NRN_STATUS_OK && again == nullptr,
              "a new CUDA context after the fault: " << nrn_status_string(created));
    nrn_tensor* t = nullptr;
    const int64_t shape[] = {4};
    CHECK_FAILS(NRN_STATUS_BACKEND_ERROR, "nrn_tensor_create", nrn_tensor_create(cuda, 1, shape, &t));

    Tensor hw(host, {4}, {1, 2, 3, 4}), hg(host, {4}, {1, 1, 1, 1});
    REQUIRE_OK(nrn_sgd_update(host, hw, hg, 0.5f));
    CHECK_IDENTICAL(hw.read(), std::vector<float>({0.5f, 1.5f, 2.5f, 3.5f}), "host update after a CUDA fault");
    // The handles on the lost context are released (the destructors of w, g and cuda call these).
    nrn_tensor* view = nullptr;
    REQUIRE_OK(nrn_tensor_view_rows(w, 0, 2, &view));
    CHECK(nrn_tensor_destroy(view) == NRN_STATUS_OK);
}

TEST_CASE(cuda_vs_host, fills_and_copies_match_host) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    for (int64_t count : {1, 7, 1000, 1 << 20}) {
        Pair p(cuda, host, {count});
        REQUIRE_OK(nrn_tensor_fill_uniform(host, p.h, -2.0f, 3.0f, 77));
        REQUIRE_OK(nrn_tensor_fill_uniform(cuda, p.c, -2.0f, 3.0f, 77));
        CHECK_IDENTICAL(p.c.read(), p.h.read(), "uniform " + std::to_string(count));
        REQUIRE_OK(nrn_tensor_fill_normal(host, p.h, 0.5f, 2.0f, 78));
        REQUIRE_OK(nrn_tensor_fill_normal(cuda, p.c, 0.5f, 2.0f, 78));
        CHECK_CLOSE(p.c.read(), to_double(p.h.read()), 1e-6, 1e-6, "normal " + std::to_string(count));
        REQUIRE_OK(nrn_tensor_fill(cuda, p.c, -1.25f));
        CHECK_IDENTICAL(p.c.read(), std::vector<float>(static_cast<size_t>(count), -1.25f), "fill " + std::to_string(count));
    }
    // Views, row copies and asynchronous copies through pinned memory.
    std::mt19937_64 rng(33);
    const auto values = random_values(rng, 50 * 6);
    Tensor source(cuda, {50, 6}, values), destination(cuda, {20, 6});
    REQUIRE_OK(nrn_tensor_copy_rows(cuda, source, 30, destination, 5, 12));
    nrn_tensor* view = nullptr;
    REQUIRE_OK(nrn_tensor_view_rows(destination, 5, 12, &view));
    std::vector<float> got(72);
    REQUIRE_OK(nrn_tensor_copy_to_host(cuda, view, got.data(), 72));
    REQUIRE_OK(nrn_tensor_destroy(view));
    CHECK_IDENTICAL(got, std::vector<float>(values.begin() + 180, values.begin() + 252), "copy_rows and view on CUDA");
    void* pinned = nullptr;
    REQUIRE_OK(nrn_pinned_alloc(cuda, values.size() * sizeof(float), &pinned));
    float* host_memory = static_cast<float*>(pinned);
    REQUIRE_OK(nrn_tensor_copy_to_host_async(cuda, source, host_memory, 300));
    REQUIRE_OK(nrn_context_synchronize(cuda));
    CHECK_IDENTICAL(std::vector<float>(host_memory, host_memory + 300), values, "asynchronous copy to pinned memory");
    for (int i = 0; i < 300; ++i) host_memory[i] = static_cast<float>(i);
    REQUIRE_OK(nrn_tensor_copy_from_host_async(cuda, source, host_memory, 300));
    REQUIRE_OK(nrn_context_synchronize(cuda));
    const auto back = source.read();
    bool same = true;
    for (int i = 0; i < 300; ++i) same = same && back[i] == static_cast<float>(i);
    CHECK_MSG(same, "asynchronous copy from pinned memory");
    REQUIRE_OK(nrn_pinned_free(pinned));
}

TEST_CASE(cuda_vs_host, bad_input_on_the_device) {
    if (!cuda_tests_run()) return;
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    const std::vector<float> values{1, 2, 3, 4, 5, 6};
    Tensor kept(cuda, {2, 3}, values), host_tensor(host, {2, 3}, values);
    // Larger than any device: 2^42 floats = 16 TiB.
    nrn_tensor* t = nullptr;
    const int64_t huge[] = {int64_t{1} << 42};
    CHECK_FAILS(NRN_STATUS_OUT_OF_MEMORY, "nrn_tensor_create", nrn_tensor_create(cuda, 1, huge, &t));
    CHECK(t == nullptr);
    // The device still works after the failed allocation.
    CHECK_IDENTICAL(kept.read(), values, "tensor after a failed device allocation");
    CHECK_FAILS(NRN_STATUS_CONTEXT_MISMATCH, "nrn_tensor_copy", nrn_tensor_copy(cuda, host_tensor, kept));
    CHECK_FAILS(NRN_STATUS_CONTEXT_MISMATCH, "nrn_linear_forward", nrn_linear_forward(cuda, kept, host_tensor, nullptr, kept));
    CHECK_FAILS(NRN_STATUS_INVALID_ARGUMENT, "nrn_sgd_update",
                nrn_sgd_update(cuda, kept, kept, std::numeric_limits<float>::quiet_NaN()));
    CHECK_IDENTICAL(kept.read(), values, "tensor after failed calls");

    // A full device: the backward pass below needs scratch (its weight gradient is split along
    // K = 4096 rows), and its allocation fails before anything is launched, so the input
    // gradient, whose product comes first and needs none, is left as it was. The CUDA emulator
    // stages the full device (any allocation fails once its memory is set below what it holds).
    if (!on_cuda_emulator()) return;
    std::mt19937_64 rng(38);
    const Shape s{4096, 2, 2};
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair w(cuda, host, {s.in, s.out}, random_values(rng, s.in * s.out));
    Pair g(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out, -1e-3f, 1e-3f));
    const std::vector<float> sevens(static_cast<size_t>(s.batch * s.in), 7.0f);
    Pair gx(cuda, host, {s.batch, s.in}, sevens), gw(cuda, host, {s.in, s.out}), gb(cuda, host, {s.out});
    setenv("NEURON_CUDA_EMULATOR_MEMORY", "1", 1);
    CHECK_FAILS(NRN_STATUS_OUT_OF_MEMORY, "nrn_linear_backward",
                nrn_linear_backward(cuda, x.c, w.c, g.c, gx.c, gw.c, gb.c, NRN_GRAD_OVERWRITE));
    unsetenv("NEURON_CUDA_EMULATOR_MEMORY");
    CHECK_MSG(std::string(nrn_last_error()).find("context is lost") == std::string::npos,
              "a failed allocation is not told as a kernel fault: " << nrn_last_error());
    CHECK_IDENTICAL(gx.c.read(), sevens, "input gradient after a backward pass without memory for its scratch");
    // With memory again, the same call succeeds.
    REQUIRE_OK(nrn_linear_backward(host, x.h, w.h, g.h, gx.h, gw.h, gb.h, NRN_GRAD_OVERWRITE));
    REQUIRE_OK(nrn_linear_backward(cuda, x.c, w.c, g.c, gx.c, gw.c, gb.c, NRN_GRAD_OVERWRITE));
    check_gradients(&gx, &gw, &gb, g, s, "after a full device");
}

// Whether an MSE with its error over `count` elements succeeds on a new CUDA context whose
// device has `memory` bytes, after an MSE over the first `earlier_count` of them (0: none) ran
// there with memory to spare. The CUDA emulator stages the device's size.
bool mse_fits(int64_t earlier_count, int64_t count, size_t memory) {
    Context cuda(NRN_BACKEND_CUDA, 0);
    Tensor prediction(cuda, {count, 1}, std::vector<float>(static_cast<size_t>(count), 1.0f));
    Tensor target(cuda, {count, 1}, std::vector<float>(static_cast<size_t>(count), 0.0f)), error(cuda, {1});
    if (earlier_count > 0) {
        nrn_tensor *p = nullptr, *t = nullptr;
        REQUIRE_OK(nrn_tensor_view_rows(prediction, 0, earlier_count, &p));
        REQUIRE_OK(nrn_tensor_view_rows(target, 0, earlier_count, &t));
        const nrn_status earlier = nrn_mse(cuda, p, t, nullptr, error, nullptr);
        nrn_tensor_destroy(p);
        nrn_tensor_destroy(t);
        REQUIRE_OK(earlier);
    }
    setenv("NEURON_CUDA_EMULATOR_MEMORY", std::to_string(memory).c_str(), 1);
    const nrn_status status = nrn_mse(cuda, prediction, target, nullptr, error, nullptr);
    unsetenv("NEURON_CUDA_EMULATOR_MEMORY");
    CHECK_MSG(status == NRN_STATUS_OK || status == NRN_STATUS_OUT_OF_MEMORY,
              "an MSE on a device of " << memory << " bytes: " << nrn_status_string(status));
    if (status == NRN_STATUS_OK) CHECK_IDENTICAL(error.read(), std::vector<float>({0.5f}), "the MSE's error");
    return status == NRN_STATUS_OK;
}

// The fewest bytes of device memory with which mse_fits(earlier_count, count, ·).
size_t least_memory_for_mse(int64_t earlier_count, int64_t count) {
    size_t fails = 0, fits = size_t{1} << 40;
    while (fits - fails > 1) {
        const size_t middle = fails + (fits - fails) / 2;
        (mse_fits(earlier_count, count, middle) ? fits : fails) = middle;
    }
    return fits;
}

// A forward product through a transposed copy of W (gemm.cu) needs room for the copy; on a device
// without it the product runs as it is, with the results it would have had, instead of failing.
// 1,024 rows, 8 → 2,048: 8 x 16 tiles of 128 x 128.
TEST_CASE(cuda_vs_host, a_forward_without_room_for_a_transposed_weight_runs_without_it) {
    if (!cuda_tests_run()) return;
    if (!on_cuda_emulator()) skip("a device's size is staged on the CUDA emulator only");
    Context cuda(NRN_BACKEND_CUDA, 0), host(NRN_BACKEND_HOST);
    std::mt19937_64 rng(38);
    const Shape s{1024, 8, 2048};
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair w(cuda, host, {s.in, s.out}, random_values(rng, s.in * s.out)), b(cuda, host, {s.out}, random_values(rng, s.out));
    Pair y(cuda, host, {s.batch, s.out});
    REQUIRE_OK(nrn_linear_forward(host, x.h, w.h, b.h, y.h));
    setenv("NEURON_CUDA_EMULATOR_MEMORY", "1", 1);  // no allocation succeeds
    const nrn_status status = nrn_linear_forward(cuda, x.c, w.c, b.c, y.c);
    unsetenv("NEURON_CUDA_EMULATOR_MEMORY");
    CHECK_MSG(status == NRN_STATUS_OK, "a forward product on a full device: " << nrn_last_error());
    CHECK_CLOSE(y.c.read(), to_double(y.h.read()), product_atol(s.in + 1), 1e-5, "forward on a full device");
}

// Whether one training step of `rows` rows (in → out, batch = rows) succeeds on a new CUDA context
// whose device has `memory` bytes; the CUDA emulator stages the device's size.
bool training_fits(int64_t rows, int64_t in, int64_t out, size_t memory) {
    std::mt19937_64 rng(39);
    Context cuda(NRN_BACKEND_CUDA, 0);
    Tensor x(cuda, {rows, in}, random_values(rng, rows * in)), t(cuda, {rows, out}, random_values(rng, rows * out)),
        w(cuda, {in, out}, random_values(rng, in * out)), b(cuda, {out}, random_values(rng, out)), e(cuda, {1});
    setenv("NEURON_CUDA_EMULATOR_MEMORY", std::to_string(memory).c_str(), 1);
    const nrn_status status =
        nrn_linear_mse_sgd_train(cuda, x, t, w, b, 1e-3f, rows, 0, 1, NRN_ORDER_SEQUENTIAL, 1, e, nullptr);
    unsetenv("NEURON_CUDA_EMULATOR_MEMORY");
    CHECK_MSG(status == NRN_STATUS_OK || status == NRN_STATUS_OUT_OF_MEMORY,
              "training on a device of " << memory << " bytes: " << nrn_status_string(status));
    return status == NRN_STATUS_OK;
}

// The same for training: the least device memory a step needs does not count W's copy. From 1,023
// rows (never transposed) to 1,024 (transposed where there is room) it grows by a row of each
// operand, 16 KB, not by W's 64 KB.
TEST_CASE(cuda_vs_host, training_without_room_for_a_transposed_weight_runs_without_it) {
    if (!cuda_tests_run()) return;
    if (!on_cuda_emulator()) skip("a device's size is staged on the CUDA emulator only");
    const int64_t in = 8, out = 2048;
    auto least_memory = [&](int64_t rows) {
        size_t fails = 0, fits = size_t{1} << 30;
        while (fits - fails > 1) {
            const size_t middle = fails + (fits - fails) / 2;
            (training_fits(rows, in, out, middle) ? fits : fails) = middle;
        }
        return fits;
    };
    const size_t below = least_memory(1023), at = least_memory(1024);
    const size_t weight_bytes = static_cast<size_t>(in * out) * sizeof(float);
    CHECK_MSG(at > below && at - below < weight_bytes / 2,
              "least device memory for a training step: " << below << " bytes on 1,023 rows, " << at
                                                          << " on 1,024 (W has " << weight_bytes << ")");
}

TEST_CASE(cuda_vs_host, scratch_growth_on_a_nearly_full_device_takes_what_the_call_needs) {
    if (!cuda_tests_run()) return;
    if (!on_cuda_emulator()) skip("a device's size is staged on the CUDA emulator only");
    // The MSE's scratch holds a partial sum per block of 256 elements: an earlier MSE over 10
    // blocks leaves 10 floats, and this one needs 12, less than the half more that growing asks
    // for. Where 12 fit but 15 do not, it must still run, as it does on a context that never
    // had scratch.
    const int64_t blocks = 256, count = 12 * blocks;
    const size_t after_growth = least_memory_for_mse(10 * blocks, count), fresh = least_memory_for_mse(0, count);
    CHECK_MSG(after_growth == fresh, "least device memory for an MSE over " << count << " elements: " << after_growth
                                         << " bytes after a smaller one, " << fresh << " bytes on a new context");
}
