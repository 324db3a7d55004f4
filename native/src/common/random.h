// Counter-based random numbers and batch orders shared by every backend.
//
// Everything here is a pure function of (seed, index), so the host and CUDA backends draw
// the same parameter initialisations and visit batches in the same order, and a run can
// be resumed at any step without carrying generator state.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"
#include "neuron.h"

namespace nrn {

// SplitMix64 finaliser: a well-mixed 64-bit hash.
NRN_HD uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Hash of a (seed, counter) pair.
NRN_HD uint64_t hash2(uint64_t seed, uint64_t counter) { return mix64(seed ^ mix64(counter)); }

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
NRN_HD float uniform01(uint64_t seed, uint64_t index) {
    return static_cast<float>(hash2(seed, index) >> 40) * (1.0f / 16777216.0f);
}

// Uniform in [low, high) (low when low == high). The caller checks that high - low is finite.
NRN_HD float uniform(uint64_t seed, uint64_t index, float low, float high) {
    const float value = low + (high - low) * uniform01(seed, index);
    // Rounding can carry the value up to high (when high - low is large next to the spacing of
    // floats near high): the largest float below high is taken instead.
    return value < high ? value : (low < high ? nextafterf(high, low) : low);
}

// The largest |standard_normal| can return: sqrt(-2 ln u1) with u1 >= 2^-54.
constexpr double kStandardNormalBound = 8.7;

// Standard normal by Box-Muller, computed in double: the host's and CUDA's log and cos differ by
// an ulp or two of a double, which almost never changes the float result (compare with a tolerance).
NRN_HD float standard_normal(uint64_t seed, uint64_t index) {
    const double two_pi = 6.283185307179586476925286766559;
    const double u1 = (static_cast<double>(hash2(seed, 2 * index) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    const double u2 = static_cast<double>(hash2(seed, 2 * index + 1) >> 11) * (1.0 / 9007199254740992.0);
    return static_cast<float>(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}

// The balanced Feistel network of permute_index over [0, n): two halves of `half` bits each, the
// smallest even bit width covering n.
struct FeistelHalves {
    int half;
    uint64_t mask;  // the low half's bits
};

NRN_HD FeistelHalves feistel_halves(uint64_t n) {
    int bits = 2;
    while (bits < 64 && (1ull << bits) < n) bits += 2;
    return {bits / 2, (1ull << (bits / 2)) - 1};
}

// One of the network's rounds: (left, right) becomes (right, left ^ F(right)).
NRN_HD void feistel_round(uint64_t& left, uint64_t& right, uint64_t key, uint64_t round, uint64_t mask) {
    const uint64_t next = left ^ (hash2(key + round, right) & mask);
    left = right;
    right = next;
}

constexpr int kFeistelRounds = 4;

// A bijection of [0, n) keyed by `key`: a 4-round balanced Feistel network over the
// smallest even bit width covering n, with cycle walking back into range.
NRN_HD uint64_t permute_index(uint64_t i, uint64_t n, uint64_t key) {
    if (n <= 1) return 0;
    const FeistelHalves h = feistel_halves(n);
    do {
        uint64_t left = i >> h.half, right = i & h.mask;
        for (int round = 0; round < kFeistelRounds; ++round) feistel_round(left, right, key, round, h.mask);
        i = (left << h.half) | right;
    } while (i >= n);
    return i;
}

// The batch that `order` trains on at global step `step` among `batch_count` batches.
NRN_HD int64_t batch_index(nrn_batch_order order, uint64_t seed, int64_t step, int64_t batch_count) {
    const uint64_t n = static_cast<uint64_t>(batch_count);
    const uint64_t s = static_cast<uint64_t>(step);
    switch (order) {
        case NRN_ORDER_SHUFFLE:
            return static_cast<int64_t>(permute_index(s % n, n, hash2(seed, s / n)));
        case NRN_ORDER_RANDOM:
            return static_cast<int64_t>(hash2(seed ^ 0x5851f42d4c957f2dull, s) % n);
        case NRN_ORDER_SEQUENTIAL:
        default:
            return static_cast<int64_t>(s % n);
    }
}

// The rows [first, first + count) of the batch that `order` picks at global step `step`, with the
// data's `rows` cut into batches of `batch_size` rows and a last, smaller batch kept.
struct BatchRows {
    int64_t first;
    int64_t count;
};

// How many batches `rows` make, the last one possibly smaller.
NRN_HD int64_t batch_count(int64_t rows, int64_t batch_size) { return (rows + batch_size - 1) / batch_size; }

// The rows of batch `index`: batch_size of them, fewer for the last.
NRN_HD BatchRows rows_of_batch(int64_t index, int64_t rows, int64_t batch_size) {
    const int64_t first = index * batch_size;
    const int64_t remaining = rows - first;
    return {first, remaining < batch_size ? remaining : batch_size};
}

NRN_HD BatchRows batch_rows(nrn_batch_order order, uint64_t seed, int64_t step, int64_t rows, int64_t batch_size) {
    return rows_of_batch(batch_index(order, seed, step, batch_count(rows, batch_size)), rows, batch_size);
}

// batch_rows for the `count` steps from `first_step` on, into picks[0, count): the same rows, worked
// out faster on a CPU. A shuffled pick is eight hashes in one dependent chain; here the Feistel
// rounds of kPickLanes steps run side by side, so the CPU overlaps their chains, and the epoch and
// the position in it are counted on from step to step rather than divided out at each. Steps short
// of a whole set of lanes (a trainer's single steps) are picked one at a time, which costs them
// nothing extra. Host code: a CUDA thread works out its one step with batch_rows.
inline void batch_rows_ahead(nrn_batch_order order, uint64_t seed, int64_t first_step, int64_t count, int64_t rows,
                             int64_t batch_size, BatchRows* picks) {
    constexpr int kPickLanes = 8;  // 8 chains: about 2.5x a step at a time; 4 and 16 gain less
    const uint64_t n = static_cast<uint64_t>(batch_count(rows, batch_size));
    int64_t j0 = 0;
    if (order == NRN_ORDER_SHUFFLE && n > 1 && count >= kPickLanes) {
        const FeistelHalves h = feistel_halves(n);
        uint64_t epoch = static_cast<uint64_t>(first_step) / n, position = static_cast<uint64_t>(first_step) % n;
        uint64_t epoch_key = hash2(seed, epoch);  // batch_index's key of the epoch
        for (; j0 + kPickLanes <= count; j0 += kPickLanes) {
            uint64_t key[kPickLanes], left[kPickLanes], right[kPickLanes];
            for (int l = 0; l < kPickLanes; ++l) {
                key[l] = epoch_key;
                left[l] = position >> h.half;
                right[l] = position & h.mask;
                if (++position == n) {
                    position = 0;
                    epoch_key = hash2(seed, ++epoch);
                }
            }
            for (int round = 0; round < kFeistelRounds; ++round)
                for (int l = 0; l < kPickLanes; ++l) feistel_round(left[l], right[l], key[l], round, h.mask);
            for (int l = 0; l < kPickLanes; ++l) {
                uint64_t i = (left[l] << h.half) | right[l];
                if (i >= n) i = permute_index(i, n, key[l]);  // walks on from where the first pass left off
                picks[j0 + l] = rows_of_batch(static_cast<int64_t>(i), rows, batch_size);
            }
        }
    }
    for (; j0 < count; ++j0) picks[j0] = batch_rows(order, seed, first_step + j0, rows, batch_size);
}

}  // namespace nrn
