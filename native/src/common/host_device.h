// NRN_HD marks a function that host code and CUDA kernels both call: __host__ __device__ and
// inlined under nvcc, plain inline elsewhere (the host backend, the CUDA emulator, host tests).
#pragma once

#if defined(__CUDACC__)
#define NRN_HD __host__ __device__ __forceinline__
#else
#define NRN_HD inline
#endif
