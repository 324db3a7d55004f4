// Helpers of the native tests that run the CUDA backend against the host backend on the same
// random inputs (test_cuda.cpp, test_cuda_each_kernel.cpp).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "harness.h"

namespace test {

// Whether the CUDA tests run here: true with a CUDA device. Without one the test is skipped with
// a message, unless NEURON_TEST_REQUIRE_CUDA=1, which makes a missing GPU a failure.
bool cuda_tests_run();

// Whether CUDA device 0 is the CUDA emulator's (native/cuda_emulator), which runs kernels on the CPU.
bool on_cuda_emulator();

// A tensor on `cuda` and one on `host`, both holding `values`.
struct Pair {
    Pair(nrn_context* cuda, nrn_context* host, const std::vector<int64_t>& shape, const std::vector<float>& values)
        : c(cuda, shape, values), h(host, shape, values) {}
    Pair(nrn_context* cuda, nrn_context* host, const std::vector<int64_t>& shape) : c(cuda, shape), h(host, shape) {}
    Tensor c, h;
};

// A linear layer's sizes and the rows it sees: X is batch x in, W in x out.
struct Shape {
    int64_t batch, in, out;
};

std::string shape_name(const Shape& s);

// The learning rate the training checks use: 0.5 · out / in. The MSE gradient is divided by
// rows · out, and a prediction sums `in` products, so each step changes the predictions by a fixed
// share of their error (about a sixth for inputs uniform in [-1, 1]): large next to the checks'
// tolerances and far from divergence, so that a missing or partial update cannot pass.
float telling_rate(const Shape& s);

// The products of one backward pass (dX, dW, db; any may be null) against the host's, given G.
void check_gradients(Pair* gx, Pair* gw, Pair* gb, Pair& g, const Shape& s, const std::string& what);

// Which of a layer's products check_products runs and checks.
enum Products : unsigned {
    kForward = 1,         // Y = X·W + b
    kInputGradient = 2,   // dX = G·Wᵀ
    kWeightGradient = 4,  // dW = Xᵀ·G
    kBiasGradient = 8,    // db = column sums of G
    kAllProducts = 15,
};

// The products of one shape against the host's: the lighter check for the large shapes.
void check_products(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s,
                    unsigned products = kAllProducts);

// One fused training step (nrn_linear_mse_sgd_step) on all rows against the host's; run twice
// from the same start on CUDA, it must repeat bit for bit.
void check_fused_step(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s);

// One fused step on all rows, then `steps` training steps of `batch_size` rows (from step 3), on
// both backends; then the CUDA run again from the same start must repeat bit for bit.
void check_training(nrn_context* cuda, nrn_context* host, std::mt19937_64& rng, const Shape& s, int64_t batch_size,
                    nrn_batch_order order, int64_t steps = 10);

}  // namespace test
