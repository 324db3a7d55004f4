// neuron_products_bench: speed of the Linear layer's three matrix products on one backend,
// each alone: forward Y = X·W, weight gradient dW = Xᵀ·G and input gradient dX = G·Wᵀ; and of
// the bias gradient db = Σrows G, which reads as much as the products write.
// `neuron bench` measures whole training steps; this shows which part bounds them, and
// neuron_steps_bench the parts in the order a step runs them.
//
//   neuron_products_bench [--device host|cuda|cuda:N] [--quick] [BATCHxINxOUT ...]
//
// Prints one line per shape: best time of several repeats and GFLOP/s (2·B·I·O per product), and
// for the bias gradient GB/s (4·B·O bytes read).
// Before a shape's line, each product's result is checked at 64 sampled elements against a sum in
// double on the host, so that no timing is printed for a wrong product (a GEMM variant, say):
// a mismatch fails the run (exit 1) with the first mismatching elements.
// NEURON_HOST_THREADS and NEURON_HOST_SIMD choose the host backend's threads and kernel.
#include <neuron.h>

#include "bench_support.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace {

// Best seconds per call of `op` over `repeats` repeats of at least `min_seconds` each; the
// device is synchronised around every repeat, so queued work is timed.
double best_seconds(nrn_context* context, int repeats, double min_seconds, const std::function<void()>& op) {
    using Clock = std::chrono::steady_clock;
    op();  // warm-up: first-touch memory, kernel loading, scratch allocation
    CHECK(nrn_context_synchronize(context));
    double best = 0.0;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        int64_t calls = 0;
        double seconds = 0.0;
        do {
            op();
            ++calls;
            CHECK(nrn_context_synchronize(context));
            seconds = std::chrono::duration<double>(Clock::now() - start).count();
        } while (seconds < min_seconds);
        const double per_call = seconds / static_cast<double>(calls);
        if (r == 0 || per_call < best) best = per_call;
    }
    return best;
}

// A rows x cols matrix uniform in [-1, 1) from `seed`.
struct Matrix : bench::Tensor {
    Matrix(nrn_context* context, int64_t rows, int64_t cols, uint64_t seed) : Tensor(context, {rows, cols}) {
        CHECK(nrn_tensor_fill_uniform(context, tensor, -1.0f, 1.0f, seed));
    }
};

std::vector<float> to_host(nrn_context* context, const bench::Tensor& t, int64_t count) {
    std::vector<float> values(static_cast<size_t>(count));
    CHECK(nrn_tensor_copy_to_host(context, t.tensor, values.data(), count));
    return values;
}

// Checks C = op(A)·op(B), an M x N row-major result with inner length K, at sampled elements:
// the corners and a spread of others. a(i, k) and b(k, j) read the operands, uniform in [-1, 1).
// On such data a correct float sum errs by less than 2e-7·Σ|products| (measured for K from 256
// to 65536, with the host kernels and with plain sequential FMA sums; the worst-case bound,
// K·u·Σ|products| with u = 2^-24, is far looser). The tolerance, 2e-6·Σ|products| plus 1e-6,
// leaves a tenfold margin and stays below a typical single product (|products| average 1/4):
// Σ|products| is about K/4, so 2e-6·K/4 = 0.03 at K = 65536. A product that misses or repeats
// a term therefore fails at some of the sampled elements. Returns the number of mismatches,
// printing the first few.
template <typename A, typename B>
int check_product(const char* what, const std::vector<float>& c, int64_t m, int64_t n, int64_t k, A a, B b) {
    std::vector<std::pair<int64_t, int64_t>> at = {{0, 0}, {0, n - 1}, {m - 1, 0}, {m - 1, n - 1}};
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int s = 0; s < 60; ++s) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        at.emplace_back(static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(m)),
                        static_cast<int64_t>((state >> 11) % static_cast<uint64_t>(n)));
    }
    int mismatches = 0;
    for (const auto& [i, j] : at) {
        double sum = 0.0, scale = 0.0;
        for (int64_t q = 0; q < k; ++q) {
            const double term = static_cast<double>(a(i, q)) * static_cast<double>(b(q, j));
            sum += term;
            scale += std::fabs(term);
        }
        const double got = c[static_cast<size_t>(i * n + j)], tolerance = 2e-6 * scale + 1e-6;
        if (std::isfinite(got) && std::fabs(got - sum) <= tolerance) continue;
        if (++mismatches <= 5)
            std::fprintf(stderr, "%s: %s[%ld, %ld] is %.9g, expected %.9g (tolerance %.3g)\n", bench::program, what,
                         i, j, got, sum, tolerance);
    }
    return mismatches;
}

