// Checked CUDA calls: every failure becomes an nrn::Error naming the call, file and line.
#pragma once

#include <cuda_runtime.h>

#include "backend.h"

namespace nrn::cuda {

// Clears the runtime's last-error state and throws nrn::Error; OUT_OF_MEMORY for allocation
// failures, BACKEND_ERROR otherwise.
[[noreturn]] void throw_cuda_error(cudaError_t error, const char* expression, const char* file, int line);

inline void check(cudaError_t error, const char* expression, const char* file, int line) {
    if (error != cudaSuccess) throw_cuda_error(error, expression, file, line);
}

}  // namespace nrn::cuda

#define NRN_CUDA_CHECK(expression) ::nrn::cuda::check((expression), #expression, __FILE__, __LINE__)
