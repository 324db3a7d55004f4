// A small self-contained test harness for libneuron's C API: test registration by area,
// checks that report file and line, RAII handles, naive double-precision reference
// operations and tolerance comparisons.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "neuron.h"

namespace test {

// ---- registration and checks ---------------------------------------------------------

using TestFunction = void (*)();
struct Registration {
    Registration(const char* area, const char* name, TestFunction function);
};

#define NRN_TEST_CONCAT2(a, b) a##b
#define NRN_TEST_CONCAT(a, b) NRN_TEST_CONCAT2(a, b)
#define TEST_CASE(area, name)                                                                  \
    static void name();                                                                        \
    static ::test::Registration NRN_TEST_CONCAT(registration_, name)(#area, #name, &name);     \
    static void name()

// Thrown to end the current test after a failure that makes going on pointless.
struct Abort {};

// Ends the current test as skipped (what it needs is not here). An area all of whose tests
// skip exits with kSkipped, which CTest reports as a skipped test (SKIP_RETURN_CODE).
constexpr int kSkipped = 77;
struct Skip {
    std::string why;
};
[[noreturn]] void skip(const std::string& why);

void record_failure(const char* file, int line, const std::string& message);
void note(const std::string& message);  // printed with the test's output

#define CHECK(condition)                                                                       \
    do {                                                                                       \
        if (!(condition)) ::test::record_failure(__FILE__, __LINE__, "CHECK(" #condition ")"); \
    } while (0)

#define CHECK_MSG(condition, message)                                                                        \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            std::ostringstream check_stream_;                                                                \
            check_stream_ << "CHECK(" #condition "): " << message;                                           \
            ::test::record_failure(__FILE__, __LINE__, check_stream_.str());                                 \
        }                                                                                                    \
    } while (0)

// The call must succeed; otherwise the test ends here.
#define REQUIRE_OK(call) ::test::require_ok((call), #call, __FILE__, __LINE__)
void require_ok(nrn_status status, const char* call, const char* file, int line);

// The call must fail with `expected`, and nrn_last_error() must name `operation`.
#define CHECK_FAILS(expected, operation, call) ::test::check_fails((expected), (operation), (call), #call, __FILE__, __LINE__)
void check_fails(nrn_status expected, const char* operation, nrn_status got, const char* call, const char* file, int line);

// ---- handles ---------------------------------------------------------------------------

class Context {
public:
    explicit Context(nrn_backend backend, int32_t device = 0);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
    nrn_context* get() const { return handle_; }
    operator nrn_context*() const { return handle_; }
    std::string name() const;

private:
    nrn_context* handle_ = nullptr;
};

class Tensor {
public:
    Tensor(nrn_context* context, std::vector<int64_t> shape);
    Tensor(nrn_context* context, std::vector<int64_t> shape, const std::vector<float>& values);
    ~Tensor();
    Tensor(const Tensor&) = delete;
    Tensor& operator=(const Tensor&) = delete;
    Tensor(Tensor&& other) noexcept;

    nrn_tensor* get() const { return handle_; }
    operator nrn_tensor*() const { return handle_; }
    int64_t count() const { return count_; }
    std::vector<float> read() const;
    void write(const std::vector<float>& values);

private:
    nrn_context* context_;
    nrn_tensor* handle_ = nullptr;
    std::vector<int64_t> shape_;
    int64_t count_ = 0;
};

// The backends present: host always, CUDA device 0 when there is one.
std::vector<nrn_backend> present_backends();
int32_t cuda_device_count();

// ---- data and references -----------------------------------------------------------------

std::vector<float> random_values(std::mt19937_64& rng, int64_t count, float low = -1.0f, float high = 1.0f);
std::vector<double> to_double(const std::vector<float>& values);

// y = x·w + b (b empty: no bias), in double.
std::vector<double> reference_forward(const std::vector<float>& x, const std::vector<float>& w,
                                      const std::vector<float>& b, int64_t batch, int64_t in, int64_t out);
struct BackwardReference {
    std::vector<double> gx, gw, gb;
};
BackwardReference reference_backward(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& gy, int64_t batch, int64_t in, int64_t out);
struct MseReference {
    std::vector<double> grad;
    double error;
};
MseReference reference_mse(const std::vector<float>& prediction, const std::vector<float>& target);

// |got − expected| ≤ atol + rtol·|expected| everywhere; otherwise records a failure listing the
// first mismatches and the largest error. Returns whether all matched.
bool check_close(const std::vector<float>& got, const std::vector<double>& expected, double atol, double rtol,
                 const std::string& what, const char* file, int line);
#define CHECK_CLOSE(got, expected, atol, rtol, what) ::test::check_close((got), (expected), (atol), (rtol), (what), __FILE__, __LINE__)

// Bit-identical contents.
bool check_identical(const std::vector<float>& got, const std::vector<float>& expected, const std::string& what,
                     const char* file, int line);
#define CHECK_IDENTICAL(got, expected, what) ::test::check_identical((got), (expected), (what), __FILE__, __LINE__)

// Matrix products of depth `depth` in float: absolute tolerance for values of magnitude ≤ 1.
inline double product_atol(int64_t depth) { return 1e-5 + 4e-7 * static_cast<double>(depth); }

std::string shape_text(const std::vector<int64_t>& shape);

// ---- a second run of this executable -----------------------------------------------------

// Runs this test executable again on `area`, with `environment` ("VAR=value ...") added to its
// environment, for settings read once per process. Returns the lines it wrote on stderr (and
// on stdout too when `with_stdout`), without their newlines; `status` gets its exit status
// (-1 when it could not be started).
std::vector<std::string> rerun_area(const std::string& area, const std::string& environment, bool with_stdout,
                                    int& status);

}  // namespace test
