// neuron_calls_bench: what one C API call costs beyond its arithmetic, on the tutorial's
// 1 → 1 layer with a batch of 1, where a step's work is a few floating-point operations and
// the rest is the call: handle look-ups, argument checks, locks and (CUDA) the launches.
// `neuron bench` measures the same paths through the managed API, with its own overhead.
//
//   neuron_calls_bench [--device host|cuda|cuda:N] [--quick] [--resident-only]
//
// Prints the best time per call (or per step) of several repeats, each a run of calls
// enqueued back to back and followed by one synchronisation:
//   fused step      nrn_linear_mse_sgd_step, one call per training step
//   unfused step    forward, MSE, backward and two SGD updates: five calls per step, as the
//                   module API (Linear, MseCost, Sgd) makes them
//   batch index     nrn_batch_index, which takes no handle
//   resident step   nrn_linear_mse_sgd_train over 1000 rows on the device, shuffled: many steps
//                   per call, so the time is the backend's own per step (on CUDA, the
//                   one-warp kernel's latency per step); what `neuron bench`'s tutorial case
//                   measures in its device-resident variant. Then the same with one thing
//                   changed, to tell what a step's time goes to: the sequential and random
//                   orders (the batch picks), the last step's error alone instead of the
//                   accumulator too (the per-step error sum), neither (no error at all), and
//                   one row on the device (the same input and target every step: what the
//                   loads of a step's row cost when they always hit the cache). --resident-only
//                   times the first resident step alone (what gpu-check profiles).
//   path bounds     resident steps on either side of the CUDA one-warp path's bounds (train.cu):
//                   1 → 1 on batches of 64 and 65 rows, 4 → 4 on batches of 4 and 5; the first of
//                   each pair is the warp path's largest, the second the one-block path's smallest
//                   there. Where the second is faster, the bound is too high.
//   long batch      nrn_linear_mse_sgd_step on a 1 → 1 layer over 1,048,576 rows (`neuron bench`'s
//                   huge case at full size; 65,536 with --quick): one call whose time is all
//                   arithmetic, for scale (on the host, the one-pass 1 → 1 step over every core)
//
// A second thread runs (and ends) before anything is timed. Once a process has had one, and
// every .NET process has, libstdc++'s reference counts and glibc's locks take their atomic
// paths; a single-threaded C process takes cheaper ones that no managed caller ever sees.
#include <neuron.h>

#include "bench_support.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

// Best seconds per call of `op` over `repeats` runs of `calls` calls, each run synchronised once.
template <class Op>
double best_seconds(nrn_context* context, int repeats, int64_t calls, const Op& op) {
    using Clock = std::chrono::steady_clock;
    for (int64_t i = 0; i < calls / 10 + 1; ++i) op();  // warm-up
    CHECK(nrn_context_synchronize(context));
    double best = 0.0;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        for (int64_t i = 0; i < calls; ++i) op();
        CHECK(nrn_context_synchronize(context));
        const double per_call = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(calls);
        if (r == 0 || per_call < best) best = per_call;
    }
    return best;
}

// A tensor of `shape` with every element `value`.
struct Filled : bench::Tensor {
    Filled(nrn_context* context, std::initializer_list<int64_t> shape, float value) : Tensor(context, shape) {
        CHECK(nrn_tensor_fill(context, tensor, value));
    }
};

}  // namespace

