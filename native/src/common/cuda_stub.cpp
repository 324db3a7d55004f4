// The CUDA entry points of a library built without the CUDA backend: no devices, and every
// attempt to use one reports NRN_STATUS_DEVICE_UNAVAILABLE.
#include "backend.h"

namespace nrn {
namespace {
[[noreturn]] void not_compiled() {
    throw Error(NRN_STATUS_DEVICE_UNAVAILABLE,
                "CUDA support is not compiled into this libneuron (rebuild with nvcc and NEURON_CUDA=AUTO or ON)");
}
}  // namespace

bool cuda_compiled() noexcept { return false; }
int32_t cuda_device_count() noexcept { return 0; }
std::string cuda_unavailable_reason() { return {}; }
void cuda_device_info(int32_t, nrn_device_info*) { not_compiled(); }
std::unique_ptr<Backend> make_cuda_backend(int32_t) { not_compiled(); }

}  // namespace nrn
