// What the native benchmarks share: failing with a message, checked calls, the --device
// option (host, cuda or cuda:N), the command line of a benchmark over layer shapes, and tensors
// destroyed with their scope.
#pragma once

#include <neuron.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// A Linear layer's shape: `batch` rows, `in` → `out` features.
struct Shape {
    int64_t batch, in, out;
};

// "BATCHxINxOUT", each at least 1.
inline Shape parse_shape(const char* text) {
    Shape s{};
    char tail = 0;
    if (std::sscanf(text, "%ldx%ldx%ld%c", &s.batch, &s.in, &s.out, &tail) != 3 || s.batch < 1 || s.in < 1 ||
        s.out < 1)
        fail(std::string("not a shape BATCHxINxOUT: ") + text);
    return s;
}

// The command line of a benchmark over shapes: [--device host|cuda|cuda:N] [--quick]
// [BATCHxINxOUT ...].
struct ShapeOptions {
    std::string device = "host";
    bool quick = false;
    std::vector<Shape> shapes;  // none: the benchmark's own
};

inline ShapeOptions parse_shape_options(int argc, char** argv) {
    ShapeOptions options;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            options.device = argv[++i];
        } else if (std::strcmp(argv[i], "--quick") == 0) {
            options.quick = true;
        } else if (argv[i][0] == '-') {
            fail(std::string("unknown option ") + argv[i] + " (usage: " + program +
                 " [--device host|cuda|cuda:N] [--quick] [BATCHxINxOUT ...])");
        } else {
            options.shapes.push_back(parse_shape(argv[i]));
        }
    }
    return options;
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
