#include "harness.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

namespace test {
namespace {

struct TestEntry {
    std::string area, name;
    TestFunction function;
};

std::vector<TestEntry>& tests() {
    static std::vector<TestEntry> list;
    return list;
}

int failures_in_test = 0;

}  // namespace

Registration::Registration(const char* area, const char* name, TestFunction function) {
    tests().push_back({area, name, function});
}

void record_failure(const char* file, int line, const std::string& message) {
    ++failures_in_test;
    const char* base = std::strrchr(file, '/');
    std::printf("    FAILED at %s:%d: %s\n", base != nullptr ? base + 1 : file, line, message.c_str());
}

void note(const std::string& message) { std::printf("    %s\n", message.c_str()); }

void skip(const std::string& why) { throw Skip{why}; }

void require_ok(nrn_status status, const char* call, const char* file, int line) {
    if (status == NRN_STATUS_OK) return;
    record_failure(file, line,
                   std::string(call) + " returned " + nrn_status_string(status) + ": " + nrn_last_error());
    throw Abort{};
}

void check_fails(nrn_status expected, const char* operation, nrn_status got, const char* call, const char* file,
                 int line) {
    if (got != expected) {
        record_failure(file, line,
                       std::string(call) + " returned " + nrn_status_string(got) + ", expected " +
                           nrn_status_string(expected) + (got != NRN_STATUS_OK ? std::string(": ") + nrn_last_error() : ""));
        return;
    }
    const std::string message = nrn_last_error();
    if (message.find(operation) == std::string::npos) {
        record_failure(file, line, std::string(call) + ": the message '" + message + "' does not name " + operation);
    }
}

// ---- handles ---------------------------------------------------------------------------

Context::Context(nrn_backend backend, int32_t device) { REQUIRE_OK(nrn_context_create(backend, device, &handle_)); }
Context::~Context() { nrn_context_destroy(handle_); }

std::string Context::name() const {
    nrn_backend backend = NRN_BACKEND_HOST;
    int32_t device = -1;
    nrn_context_backend(handle_, &backend);
    nrn_context_device(handle_, &device);
    return backend == NRN_BACKEND_HOST ? "host" : "cuda:" + std::to_string(device);
}

Tensor::Tensor(nrn_context* context, std::vector<int64_t> shape) : context_(context), shape_(std::move(shape)) {
    REQUIRE_OK(nrn_tensor_create(context_, static_cast<int32_t>(shape_.size()), shape_.data(), &handle_));
    count_ = 1;
    for (int64_t d : shape_) count_ *= d;
}

Tensor::Tensor(nrn_context* context, std::vector<int64_t> shape, const std::vector<float>& values)
    : Tensor(context, std::move(shape)) {
    write(values);
}

Tensor::Tensor(Tensor&& other) noexcept
    : context_(other.context_), handle_(other.handle_), shape_(std::move(other.shape_)), count_(other.count_) {
    other.handle_ = nullptr;
}

Tensor::~Tensor() { nrn_tensor_destroy(handle_); }

std::vector<float> Tensor::read() const {
    std::vector<float> values(static_cast<size_t>(count_));
    REQUIRE_OK(nrn_tensor_copy_to_host(context_, handle_, values.data(), count_));
    return values;
}

void Tensor::write(const std::vector<float>& values) {
    REQUIRE_OK(nrn_tensor_copy_from_host(context_, handle_, values.data(), static_cast<int64_t>(values.size())));
}

int32_t cuda_device_count() {
    int32_t count = 0;
    REQUIRE_OK(nrn_cuda_device_count(&count));
    return count;
}

std::vector<nrn_backend> present_backends() {
    std::vector<nrn_backend> backends{NRN_BACKEND_HOST};
    if (cuda_device_count() > 0) backends.push_back(NRN_BACKEND_CUDA);
    return backends;
}

// ---- data and references -----------------------------------------------------------------

std::vector<float> random_values(std::mt19937_64& rng, int64_t count, float low, float high) {
    std::uniform_real_distribution<float> distribution(low, high);
    std::vector<float> values(static_cast<size_t>(count));
    for (float& v : values) v = distribution(rng);
    return values;
}

std::vector<double> to_double(const std::vector<float>& values) { return {values.begin(), values.end()}; }

std::vector<double> reference_forward(const std::vector<float>& x, const std::vector<float>& w,
                                      const std::vector<float>& b, int64_t batch, int64_t in, int64_t out) {
    std::vector<double> y(static_cast<size_t>(batch * out));
    for (int64_t r = 0; r < batch; ++r) {
        for (int64_t o = 0; o < out; ++o) {
            double sum = b.empty() ? 0.0 : b[o];
            for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(x[r * in + i]) * w[i * out + o];
            y[r * out + o] = sum;
        }
    }
    return y;
}

BackwardReference reference_backward(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& gy, int64_t batch, int64_t in, int64_t out) {
    BackwardReference ref;
    ref.gx.assign(static_cast<size_t>(batch * in), 0.0);
    ref.gw.assign(static_cast<size_t>(in * out), 0.0);
    ref.gb.assign(static_cast<size_t>(out), 0.0);
    for (int64_t r = 0; r < batch; ++r) {
        for (int64_t i = 0; i < in; ++i) {
            for (int64_t o = 0; o < out; ++o) {
                ref.gx[r * in + i] += static_cast<double>(gy[r * out + o]) * w[i * out + o];
                ref.gw[i * out + o] += static_cast<double>(x[r * in + i]) * gy[r * out + o];
            }
        }
        for (int64_t o = 0; o < out; ++o) ref.gb[o] += gy[r * out + o];
    }
    return ref;
}

MseReference reference_mse(const std::vector<float>& prediction, const std::vector<float>& target) {
    MseReference ref;
    const double n = static_cast<double>(prediction.size());
    double sum = 0.0;
    ref.grad.resize(prediction.size());
    for (size_t i = 0; i < prediction.size(); ++i) {
        const double d = static_cast<double>(prediction[i]) - target[i];
        ref.grad[i] = d / n;
        sum += d * d;
    }
    ref.error = sum / (2.0 * n);
    return ref;
}

bool check_close(const std::vector<float>& got, const std::vector<double>& expected, double atol, double rtol,
                 const std::string& what, const char* file, int line) {
    if (got.size() != expected.size()) {
        record_failure(file, line, what + ": " + std::to_string(got.size()) + " values, expected " +
                                       std::to_string(expected.size()));
        return false;
    }
    std::ostringstream mismatches;
    size_t count = 0, worst = 0;
    double worst_error = -1.0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double error = std::fabs(static_cast<double>(got[i]) - expected[i]);
        const bool ok = error <= atol + rtol * std::fabs(expected[i]);  // false for NaN
        const double rank = std::isnan(error) ? INFINITY : error;
        if (rank > worst_error) {
            worst_error = rank;
            worst = i;
        }
        if (!ok) {
            if (count < 5) mismatches << "\n      [" << i << "] got " << got[i] << ", expected " << expected[i];
            ++count;
        }
    }
    if (count == 0) return true;
    std::ostringstream message;
    message.precision(9);
    message << what << ": " << count << " of " << got.size() << " values outside atol " << atol << " + rtol " << rtol
            << "; largest error " << worst_error << " at [" << worst << "] (got " << got[worst] << ", expected "
            << expected[worst] << ")" << mismatches.str();
    record_failure(file, line, message.str());
    return false;
}

