// Helpers of the native tests that compare the CUDA backend with the host backend.
#include "cuda_comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace test {

float telling_rate(const Shape& s) { return 0.5f * static_cast<float>(s.out) / static_cast<float>(s.in); }

bool cuda_tests_run() {
    const char* required = std::getenv("NEURON_TEST_REQUIRE_CUDA");
    const bool must = required != nullptr && std::strcmp(required, "1") == 0;
    int32_t compiled = 0;
    REQUIRE_OK(nrn_cuda_compiled(&compiled));
    const int32_t devices = cuda_device_count();
    if (devices > 0) return true;
    if (must) {
        record_failure(__FILE__, __LINE__,
                       std::string("NEURON_TEST_REQUIRE_CUDA=1 but there is no usable CUDA device (CUDA compiled in: ") +
                           (compiled ? "yes" : "no") + ")");
    } else {
        skip(std::string("no CUDA device (CUDA compiled in: ") + (compiled ? "yes" : "no") + ")");
    }
    return false;
}

bool on_cuda_emulator() {
    nrn_device_info info{};
    REQUIRE_OK(nrn_cuda_device_info(0, &info));
    return std::strstr(info.name, "CUDA emulator") != nullptr;
}

std::string shape_name(const Shape& s) {
    return std::to_string(s.batch) + "x" + std::to_string(s.in) + "x" + std::to_string(s.out);
}

// The gradients are products of G with values of magnitude ≤ 1, so the absolute tolerance
// scales with G's largest element (about 1/N, times the spread of the predictions, which grows
// with the input width).
void check_gradients(Pair* gx, Pair* gw, Pair* gb, Pair& g, const Shape& s, const std::string& what) {
    double g_max = 0;
    for (float v : g.h.read()) g_max = std::max(g_max, static_cast<double>(std::fabs(v)));
    if (gx) CHECK_CLOSE(gx->c.read(), to_double(gx->h.read()), g_max * product_atol(s.out), 1e-4, "dX " + what);
    if (gw) CHECK_CLOSE(gw->c.read(), to_double(gw->h.read()), g_max * product_atol(s.batch), 1e-4, "dW " + what);
    if (gb) CHECK_CLOSE(gb->c.read(), to_double(gb->h.read()), g_max * product_atol(s.batch), 1e-4, "db " + what);
}

void check_products(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s, unsigned products) {
    const std::string what = shape_name(s);
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair w(cuda, host, {s.in, s.out}, random_values(rng, s.in * s.out));
    Pair b(cuda, host, {s.out}, random_values(rng, s.out));
    Pair g(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out, -1e-3f, 1e-3f));
    if (products & kForward) {
        Pair y(cuda, host, {s.batch, s.out});
        REQUIRE_OK(nrn_linear_forward(host, x.h, w.h, b.h, y.h));
        REQUIRE_OK(nrn_linear_forward(cuda, x.c, w.c, b.c, y.c));
        CHECK_CLOSE(y.c.read(), to_double(y.h.read()), product_atol(s.in + 1), 1e-5, "forward " + what);
    }
    if (!(products & (kInputGradient | kWeightGradient | kBiasGradient))) return;
    Pair gx(cuda, host, {s.batch, s.in}), gw(cuda, host, {s.in, s.out}), gb(cuda, host, {s.out});
    Pair* dx = products & kInputGradient ? &gx : nullptr;
    Pair* dw = products & kWeightGradient ? &gw : nullptr;
    Pair* db = products & kBiasGradient ? &gb : nullptr;
    REQUIRE_OK(nrn_linear_backward(host, x.h, w.h, g.h, dx ? dx->h.get() : nullptr, dw ? dw->h.get() : nullptr,
                                   db ? db->h.get() : nullptr, NRN_GRAD_OVERWRITE));
    REQUIRE_OK(nrn_linear_backward(cuda, x.c, w.c, g.c, dx ? dx->c.get() : nullptr, dw ? dw->c.get() : nullptr,
                                   db ? db->c.get() : nullptr, NRN_GRAD_OVERWRITE));
    check_gradients(dx, dw, db, g, s, what);
}

void check_fused_step(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s) {
    const std::string what = "fused step " + shape_name(s);
    const auto w0 = random_values(rng, s.in * s.out), b0 = random_values(rng, s.out);
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair t(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out));
    Pair w(cuda, host, {s.in, s.out}, w0), b(cuda, host, {s.out}, b0), e(cuda, host, {1});
    const float lr = telling_rate(s);
    REQUIRE_OK(nrn_linear_mse_sgd_step(host, x.h, t.h, w.h, b.h, lr, e.h, nullptr));
    REQUIRE_OK(nrn_linear_mse_sgd_step(cuda, x.c, t.c, w.c, b.c, lr, e.c, nullptr));
    const auto w1 = w.c.read(), b1 = b.c.read(), e1 = e.c.read();
    CHECK_CLOSE(w1, to_double(w.h.read()), 1e-5, 1e-4, "W " + what);
    CHECK_CLOSE(b1, to_double(b.h.read()), 1e-5, 1e-4, "b " + what);
    CHECK_CLOSE(e1, to_double(e.h.read()), 1e-6, 1e-4, "error " + what);
    w.c.write(w0);
    b.c.write(b0);
    REQUIRE_OK(nrn_linear_mse_sgd_step(cuda, x.c, t.c, w.c, b.c, lr, e.c, nullptr));
    CHECK_IDENTICAL(w.c.read(), w1, "W twice " + what);
    CHECK_IDENTICAL(b.c.read(), b1, "b twice " + what);
    CHECK_IDENTICAL(e.c.read(), e1, "error twice " + what);
}

