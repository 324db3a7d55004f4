// The host backend's promise (native/src/host/host_kernels.h): results are bit-identical
// whatever the number of threads and the instruction set the matrix kernel is compiled for.
// Both are chosen once per process (NEURON_HOST_THREADS, NEURON_HOST_SIMD), so the test runs
// this executable again under other settings and compares digests of every result's bits.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"

using namespace test;

namespace {

constexpr const char* kDigestVariable = "NEURON_TEST_PRINT_HOST_DIGEST";

// FNV-1a over the bits of every float.
void mix(uint64_t& digest, const std::vector<float>& values) {
    for (float v : values) {
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof(bits));
        for (int byte = 0; byte < 4; ++byte) digest = (digest ^ ((bits >> (8 * byte)) & 0xFF)) * 1099511628211ull;
    }
}

// Products large enough to be split across up to 8 threads (and two that are not), in every
// layout, with bias gradients, plus fused training steps over a shuffled data set; a layer of
// three outputs, whose products are narrow; and a 1 → 1 layer over a long batch, whose
// gradients are sums in lanes. The weight gradients of 1000 x 300 x 129 are split along the
// batch into 2 depth parts, of 70000 x 8 x 16 into 3, of 4900 x 100 x 300 into 4 (over 4 tasks,
// so that 3 threads divide the units within a part), of 70001 x 40 x 3 and 20000 x 3 x 300 into
// 8 and of 20000 x 64 x 64 into 16. The bias gradients of 4900 x 100 x 300, 20000 x 64 x 64 and
// 70000 x 8 x 16 sum 5, 4 and 4 parts of the batch. The products of 70000 x 8 x 16 have 8 or 16
// columns: panels one vector wide (host_kernels.cpp, ProductKernels). The weight gradient of
// 20000 x 3 x 300 and the forward of 3 x 300 x 129 are short products (host_kernels.cpp). The
// long sums of 700,003 x 1 x 1 (its squared error and gradients) split into 10 parts of the
// batch, which its forward takes too, and its training steps' (233,335 rows, one pass each) into
// 3; those of the squared errors of 20000 x 64 x 64 (1,280,000 terms) and 70000 x 8 x 16 into 16.
// Up to 2, 1, 4 and 4 threads share them (host_kernels.cpp, pass_threads: fewer than 524,288
// terms take one). And fills and copies of 787,461 elements (3 threads' worth of a plain fill or
// copy, host_kernels.cpp: Fills and copies; draws take up to 8).
uint64_t host_digest() {
    struct Shape {
        int64_t batch, in, out;
    };
    std::mt19937_64 rng(5);
    uint64_t digest = 1469598103934665603ull;
    Context context(NRN_BACKEND_HOST);
    for (const Shape s : {Shape{65, 127, 129}, Shape{1000, 300, 129}, Shape{333, 1024, 77}, Shape{1100, 517, 260},
                          Shape{70001, 40, 3}, Shape{65537, 1, 1}, Shape{4900, 100, 300}, Shape{20000, 64, 64},
                          Shape{70000, 8, 16}, Shape{700003, 1, 1}, Shape{20000, 3, 300}, Shape{3, 300, 129}}) {
        Tensor x(context, {s.batch, s.in}, random_values(rng, s.batch * s.in)),
            w(context, {s.in, s.out}, random_values(rng, s.in * s.out)), b(context, {s.out}, random_values(rng, s.out)),
            gy(context, {s.batch, s.out}, random_values(rng, s.batch * s.out));
        Tensor y(context, {s.batch, s.out}), gx(context, {s.batch, s.in}), gw(context, {s.in, s.out}),
            gb(context, {s.out});
        REQUIRE_OK(nrn_linear_forward(context, x, w, b, y));
        REQUIRE_OK(nrn_linear_backward(context, x, w, gy, gx, gw, gb, NRN_GRAD_OVERWRITE));
        for (const Tensor* t : {&y, &gx, &gw, &gb}) mix(digest, t->read());

        Tensor target(context, {s.batch, s.out}, random_values(rng, s.batch * s.out)), error(context, {1});
        REQUIRE_OK(nrn_mse(context, y, target, gy, error, nullptr));
        for (const Tensor* t : {&gy, &error}) mix(digest, t->read());
        REQUIRE_OK(nrn_linear_mse_sgd_train(context, x, target, w, b, 0.01f, s.batch / 3 + 1, 0, 4,
                                            NRN_ORDER_SHUFFLE, 9, error, nullptr));
        for (const Tensor* t : {&w, &b, &error}) mix(digest, t->read());
    }
    const int64_t count = 3 * (int64_t{1} << 18) + 1029;
    Tensor a(context, {count}, random_values(rng, count)), b(context, {count});
    REQUIRE_OK(nrn_tensor_copy(context, a, b));
    mix(digest, b.read());
    REQUIRE_OK(nrn_tensor_fill_uniform(context, a, -3.0f, 5.0f, 21));
    REQUIRE_OK(nrn_tensor_fill_normal(context, b, 1.0f, 2.0f, 22));
    for (const Tensor* t : {&a, &b}) mix(digest, t->read());
    REQUIRE_OK(nrn_tensor_fill(context, a, 0.125f));
    mix(digest, a.read());
    return digest;
}

