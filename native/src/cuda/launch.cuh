// The one place the CUDA backend launches kernels.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>

#include "cuda_check.h"

namespace nrn::cuda {

// "kernel<a, b>": the name that launch() reports for one instantiation of a kernel template (in
// a failed launch's error, and in the CUDA emulator's trace, where tests tell the
// instantiations apart by it). Kept in a function-local static reference at the launch site: the
// string is never destroyed, so that a launch from an atexit handler, after static objects were
// destroyed, still names its kernel.
inline const std::string& instance_name(const char* kernel, std::initializer_list<std::string> arguments) {
    std::string name = std::string(kernel) + "<";
    for (const std::string& argument : arguments) name += (name.back() == '<' ? "" : ", ") + argument;
    return *new std::string(name + ">");
}

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