void check_training(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s, int64_t batch_size,
                    nrn_batch_order order, int64_t steps) {
    const std::string what = shape_name(s) + " batch " + std::to_string(batch_size) + " order " + std::to_string(order) + ", " +
                             std::to_string(steps) + " steps";
    const auto w0 = random_values(rng, s.in * s.out), b0 = random_values(rng, s.out);
    Pair x(cuda, host, {s.batch, s.in}, random_values(rng, s.batch * s.in));
    Pair t(cuda, host, {s.batch, s.out}, random_values(rng, s.batch * s.out));
    Pair w(cuda, host, {s.in, s.out}, w0), b(cuda, host, {s.out}, b0), e(cuda, host, {1}), a(cuda, host, {4});
    REQUIRE_OK(nrn_accumulator_reset(host, a.h));
    REQUIRE_OK(nrn_accumulator_reset(cuda, a.c));
    const float lr = telling_rate(s);
    // One fused step on the whole set, then a training run.
    REQUIRE_OK(nrn_linear_mse_sgd_step(host, x.h, t.h, w.h, b.h, lr, e.h, a.h));
    REQUIRE_OK(nrn_linear_mse_sgd_step(cuda, x.c, t.c, w.c, b.c, lr, e.c, a.c));
    CHECK_CLOSE(w.c.read(), to_double(w.h.read()), 1e-5, 1e-4, "step W " + what);
    CHECK_CLOSE(b.c.read(), to_double(b.h.read()), 1e-5, 1e-4, "step b " + what);
    CHECK_CLOSE(e.c.read(), to_double(e.h.read()), 1e-6, 1e-4, "step error " + what);
    REQUIRE_OK(nrn_linear_mse_sgd_train(host, x.h, t.h, w.h, b.h, lr, batch_size, 3, steps, order, 9, e.h, a.h));
    REQUIRE_OK(nrn_linear_mse_sgd_train(cuda, x.c, t.c, w.c, b.c, lr, batch_size, 3, steps, order, 9, e.c, a.c));
    const auto w1 = w.c.read(), b1 = b.c.read(), e1 = e.c.read();
    CHECK_CLOSE(w1, to_double(w.h.read()), 1e-4, 1e-3, "train W " + what);
    CHECK_CLOSE(b1, to_double(b.h.read()), 1e-4, 1e-3, "train b " + what);
    // The updates themselves, W - W0, within 1% of the host's and a few float steps of W: wide
    // layers move each weight little, and next to |W| alone a missing update would pass.
    const auto wh = w.h.read();
    std::vector<float> moved(wh.size());
    std::vector<double> expected_moves(wh.size());
    double largest = 0, largest_move = 0;
    for (size_t i = 0; i < wh.size(); ++i) {
        moved[i] = static_cast<float>(static_cast<double>(w1[i]) - w0[i]);
        expected_moves[i] = static_cast<double>(wh[i]) - w0[i];
        largest = std::max(largest, std::fabs(static_cast<double>(wh[i])));
        largest_move = std::max(largest_move, std::fabs(expected_moves[i]));
    }
    const double float_steps = 32 * std::numeric_limits<float>::epsilon() * std::max(1.0, largest);
    CHECK_CLOSE(moved, expected_moves, float_steps, 1e-2, "train W - W0 " + what);
    CHECK_MSG(largest_move > 100 * float_steps,
              what << ": training moved W by at most " << largest_move << ", too little to tell an update from none");
    CHECK_CLOSE(e1, to_double(e.h.read()), 1e-5, 1e-3, "train error " + what);
    double hs = 0, hc = 0, cs = 0, cc = 0;
    REQUIRE_OK(nrn_accumulator_read(host, a.h, &hs, &hc));
    REQUIRE_OK(nrn_accumulator_read(cuda, a.c, &cs, &cc));
    CHECK_MSG(hc == cc && std::fabs(hs - cs) <= 1e-3 * std::fabs(hs) + 1e-6,
              what << ": accumulator host " << hs << "/" << hc << ", cuda " << cs << "/" << cc);
    // Determinism: the same run again from the same start.
    w.c.write(w0);
    b.c.write(b0);
    REQUIRE_OK(nrn_linear_mse_sgd_step(cuda, x.c, t.c, w.c, b.c, lr, e.c, nullptr));
    REQUIRE_OK(nrn_linear_mse_sgd_train(cuda, x.c, t.c, w.c, b.c, lr, batch_size, 3, steps, order, 9, e.c, nullptr));
    CHECK_IDENTICAL(w.c.read(), w1, "train W twice " + what);
    CHECK_IDENTICAL(b.c.read(), b1, "train b twice " + what);
    CHECK_IDENTICAL(e.c.read(), e1, "train error twice " + what);
}

}  // namespace test