std::string hex(uint64_t value) {
    char text[17];
    std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
    return text;
}

// "<simd> <threads>": how the host backend computes in this process.
std::string host_setup() {
    nrn_host_properties info{};
    REQUIRE_OK(nrn_host_info(&info));
    return std::string(info.simd) + " " + std::to_string(info.threads);
}

struct Run {
    std::string digest, setup;  // empty when the run printed none
};

// What this executable's host_determinism area prints under `settings` (VAR=value ...).
Run run_under(const std::string& settings) {
    int status = 0;
    const auto lines = rerun_area("host_determinism", settings + " " + kDigestVariable + "=1", true, status);
    Run run;
    for (const std::string& line : lines) {
        if (status != 0) break;
        if (line.rfind("digest ", 0) == 0) run.digest = line.substr(7);
        if (line.rfind("setup ", 0) == 0) run.setup = line.substr(6);
    }
    return run;
}

}  // namespace

TEST_CASE(host_determinism, results_are_identical_for_any_threads_and_instruction_set) {
    if (std::getenv(kDigestVariable) != nullptr) {
        // Read by the parent process.
        std::printf("digest %s\nsetup %s\n", hex(host_digest()).c_str(), host_setup().c_str());
        return;
    }
    const std::string here = hex(host_digest());
    // The widest kernel here is the default; avx2 only where the CPU has it.
    const std::string widest = host_setup().substr(0, host_setup().find(' '));
    const std::string avx2 = widest == "baseline" ? "baseline" : "avx2";
    const struct {
        const char* settings;
        std::string setup;  // what the run must report, so that a setting that is ignored fails
    } runs[] = {
        {"NEURON_HOST_THREADS=1", widest + " 1"},
        {"NEURON_HOST_THREADS=3", widest + " 3"},
        {"NEURON_HOST_THREADS=8", widest + " 8"},
        {"NEURON_HOST_THREADS=1 NEURON_HOST_SIMD=avx2", avx2 + " 1"},
        {"NEURON_HOST_THREADS=3 NEURON_HOST_SIMD=baseline", "baseline 3"},
    };
    for (const auto& expected : runs) {
        const Run there = run_under(expected.settings);
        CHECK_MSG(there.digest == here, expected.settings << ": digest " << (there.digest.empty() ? "missing" : there.digest)
                                                          << ", default settings " << here);
        CHECK_MSG(there.setup == expected.setup, expected.settings << ": computed with '" << there.setup << "', not '"
                                                                   << expected.setup << "'");
    }
}
