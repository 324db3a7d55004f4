// neuron_products_bench: speed of the Linear layer's three matrix products on one backend,
// each alone: forward Y = X·W, weight gradient dW = Xᵀ·G and input gradient dX = G·Wᵀ.
// `neuron bench` measures whole training steps; this shows which product bounds them.
//
//   neuron_products_bench [--device host|cuda|cuda:N] [--quick] [BATCHxINxOUT ...]
//
// Prints one line per shape: best time of several repeats and GFLOP/s (2·B·I·O per product).
// NEURON_HOST_THREADS and NEURON_HOST_SIMD choose the host backend's threads and kernel.
#include <neuron.h>

#include "bench_support.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

struct Shape {
    int64_t batch, in, out;
};

Shape parse_shape(const char* text) {
    Shape s{};
    char tail = 0;
    if (std::sscanf(text, "%ldx%ldx%ld%c", &s.batch, &s.in, &s.out, &tail) != 3 || s.batch < 1 || s.in < 1 ||
        s.out < 1)
        bench::fail(std::string("not a shape BATCHxINxOUT: ") + text);
    return s;
}

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

}  // namespace

int main(int argc, char** argv) {
    bench::program = "neuron_products_bench";
    std::string device = "host";
    bool quick = false;
    std::vector<Shape> shapes;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (argv[i][0] == '-') {
            bench::fail(std::string("unknown option ") + argv[i] +
                 " (usage: neuron_products_bench [--device host|cuda|cuda:N] [--quick] [BATCHxINxOUT ...])");
        } else {
            shapes.push_back(parse_shape(argv[i]));
        }
    }

    const bench::DeviceChoice choice = bench::parse_device(device);
    const nrn_backend backend = choice.backend;
    if (shapes.empty()) {
        if (quick) shapes = {{64, 32, 32}};
        else if (backend == NRN_BACKEND_HOST) shapes = {{256, 256, 256}, {1024, 256, 256}, {2048, 1024, 1024}};
        else shapes = {{65536, 256, 256}, {8192, 4096, 4096}};
    }
    const int repeats = quick ? 1 : 5;
    const double min_seconds = quick ? 0.0 : 0.1;

    nrn_context* context = nullptr;
    CHECK(nrn_context_create(backend, choice.ordinal, &context));
    std::printf("%-18s %20s %20s %20s\n", "batch x in x out", "forward X·W", "weight grad Xᵀ·G", "input grad G·Wᵀ");
    for (const Shape& s : shapes) {
        Matrix x(context, s.batch, s.in, 1), w(context, s.in, s.out, 2), y(context, s.batch, s.out, 3),
            g(context, s.batch, s.out, 4), gw(context, s.in, s.out, 5), gx(context, s.batch, s.in, 6);
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
        const double flop = 2.0 * static_cast<double>(s.batch) * static_cast<double>(s.in) * static_cast<double>(s.out);
        char name[64];
        std::snprintf(name, sizeof(name), "%ldx%ldx%ld", s.batch, s.in, s.out);
        auto cell = [&](double seconds) {
            char text[64];
            std::snprintf(text, sizeof(text), "%9.3f ms %6.0f GF/s", seconds * 1e3, flop / seconds * 1e-9);
            return std::string(text);
        };
        std::printf("%-18s %20s %20s %20s\n", name, cell(forward).c_str(), cell(weight_grad).c_str(),
                    cell(input_grad).c_str());
    }
    CHECK(nrn_context_destroy(context));
    return 0;
}