// Checks the three products last written to y, gw and gx.
int check_products(nrn_context* context, const bench::Shape& s, const bench::Tensor& x, const bench::Tensor& w,
                   const bench::Tensor& g, const bench::Tensor& y, const bench::Tensor& gw, const bench::Tensor& gx) {
    const int64_t B = s.batch, I = s.in, O = s.out;
    const std::vector<float> hx = to_host(context, x, B * I), hw = to_host(context, w, I * O),
                             hg = to_host(context, g, B * O);
    const std::vector<float> hy = to_host(context, y, B * O), hgw = to_host(context, gw, I * O),
                             hgx = to_host(context, gx, B * I);
    auto X = [&](int64_t r, int64_t c) { return hx[static_cast<size_t>(r * I + c)]; };
    auto W = [&](int64_t r, int64_t c) { return hw[static_cast<size_t>(r * O + c)]; };
    auto G = [&](int64_t r, int64_t c) { return hg[static_cast<size_t>(r * O + c)]; };
    return check_product("forward X·W", hy, B, O, I, X, W) +
           check_product("weight grad Xᵀ·G", hgw, I, O, B, [&](int64_t r, int64_t q) { return X(q, r); }, G) +
           check_product("input grad G·Wᵀ", hgx, B, I, O, G, [&](int64_t q, int64_t c) { return W(c, q); });
}

}  // namespace

int main(int argc, char** argv) {
    bench::program = "neuron_products_bench";
    bench::ShapeOptions options = bench::parse_shape_options(argc, argv);
    const std::string& device = options.device;
    const bool quick = options.quick;
    std::vector<bench::Shape>& shapes = options.shapes;

    const bench::DeviceChoice choice = bench::parse_device(device);
    const nrn_backend backend = choice.backend;
    if (shapes.empty()) {
        if (quick) shapes = {{64, 32, 32}};
        // On the host, also layers of few outputs over a long batch, whose products are too
        // narrow for the micro-kernel, and a small layer over a long batch, whose weight gradient
        // is split along the batch (native/src/host/host_kernels.cpp).
        else if (backend == NRN_BACKEND_HOST)
            shapes = {{256, 256, 256}, {1024, 256, 256}, {2048, 1024, 1024}, {65536, 16, 4}, {65536, 300, 1},
                      {65536, 64, 64}};
        else shapes = {{65536, 256, 256}, {8192, 4096, 4096}};
    }
    const int repeats = quick ? 1 : 5;
    const double min_seconds = quick ? 0.0 : 0.1;

    nrn_context* context = nullptr;
    CHECK(nrn_context_create(backend, choice.ordinal, &context));
    std::printf("%-18s %20s %20s %20s %20s\n", "batch x in x out", "forward X·W", "weight grad Xᵀ·G", "input grad G·Wᵀ",
                "bias grad Σ G");
    for (const bench::Shape& s : shapes) {
        Matrix x(context, s.batch, s.in, 1), w(context, s.in, s.out, 2), y(context, s.batch, s.out, 3),
            g(context, s.batch, s.out, 4), gw(context, s.in, s.out, 5), gx(context, s.batch, s.in, 6);
        bench::Tensor gb(context, {s.out});
        const double forward = best_seconds(context, repeats, min_seconds, [&] {
            CHECK(nrn_linear_forward(context, x.tensor, w.tensor, nullptr, y.tensor));
        });
        const double weight_grad = best_seconds(context, repeats, min_seconds, [&] {
            CHECK(nrn_linear_backward(context, x.tensor, w.tensor, g.tensor, nullptr, gw.tensor, nullptr,
                                      NRN_GRAD_OVERWRITE));
        });
        const double input_grad = best_seconds(context, repeats, min_seconds, [&] {
            CHECK(nrn_linear_backward(context, x.tensor, w.tensor, g.tensor, gx.tensor, nullptr, nullptr,
                                      NRN_GRAD_OVERWRITE));
        });
        const double bias_grad = best_seconds(context, repeats, min_seconds, [&] {
            CHECK(nrn_linear_backward(context, x.tensor, w.tensor, g.tensor, nullptr, nullptr, gb.tensor,
                                      NRN_GRAD_OVERWRITE));
        });
        if (check_products(context, s, x, w, g, y, gw, gx) != 0) {
            std::fprintf(stderr, "%s: wrong products for %ldx%ldx%ld on %s: no timing printed\n", bench::program,
                         s.batch, s.in, s.out, device.c_str());
            nrn_context_destroy(context);
            return 1;
        }
        const double flop = 2.0 * static_cast<double>(s.batch) * static_cast<double>(s.in) * static_cast<double>(s.out);
        char name[64];
        std::snprintf(name, sizeof(name), "%ldx%ldx%ld", s.batch, s.in, s.out);
        auto cell = [&](double seconds) {
            char text[64];
            std::snprintf(text, sizeof(text), "%9.3f ms %6.0f GF/s", seconds * 1e3, flop / seconds * 1e-9);
            return std::string(text);
        };
        char bias[64];
        std::snprintf(bias, sizeof(bias), "%9.3f ms %6.0f GB/s", bias_grad * 1e3,
                      4.0 * static_cast<double>(s.batch) * static_cast<double>(s.out) / bias_grad * 1e-9);
        std::printf("%-18s %20s %20s %20s %20s\n", name, cell(forward).c_str(), cell(weight_grad).c_str(),
                    cell(input_grad).c_str(), bias);
    }
    CHECK(nrn_context_destroy(context));
    return 0;
}