bool check_identical(const std::vector<float>& got, const std::vector<float>& expected, const std::string& what,
                     const char* file, int line) {
    if (got.size() != expected.size() ||
        (!got.empty() && std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) != 0)) {
        std::ostringstream message;
        message.precision(9);
        message << what << ": not bit-identical";
        size_t shown = 0;
        for (size_t i = 0; i < std::min(got.size(), expected.size()) && shown < 5; ++i) {
            if (std::memcmp(&got[i], &expected[i], sizeof(float)) != 0) {
                message << "\n      [" << i << "] " << got[i] << " vs " << expected[i];
                ++shown;
            }
        }
        if (got.size() != expected.size()) message << " (" << got.size() << " vs " << expected.size() << " values)";
        record_failure(file, line, message.str());
        return false;
    }
    return true;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string text;
    for (size_t d = 0; d < shape.size(); ++d) text += (d > 0 ? "x" : "") + std::to_string(shape[d]);
    return text;
}

std::vector<std::string> rerun_area(const std::string& area, const std::string& environment, bool with_stdout,
                                    int& status) {
    std::vector<std::string> lines;
    status = -1;
    char self[4096] = {};
    if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return lines;
    const std::string command = "env " + environment + " '" + self + "' " + area +
                                (with_stdout ? " 2>&1" : " 2>&1 >/dev/null");
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return lines;
    std::string line;
    char chunk[1024];
    while (std::fgets(chunk, sizeof(chunk), pipe) != nullptr) {
        line += chunk;
        if (!line.empty() && line.back() == '\n') {
            line.pop_back();
            lines.push_back(line);
            line.clear();
        }
    }
    if (!line.empty()) lines.push_back(line);
    status = pclose(pipe);
    return lines;
}

}  // namespace test

