// The one place the CUDA backend launches kernels.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "cuda_check.h"

namespace nrn::cuda {

// Enqueues kernel<<<grid, block, shared_bytes, stream>>>(args...) and turns a failed launch
// into nrn::Error naming `name`. In the build that compiles this backend without nvcc
// (NRN_CUDA_EMULATOR, see native/cuda_emulator/), the same call runs the kernel there.
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            cudaStream_t stream, Args&&... args) {
    static_assert(sizeof...(Params) == sizeof...(Args), "wrong number of kernel arguments");
#if defined(NRN_CUDA_EMULATOR)
    cuda_emulator::launch(name, kernel, grid, block, shared_bytes, stream, std::forward<Args>(args)...);
#else
    kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#endif
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) throw_cuda_error(error, (std::string("launch of ") + name).c_str(), __FILE__, __LINE__);
}

}  // namespace nrn::cuda