int main(int argc, char** argv) {
    bench::program = "neuron_calls_bench";
    std::string device = "host";
    bool quick = false, resident_only = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (std::strcmp(argv[i], "--resident-only") == 0) {
            resident_only = true;
        } else {
            bench::fail(std::string("unknown argument ") + argv[i] +
                        " (usage: neuron_calls_bench [--device host|cuda|cuda:N] [--quick] [--resident-only])");
        }
    }
    const bench::DeviceChoice choice = bench::parse_device(device);
    const nrn_backend backend = choice.backend;

    std::thread([] {}).join();  // see the top of this file

    const int repeats = quick ? 1 : 7;
    const int64_t calls = quick ? 100 : (backend == NRN_BACKEND_HOST ? 200000 : 20000);

    nrn_context* context = nullptr;
    CHECK(nrn_context_create(backend, choice.ordinal, &context));
    {
        Filled x(context, {1, 1}, 0.5f), t(context, {1, 1}, 4.0f), w(context, {1, 1}, 0.1f), b(context, {1}, 0.0f),
            y(context, {1, 1}, 0.0f), g(context, {1, 1}, 0.0f), gw(context, {1, 1}, 0.0f), gb(context, {1}, 0.0f),
            e(context, {1}, 0.0f), a(context, {NRN_ACCUMULATOR_SIZE}, 0.0f);
        const float rate = 1e-3f;

        // Device-resident training: the tutorial's 1000 points, batch 1, `steps` steps per call.
        const int64_t rows = 1000, steps = quick ? 1000 : 10000, train_calls = quick ? 2 : 20;
        bench::Tensor data(context, {rows, 1}), targets(context, {rows, 1});
        CHECK(nrn_tensor_fill_uniform(context, data.tensor, -3.0f, 3.0f, 1));
        CHECK(nrn_tensor_fill(context, targets.tensor, 3.0f));
        int64_t first_step = 0;
        const auto resident_layer = [&](const bench::Tensor& inputs, const bench::Tensor& outputs,
                                        const bench::Tensor& weight, const bench::Tensor& bias, int64_t batch,
                                        nrn_batch_order order, nrn_tensor* error, nrn_tensor* accumulator) {
            return best_seconds(context, repeats, train_calls, [&] {
                       CHECK(nrn_linear_mse_sgd_train(context, inputs.tensor, outputs.tensor, weight.tensor,
                                                      bias.tensor, rate, batch, first_step, steps, order, 7, error,
                                                      accumulator));
                       first_step += steps;
                   }) /
                   static_cast<double>(steps);
        };
        const auto resident = [&](const bench::Tensor& inputs, const bench::Tensor& outputs, nrn_batch_order order,
                                  nrn_tensor* error, nrn_tensor* accumulator) {
            return resident_layer(inputs, outputs, w, b, 1, order, error, accumulator);
        };
        const double shuffled = resident(data, targets, NRN_ORDER_SHUFFLE, e.tensor, a.tensor);
        const auto print_resident = [&] {
            std::printf("%-14s %10.1f ns/step (%ld steps a call, %ld rows on the device, shuffled, error and "
                        "accumulator)\n",
                        "resident step", shuffled * 1e9, static_cast<long>(steps), static_cast<long>(rows));
        };
        if (resident_only) {
            print_resident();
        } else {
            const double fused = best_seconds(context, repeats, calls, [&] {
                CHECK(nrn_linear_mse_sgd_step(context, x.tensor, t.tensor, w.tensor, b.tensor, rate, e.tensor, a.tensor));
            });
            const double unfused = best_seconds(context, repeats, calls, [&] {
                CHECK(nrn_linear_forward(context, x.tensor, w.tensor, b.tensor, y.tensor));
                CHECK(nrn_mse(context, y.tensor, t.tensor, g.tensor, e.tensor, a.tensor));
                CHECK(nrn_linear_backward(context, x.tensor, w.tensor, g.tensor, nullptr, gw.tensor, gb.tensor,
                                          NRN_GRAD_OVERWRITE));
                CHECK(nrn_sgd_update(context, w.tensor, gw.tensor, rate));
                CHECK(nrn_sgd_update(context, b.tensor, gb.tensor, rate));
            });
            int64_t index = 0;
            const double batch_index = best_seconds(context, repeats, calls, [&] {
                CHECK(nrn_batch_index(NRN_ORDER_SHUFFLE, 7, index, 1000, &index));
            });

            const double sequential = resident(data, targets, NRN_ORDER_SEQUENTIAL, e.tensor, a.tensor);
            const double random = resident(data, targets, NRN_ORDER_RANDOM, e.tensor, a.tensor);
            const double last_error_only = resident(data, targets, NRN_ORDER_SHUFFLE, e.tensor, nullptr);
            const double no_error = resident(data, targets, NRN_ORDER_SHUFFLE, nullptr, nullptr);
            bench::Tensor one_x(context, {1, 1}), one_t(context, {1, 1});
            CHECK(nrn_tensor_fill(context, one_x.tensor, 0.5f));
            CHECK(nrn_tensor_fill(context, one_t.tensor, 3.0f));
            const double one_row = resident(one_x, one_t, NRN_ORDER_SHUFFLE, e.tensor, a.tensor);

            std::printf("neuron_calls_bench on %s: 1 -> 1 layer, batch 1, best of %d runs of %ld\n", device.c_str(),
                        repeats, static_cast<long>(calls));
            std::printf("%-14s %10.1f ns/step (1 call)\n", "fused step", fused * 1e9);
            std::printf("%-14s %10.1f ns/step (5 calls)\n", "unfused step", unfused * 1e9);
            std::printf("%-14s %10.1f ns/call\n", "batch index", batch_index * 1e9);
            print_resident();
            std::printf("  %-18s %10.1f ns/step\n", "sequential order", sequential * 1e9);
            std::printf("  %-18s %10.1f ns/step\n", "random order", random * 1e9);
            std::printf("  %-18s %10.1f ns/step (no accumulator)\n", "last error only", last_error_only * 1e9);
            std::printf("  %-18s %10.1f ns/step (no error, no accumulator)\n", "no error", no_error * 1e9);
            std::printf("  %-18s %10.1f ns/step (1 row on the device)\n", "one row", one_row * 1e9);

            std::printf("%-14s (resident steps as above, %ld rows on the device)\n", "path bounds",
                        static_cast<long>(rows));
            struct Bound {
                int64_t in, out, batch;
                const char* path;
            };
            for (const Bound& bound : {Bound{1, 1, 64, "warp"}, Bound{1, 1, 65, "block"}, Bound{4, 4, 4, "warp"},
                                       Bound{4, 4, 5, "block"}}) {
                bench::Tensor inputs(context, {rows, bound.in}), outputs(context, {rows, bound.out});
                Filled weight(context, {bound.in, bound.out}, 0.1f), bias(context, {bound.out}, 0.0f);
                CHECK(nrn_tensor_fill_uniform(context, inputs.tensor, -3.0f, 3.0f, 2));
                CHECK(nrn_tensor_fill(context, outputs.tensor, 3.0f));
                const double step = resident_layer(inputs, outputs, weight, bias, bound.batch, NRN_ORDER_SHUFFLE,
                                                   e.tensor, a.tensor);
                std::printf("  %ld -> %ld, batch %-6ld %10.1f ns/step (%s path on CUDA)\n", static_cast<long>(bound.in),
                            static_cast<long>(bound.out), static_cast<long>(bound.batch), step * 1e9, bound.path);
            }

            const int64_t long_rows = quick ? 65536 : 1048576;
            bench::Tensor long_x(context, {long_rows, 1}), long_t(context, {long_rows, 1});
            CHECK(nrn_tensor_fill_uniform(context, long_x.tensor, -3.0f, 3.0f, 3));
            CHECK(nrn_tensor_fill(context, long_t.tensor, 3.0f));
            const int64_t long_calls = quick ? 2 : (backend == NRN_BACKEND_HOST ? 200 : 2000);
            const double long_step = best_seconds(context, repeats, long_calls, [&] {
                CHECK(nrn_linear_mse_sgd_step(context, long_x.tensor, long_t.tensor, w.tensor, b.tensor, 1e-6f,
                                              e.tensor, a.tensor));
            });
            std::printf("%-14s %10.1f us/step (1 -> 1, batch %ld, 1 call)\n", "long batch", long_step * 1e6,
                        static_cast<long>(long_rows));
        }
    }
    CHECK(nrn_context_destroy(context));
    return 0;
}
