// neuron_fills_bench: what filling and copying a tensor costs, on one backend: the work of
// making a layer (zeros, a random initialisation) and of loading a data set into it.
//
//   neuron_fills_bench [--device host|cuda|cuda:N] [--quick] [COUNT ...]
//
// For each element count (by default 2^20 and 2^24, a 64 MiB tensor: a 4096 → 4096 layer's
// weights; 2^16 and 2^20 with --quick), prints the best milliseconds of several repeats, and the
// bytes written per second:
//   new + fill        nrn_tensor_create then nrn_tensor_fill with zeros, and the destroy: a tensor
//                     as the managed Tensor constructor makes it, with the cost of its first
//                     touch of fresh memory (page faults, on the host) where the allocator hands
//                     back new pages
//   fill              nrn_tensor_fill on a tensor already written
//   fill_uniform      nrn_tensor_fill_uniform (Linear's default initialisation draws from it)
//   fill_normal       nrn_tensor_fill_normal
//   copy_from_host    nrn_tensor_copy_from_host from host memory already written
//   copy_to_host      nrn_tensor_copy_to_host into host memory already written
//   copy              nrn_tensor_copy between two tensors of the backend
//   copy_between      nrn_tensor_copy_between to a second context of the same device (Tensor.CopyFrom
//                     between two devices)
//   to host tensor    (CUDA) nrn_tensor_copy_between to a tensor of a host context
//   from host tensor  (CUDA) nrn_tensor_copy_between from a tensor of a host context
#include <neuron.h>

#include "bench_support.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Best seconds of `repeats` runs of `op`, each synchronised, after one run not timed.
template <class Op>
double best_seconds(nrn_context* context, int repeats, const Op& op) {
    using Clock = std::chrono::steady_clock;
    op();
    CHECK(nrn_context_synchronize(context));
    double best = 0.0;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        op();
        CHECK(nrn_context_synchronize(context));
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (r == 0 || seconds < best) best = seconds;
    }
    return best;
}

int64_t parse_count(const char* text) {
    char* end = nullptr;
    const long long count = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || count < 1) bench::fail(std::string("not an element count: ") + text);
    return count;
}

}  // namespace

int main(int argc, char** argv) {
    bench::program = "neuron_fills_bench";
    std::string device = "host";
    bool quick = false;
    std::vector<int64_t> counts;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (argv[i][0] == '-') {
            bench::fail(std::string("unknown option ") + argv[i] +
                        " (usage: neuron_fills_bench [--device host|cuda|cuda:N] [--quick] [COUNT ...])");
        } else {
            counts.push_back(parse_count(argv[i]));
        }
    }
    if (counts.empty()) counts = quick ? std::vector<int64_t>{1 << 16, 1 << 20} : std::vector<int64_t>{1 << 20, 1 << 24};
    const bench::DeviceChoice choice = bench::parse_device(device);
    const int repeats = quick ? 2 : 7;

    std::thread([] {}).join();  // as a .NET process has had one (calls_bench.cpp says why it matters)

    nrn_context *context = nullptr, *peer = nullptr, *host_context = nullptr;
    CHECK(nrn_context_create(choice.backend, choice.ordinal, &context));
    CHECK(nrn_context_create(choice.backend, choice.ordinal, &peer));
    if (choice.backend != NRN_BACKEND_HOST) CHECK(nrn_context_create(NRN_BACKEND_HOST, 0, &host_context));
    std::printf("%-16s %12s %10s %10s\n", "operation", "elements", "ms", "GB/s");
    for (const int64_t count : counts) {
        bench::Tensor tensor(context, {count}), other(context, {count});
        CHECK(nrn_tensor_fill(context, tensor.tensor, 1.0f));
        CHECK(nrn_tensor_fill(context, other.tensor, 1.0f));
        std::vector<float> host(static_cast<size_t>(count), 1.0f);
        const auto report = [&](const char* name, double seconds) {
            std::printf("%-16s %12lld %10.3f %10.2f\n", name, static_cast<long long>(count), seconds * 1e3,
                        static_cast<double>(count) * sizeof(float) / seconds / 1e9);
        };
        report("new + fill", best_seconds(context, repeats, [&] {
                   bench::Tensor fresh(context, {count});
                   CHECK(nrn_tensor_fill(context, fresh.tensor, 0.0f));
                   CHECK(nrn_context_synchronize(context));
               }));
        report("fill", best_seconds(context, repeats, [&] { CHECK(nrn_tensor_fill(context, tensor.tensor, 0.5f)); }));
        report("fill_uniform", best_seconds(context, repeats, [&] {
                   CHECK(nrn_tensor_fill_uniform(context, tensor.tensor, -1.0f, 1.0f, 7));
               }));
        report("fill_normal", best_seconds(context, repeats, [&] {
                   CHECK(nrn_tensor_fill_normal(context, tensor.tensor, 0.0f, 1.0f, 7));
               }));
        report("copy_from_host", best_seconds(context, repeats, [&] {
                   CHECK(nrn_tensor_copy_from_host(context, tensor.tensor, host.data(), count));
               }));
        report("copy_to_host", best_seconds(context, repeats, [&] {
                   CHECK(nrn_tensor_copy_to_host(context, tensor.tensor, host.data(), count));
               }));
        report("copy", best_seconds(context, repeats, [&] {
                   CHECK(nrn_tensor_copy(context, tensor.tensor, other.tensor));
               }));
        bench::Tensor there(peer, {count});
        CHECK(nrn_tensor_fill(peer, there.tensor, 1.0f));
        report("copy_between", best_seconds(context, repeats, [&] {
                   CHECK(nrn_tensor_copy_between(context, tensor.tensor, peer, there.tensor));
               }));
        if (host_context != nullptr) {
            bench::Tensor on_host(host_context, {count});
            CHECK(nrn_tensor_fill(host_context, on_host.tensor, 1.0f));
            report("to host tensor", best_seconds(context, repeats, [&] {
                       CHECK(nrn_tensor_copy_between(context, tensor.tensor, host_context, on_host.tensor));
                   }));
            report("from host tensor", best_seconds(context, repeats, [&] {
                       CHECK(nrn_tensor_copy_between(host_context, on_host.tensor, context, tensor.tensor));
                   }));
        }
    }
    CHECK(nrn_context_destroy(host_context));
    CHECK(nrn_context_destroy(peer));
    CHECK(nrn_context_destroy(context));
    return 0;
}
