// neuron_steps_bench: the parts of a Linear layer's training step, timed one after another as
// a step runs them: forward Y = X·W + b, the squared error and its gradient G, the weight and
// bias gradients, and the SGD updates of W and b. Each step takes the next of 16 batches, so
// that its input comes from memory as in an epoch, and each part's time includes what it pays
// for the part before it (data left in another core's cache, say), which a part timed alone on
// the same data again and again (neuron_products_bench) does not.
//
//   neuron_steps_bench [--device host|cuda|cuda:N] [--quick] [BATCHxINxOUT ...]
//
// Prints one line per shape: the median time of each part and of the whole step over the
// steps after a warm-up. The device is synchronised after each part, so a CUDA step is timed
// with four waits that a Trainer's steps do not have. After the steps, the error must be finite,
// else the run fails (exit 1) and prints no timing for the shape.
// NEURON_HOST_THREADS and NEURON_HOST_SIMD choose the host backend's threads and kernel.
#include <neuron.h>

#include "bench_support.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int kBatches = 16;
constexpr int kParts = 5;  // forward, error, gradients, update, the whole step
const char* const kPartNames[kParts] = {"forward", "error", "gradients", "update", "step"};

double median(std::vector<double> values) {
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    bench::program = "neuron_steps_bench";
    bench::ShapeOptions options = bench::parse_shape_options(argc, argv);
    const std::string& device = options.device;
    const bool quick = options.quick;
    std::vector<bench::Shape>& shapes = options.shapes;
    const bench::DeviceChoice choice = bench::parse_device(device);
    if (shapes.empty()) {
        // Small layers, whose products the host backend runs on one thread, and layers with few
        // inputs or outputs, whose products it shares out (native/src/host/host_kernels.cpp,
        // kMinWorkPerThread and product_work).
        if (quick) shapes = {{64, 32, 32}};
        else shapes = {{64, 256, 256}, {256, 128, 128}, {1024, 784, 4}, {4096, 256, 2}, {16384, 1, 64}, {16384, 4, 64}};
    }

    nrn_context* context = nullptr;
    CHECK(nrn_context_create(choice.backend, choice.ordinal, &context));
    std::printf("%-18s", "batch x in x out");
    for (const char* name : kPartNames) std::printf(" %12s", name);
    std::printf("   (median µs)\n");
    for (const bench::Shape& s : shapes) {
        std::vector<std::unique_ptr<bench::Tensor>> inputs, targets;
        for (int b = 0; b < kBatches; ++b) {
            inputs.push_back(std::make_unique<bench::Tensor>(context, std::initializer_list<int64_t>{s.batch, s.in}));
            targets.push_back(std::make_unique<bench::Tensor>(context, std::initializer_list<int64_t>{s.batch, s.out}));
            CHECK(nrn_tensor_fill_uniform(context, inputs.back()->tensor, -1.0f, 1.0f, 10 + b));
            CHECK(nrn_tensor_fill_uniform(context, targets.back()->tensor, -1.0f, 1.0f, 100 + b));
        }
        bench::Tensor w(context, {s.in, s.out}), bias(context, {s.out}), y(context, {s.batch, s.out}),
            g(context, {s.batch, s.out}), gw(context, {s.in, s.out}), gb(context, {s.out}), error(context, {1});
        CHECK(nrn_tensor_fill_uniform(context, w.tensor, -0.1f, 0.1f, 3));
        CHECK(nrn_tensor_fill_uniform(context, bias.tensor, -0.1f, 0.1f, 4));

        // Enough steps for a stable median, about 0.3 s of them (at least 50) once the warm-up
        // has timed one; the first fifth are the warm-up.
        using Clock = std::chrono::steady_clock;
        std::array<std::vector<double>, kParts> times;
        int64_t steps = quick ? 10 : 50;
        for (int64_t step = 0; step < steps; ++step) {
            const bench::Tensor& x = *inputs[static_cast<size_t>(step % kBatches)];
            const bench::Tensor& t = *targets[static_cast<size_t>(step % kBatches)];
            std::array<Clock::time_point, kParts - 1> ends;  // of each part but the whole step
            const auto start = Clock::now();
            CHECK(nrn_linear_forward(context, x.tensor, w.tensor, bias.tensor, y.tensor));
            CHECK(nrn_context_synchronize(context));
            ends[0] = Clock::now();
            CHECK(nrn_mse(context, y.tensor, t.tensor, g.tensor, error.tensor, nullptr));
            CHECK(nrn_context_synchronize(context));
            ends[1] = Clock::now();
            CHECK(nrn_linear_backward(context, x.tensor, w.tensor, g.tensor, nullptr, gw.tensor, gb.tensor,
                                      NRN_GRAD_OVERWRITE));
            CHECK(nrn_context_synchronize(context));
            ends[2] = Clock::now();
            CHECK(nrn_sgd_update(context, w.tensor, gw.tensor, 1e-3f));
            CHECK(nrn_sgd_update(context, bias.tensor, gb.tensor, 1e-3f));
            CHECK(nrn_context_synchronize(context));
            ends[3] = Clock::now();
            if (step == 0 && !quick) {
                const double seconds = std::chrono::duration<double>(ends[3] - start).count();
                steps = std::max<int64_t>(50, static_cast<int64_t>(0.3 / std::max(seconds, 1e-7)) * 5 / 4);
            }
            if (step < steps / 5) continue;
            const auto micros = [](Clock::time_point from, Clock::time_point to) {
                return std::chrono::duration<double, std::micro>(to - from).count();
            };
            for (size_t p = 0; p < ends.size(); ++p) times[p].push_back(micros(p == 0 ? start : ends[p - 1], ends[p]));
            times[kParts - 1].push_back(micros(start, ends.back()));
        }
        float last_error = 0.0f;
        CHECK(nrn_tensor_copy_to_host(context, error.tensor, &last_error, 1));
        if (!std::isfinite(last_error)) {
            std::fprintf(stderr, "%s: the error of %ldx%ldx%ld on %s is %g: no timing printed\n", bench::program,
                         s.batch, s.in, s.out, device.c_str(), static_cast<double>(last_error));
            nrn_context_destroy(context);
            return 1;
        }
        char name[64];
        std::snprintf(name, sizeof(name), "%ldx%ldx%ld", s.batch, s.in, s.out);
        std::printf("%-18s", name);
        for (const auto& part : times) std::printf(" %12.1f", median(part));
        std::printf("\n");
    }
    CHECK(nrn_context_destroy(context));
    return 0;
}
