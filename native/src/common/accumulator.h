// The MSE error and its running accumulator, shared by every backend, so that the host and
// CUDA backends finish an error and add it up the same way.
#pragma once

#include <cstdint>

#include "host_device.h"
#include "neuron.h"

namespace nrn {

// The error of a batch from its sum of squared differences, taken over count = batch × outputs
// elements: J = Σ(pred − target)²/(2·count), divided in double by the exact count.
NRN_HD float mse_error(double squared_sum, int64_t count) {
    return static_cast<float>(squared_sum / (2.0 * static_cast<double>(count)));
}

// MSE error accumulator: sums of error·batch and of batch, each kept as a float-float number
// (hi + lo, two floats with |lo| at most half an ulp of hi: 48 significant bits), so that float32
// tensors hold long runs: a count is exact to 2^48 samples, and each addition to the error sum
// errs by about 2u² of it (u = 2^-24). Layout (NRN_ACCUMULATOR_SIZE = 4 floats):
// [error_hi, error_lo, count_hi, count_lo]; a total is hi + lo. Updated by one thread.
//
// An infinite total stays infinite (a NaN stays NaN) until the accumulator is reset.
//
// The addition to hi is exact (two-sum), and its error and lo are folded back every time. A plain
// compensated sum (Neumaier's), which never folds, stops counting at 2^25: its sum sticks at
// 2^24, where adding 1 rounds away, and its compensation then fills up to 2^24 too.
NRN_HD void float_float_add(float* hi, float* lo, float value) {
    const float s = *hi + value;  // two-sum: s + e == *hi + value exactly
    if (s - s != 0.0f) {          // an infinity or NaN: the two-sum's error would be inf - inf = NaN
        *hi = s;
        *lo = 0.0f;
        return;
    }
    const float v = s - *hi;
    const float e = (*hi - (s - v)) + (value - v);
    const float t = e + *lo;
    const float h = s + t;        // fast two-sum: |s| >= |t|
    *lo = h - h == 0.0f ? t - (h - s) : 0.0f;  // h may overflow where s did not
    *hi = h;
}

// The batch is counted exactly even past 2^24 rows, where floats skip integers: as its nearest
// float and, when that is off, the remainder (weighting the error too).
NRN_HD void accumulator_add(float* accumulator, float error, int64_t batch) {
    const float rounded = static_cast<float>(batch);
    float_float_add(&accumulator[0], &accumulator[1], error * rounded);
    float_float_add(&accumulator[2], &accumulator[3], rounded);
    const int64_t rest = batch - static_cast<int64_t>(rounded);
    if (rest != 0) {
        float_float_add(&accumulator[0], &accumulator[1], error * static_cast<float>(rest));
        float_float_add(&accumulator[2], &accumulator[3], static_cast<float>(rest));
    }
}

// The accumulated totals from the four floats of an accumulator.
inline void accumulator_totals(const float* accumulator, double* error_sum, double* sample_count) {
    *error_sum = static_cast<double>(accumulator[0]) + static_cast<double>(accumulator[1]);
    *sample_count = static_cast<double>(accumulator[2]) + static_cast<double>(accumulator[3]);
}

}  // namespace nrn