// Runs the tests of one area, or one test (AREA.NAME), or all with no argument; fails when any
// check failed or when handles are still alive afterwards. Each test's line says how long it
// took (what a sanitizer's run is planned by). --list [AREA] prints the tests' AREA.NAME, one a line.
int main(int argc, char** argv) {
    using namespace test;
    const bool list = argc > 1 && std::string(argv[1]) == "--list";
    const std::string selection = argc > (list ? 2 : 1) ? argv[list ? 2 : 1] : "";
    const auto selected = [&](const TestEntry& entry) {
        return selection.empty() || entry.area == selection || entry.area + "." + entry.name == selection;
    };
    if (list) {
        for (const TestEntry& entry : tests())
            if (selected(entry)) std::printf("%s.%s\n", entry.area.c_str(), entry.name.c_str());
        return 0;
    }
    int run = 0, failed = 0, skipped = 0;
    for (const TestEntry& entry : tests()) {
        if (!selected(entry)) continue;
        ++run;
        failures_in_test = 0;
        std::printf("[ RUN  ] %s.%s\n", entry.area.c_str(), entry.name.c_str());
        std::fflush(stdout);
        const auto started = std::chrono::steady_clock::now();
        const char* outcome = nullptr;
        try {
            entry.function();
        } catch (const Abort&) {
        } catch (const Skip& s) {
            note("skipped: " + s.why);
            if (failures_in_test == 0) {
                outcome = "SKIP";
                ++skipped;
            }
        } catch (const std::exception& e) {
            record_failure(__FILE__, __LINE__, std::string("exception: ") + e.what());
        }
        if (outcome == nullptr) outcome = failures_in_test == 0 ? " OK " : "FAIL";
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::printf("[ %s ] %s.%s (%.2f s)\n", outcome, entry.area.c_str(), entry.name.c_str(), seconds);
        std::fflush(stdout);
        if (failures_in_test != 0) ++failed;
    }
    if (run == 0) {
        std::printf("no tests in '%s'\n", selection.c_str());
        return 1;
    }
    int64_t live = -1;
    if (nrn_live_handle_count(&live) != NRN_STATUS_OK || live != 0) {
        std::printf("LEAK: %lld handles still alive after the tests\n", static_cast<long long>(live));
        ++failed;
    }
    std::printf("%d tests, %d failed, %d skipped\n", run, failed, skipped);
    if (failed != 0) return 1;
    return skipped == run ? kSkipped : 0;
}
