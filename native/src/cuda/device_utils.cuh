// Small device helpers shared by the kernels: fixed-order (deterministic) reductions.
#pragma once

#include <cstdint>

namespace nrn::cuda {

constexpr unsigned kFullWarp = 0xffffffffu;

// Sum over the 32 lanes of a warp, combined in a fixed tree order; the result is in lane 0.
template <class T>
__device__ __forceinline__ T warp_sum(T value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(kFullWarp, value, offset);
    return value;
}

// Sum of `value` over the block in a fixed order (each warp's tree, then the warps' sums in
// a tree); the result is valid in thread 0 only. blockDim.x must be a multiple of 32, and
// `scratch` must hold blockDim.x / 32 values. Every thread of the block must call it. With
// more than one warp it starts with a barrier, so calls may follow one another on the same
// `scratch`; a block of one warp needs neither scratch nor barriers (the second tree would
// only add zeros to lane 0's sum).
template <class T>
__device__ __forceinline__ T block_sum(T value, T* scratch) {
    const int lane = static_cast<int>(threadIdx.x) & 31;
    const int warp = static_cast<int>(threadIdx.x) >> 5;
    const int warps = static_cast<int>(blockDim.x) >> 5;
    value = warp_sum(value);
    if (warps == 1) return value;
    __syncthreads();  // earlier readers of scratch are done
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    T total = T(0);
    if (warp == 0) total = warp_sum(lane < warps ? scratch[lane] : T(0));
    return total;
}

// The block's dynamic shared memory (the launch's shared_bytes), 16-byte aligned.
__device__ __forceinline__ float* dynamic_shared_floats() {
#if defined(NRN_CUDA_EMULATOR)
    return static_cast<float*>(cuda_emulator::dynamic_shared_memory());
#else
    extern __shared__ __align__(16) float dynamic_shared[];
    return dynamic_shared;
#endif
}

// Integer ceiling division for positive values.
__host__ __device__ __forceinline__ int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace nrn::cuda
