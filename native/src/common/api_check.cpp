// The argument checks of api_check.h that are not inline: the text of shapes and floats for
// messages, and the checks of CUDA device indices and of shapes of new tensors.
#include "api_check.h"

#include <limits>

namespace nrn::detail {

std::string shape_text(const nrn_tensor& t) {
    std::string text;
    for (int32_t d = 0; d < t.ndim; ++d) {
        if (d > 0) text += 'x';
        text += std::to_string(t.shape[d]);
    }
    return text;
}

std::string float_text(float value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    return std::to_string(value);
}

void check_device(const Check& check, int32_t device) {
    if (!nrn::cuda_compiled()) {
        check.fail(NRN_STATUS_DEVICE_UNAVAILABLE,
                   "CUDA device " + std::to_string(device) + " requested, but CUDA support is not compiled into this libneuron");
    }
    const int32_t count = nrn::cuda_device_count();
    if (device < 0 || device >= count) {
        const std::string reason = count == 0 ? nrn::cuda_unavailable_reason() : std::string();
        check.fail(NRN_STATUS_DEVICE_UNAVAILABLE, "CUDA device " + std::to_string(device) + " does not exist (" +
                                                      std::to_string(count) + " usable CUDA device" +
                                                      (count == 1 ? "" : "s") +
                                                      (reason.empty() ? "" : "; the CUDA runtime says " + reason) +
                                                      ")");
    }
}

int64_t element_count(const Check& check, int32_t ndim, const int64_t* shape) {
    int64_t count = 1;
    std::string text;
    for (int32_t d = 0; d < ndim; ++d) text += (d > 0 ? "x" : "") + std::to_string(shape[d]);
    for (int32_t d = 0; d < ndim; ++d) {
        if (shape[d] <= 0) {
            check.fail(NRN_STATUS_INVALID_ARGUMENT, "shape " + text + " has a dimension that is not positive");
        }
    }
    const int64_t max_elements = std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(float));
    for (int32_t d = 0; d < ndim; ++d) {
        if (__builtin_mul_overflow(count, shape[d], &count) || count > max_elements) {
            check.fail(NRN_STATUS_OUT_OF_MEMORY, "shape " + text + " needs more bytes than memory can address");
        }
    }
    return count;
}

}  // namespace nrn::detail
