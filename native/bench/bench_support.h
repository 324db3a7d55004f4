// What the native benchmarks share: failing with a message, checked calls, the --device
// option (host, cuda or cuda:N), and tensors destroyed with their scope.
#pragma once

#include <neuron.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

namespace bench {

// The benchmark's name, for messages; main sets it.
inline const char* program = "bench";

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", program, what.c_str());
    std::exit(2);
}

inline void check(nrn_status status, const char* call) {
    if (status != NRN_STATUS_OK) fail(std::string(call) + ": " + nrn_last_error());
}

struct DeviceChoice {
    nrn_backend backend = NRN_BACKEND_HOST;
    int32_t ordinal = 0;
};

// "host", "cuda" (device 0) or "cuda:N".
inline DeviceChoice parse_device(const std::string& device) {
    DeviceChoice choice;
    if (device.rfind("cuda", 0) == 0) {
        choice.backend = NRN_BACKEND_CUDA;
        if (device.size() > 4) {
            const char* digits = device.c_str() + 5;
            char* end = nullptr;
            const long ordinal = std::strtol(digits, &end, 10);
            if (device[4] != ':' || end == digits || *end != '\0' || ordinal < 0 || ordinal > 1024)
                fail("unknown device " + device);
            choice.ordinal = static_cast<int32_t>(ordinal);
        }
    } else if (device != "host") {
        fail("unknown device " + device);
    }
    return choice;
}

// A tensor of `shape`, destroyed with its scope.
struct Tensor {
    nrn_tensor* tensor = nullptr;
    Tensor(nrn_context* context, std::initializer_list<int64_t> shape) {
        const std::vector<int64_t> dims(shape);
        check(nrn_tensor_create(context, static_cast<int32_t>(dims.size()), dims.data(), &tensor), "nrn_tensor_create");
    }
    ~Tensor() { nrn_tensor_destroy(tensor); }
    Tensor(const Tensor&) = delete;
    Tensor& operator=(const Tensor&) = delete;
};

}  // namespace bench

#define CHECK(call) ::bench::check((call), #call)
