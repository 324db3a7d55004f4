// The C API: handle registry, argument validation and error reporting around the backends.
//
// Every entry point runs inside guard(), which turns any exception into a status and a
// thread-local message. Handles are checked against a registry of live handles, so a NULL,
// destroyed or foreign pointer gives NRN_STATUS_INVALID_HANDLE instead of a crash. All shapes
// and arguments are checked before any memory is touched, so a failed call changes nothing.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "accumulator.h"
#include "backend.h"
#include "neuron.h"
#include "random.h"

// A context: one backend instance. Shared by its handle, its tensors' storage and its pinned
// buffers, so that it lives until the last of them is gone.
struct nrn_context {
    explicit nrn_context(std::unique_ptr<nrn::Backend> b) : backend(std::move(b)) {}
    std::unique_ptr<nrn::Backend> backend;
    std::mutex mutex;  // serialises the use of the backend (stream, scratch space) between threads
    nrn_context* handle = nullptr;  // the value callers hold (Registry::add), for nrn_tensor_context
};

namespace nrn::detail {

// Device memory shared by a tensor and its views.
struct Storage {
    Storage(std::shared_ptr<nrn_context> owner, float* memory) : context(std::move(owner)), data(memory) {}
    ~Storage() {
        std::lock_guard<std::mutex> lock(context->mutex);
        context->backend->release(data);
    }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    std::shared_ptr<nrn_context> context;
    float* data;
};

}  // namespace nrn::detail

struct nrn_tensor {
    std::shared_ptr<nrn::detail::Storage> storage;
    int64_t offset = 0;  // in elements, into the storage
    int32_t ndim = 0;
    int64_t shape[NRN_MAX_DIMS] = {};
    int64_t count = 0;

    float* data() const { return storage->data + offset; }
    nrn_context* context() const { return storage->context.get(); }
    int64_t rows() const { return shape[0]; }
    int64_t row_size() const { return count / shape[0]; }
};

namespace {

using nrn::Error;
using ContextRef = std::shared_ptr<nrn_context>;
using TensorRef = std::shared_ptr<nrn_tensor>;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

// The calling thread's last failure message: a plain array, not a std::string. It has no
// destructor, so it stays usable for the thread's whole life, including the exit hooks that run
// after thread-local objects are destroyed (pthread key destructors, atexit handlers), from
// which C callers release what they hold. A longer message is cut, ending in "...".
constexpr size_t kMessageCapacity = 4096;
thread_local char last_error_message[kMessageCapacity];

nrn_status record_failure(nrn_status status, const char* operation, const char* message) noexcept {
    // Backends report without the operation's name; the API's own messages start with it.
    const size_t length = std::strlen(operation);
    const bool named = std::strncmp(message, operation, length) == 0 && message[length] == ':';
    const int written = named ? std::snprintf(last_error_message, kMessageCapacity, "%s", message)
                              : std::snprintf(last_error_message, kMessageCapacity, "%s: %s", operation, message);
    if (written >= static_cast<int>(kMessageCapacity)) std::memcpy(last_error_message + kMessageCapacity - 4, "...", 4);
    return status;
}

template <class Body>
nrn_status guard(const char* operation, Body&& body) noexcept {
    try {
        body();
        return NRN_STATUS_OK;
    } catch (const Error& e) {
        return record_failure(e.status(), operation, e.what());
    } catch (const std::bad_alloc&) {
        return record_failure(NRN_STATUS_OUT_OF_MEMORY, operation, "out of host memory");
    } catch (const std::exception& e) {
        return record_failure(NRN_STATUS_INTERNAL_ERROR, operation, e.what());
    } catch (...) {
        return record_failure(NRN_STATUS_INTERNAL_ERROR, operation, "unknown internal error");
    }
}

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

// A tensor of a call with its parameter name, for messages.
struct Named {
    const TensorRef& tensor;
    const char* name;
};

// Checks against the shapes and arguments of one call; every failure names the operation.
class Check {
public:
    explicit Check(const char* operation) : operation_(operation) {}

    [[noreturn]] void fail(nrn_status status, const std::string& message) const {
        throw Error(status, std::string(operation_) + ": " + message);
    }

    // Checks run on every call and nearly always pass, so a message is only built on failure:
    // `message` is a string literal, or a callable that returns the text.
    void require(bool condition, nrn_status status, const char* message) const {
        if (!condition) fail(status, message);
    }

    template <class Message, class = std::enable_if_t<std::is_invocable_r_v<std::string, Message&>>>
    void require(bool condition, nrn_status status, Message&& message) const {
        if (!condition) fail(status, message());
    }

    template <class T>
    void not_null(const T* pointer, const char* name) const {
        if (pointer == nullptr) fail(NRN_STATUS_INVALID_ARGUMENT, std::string(name) + " is NULL");
    }

    // The tensor belongs to `context`.
    void on(const ContextRef& context, const TensorRef& t, const char* name) const {
        if (t && t->context() != context.get()) {
            fail(NRN_STATUS_CONTEXT_MISMATCH, std::string(name) + " belongs to another context");
        }
    }

    void all_on(const ContextRef& context, std::initializer_list<Named> tensors) const {
        for (const Named& t : tensors) on(context, t.tensor, t.name);
    }

    // No output shares memory with another output or with an input.
    void all_distinct(std::initializer_list<Named> outputs, std::initializer_list<Named> inputs) const {
        for (auto o = outputs.begin(); o != outputs.end(); ++o) {
            for (const Named& i : inputs) distinct(o->tensor, o->name, i.tensor, i.name);
            for (auto later = o + 1; later != outputs.end(); ++later) distinct(o->tensor, o->name, later->tensor, later->name);
        }
    }

    void rank2(const TensorRef& t, const char* name, const char* layout) const {
        if (t->ndim != 2) {
            fail(NRN_STATUS_SHAPE_MISMATCH, std::string(name) + " must be 2-D (" + layout + ") but is " +
                                                std::to_string(t->ndim) + "-D (" + shape_text(*t) + ")");
        }
    }

    // The input (`rows` x in) and weight (in x out) of a Linear layer: both 2-D, the input's
    // columns the weight's rows. Returns {rows, in, out}.
    struct LinearShape {
        int64_t rows, in, out;
    };
    LinearShape linear(const TensorRef& x, const TensorRef& w, const char* rows) const {
        rank2(x, "input", (std::string(rows) + " x in").c_str());
        rank2(w, "weight", "in x out");
        require(w->shape[0] == x->shape[1], NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "input is " + shape_text(*x) + " but weight is " + shape_text(*w) +
                   " (input columns must equal weight rows)";
        });
        return {x->shape[0], x->shape[1], w->shape[1]};
    }

    // A bias of `out` elements: 1-D (out) or 2-D (1 x out).
    void bias(const TensorRef& b, const char* name, int64_t out, const TensorRef& weight) const {
        if (!b) return;
        const bool fits = (b->ndim == 1 && b->shape[0] == out) || (b->ndim == 2 && b->shape[0] == 1 && b->shape[1] == out);
        if (!fits) {
            fail(NRN_STATUS_SHAPE_MISMATCH, std::string(name) + " is " + shape_text(*b) + " but weight is " +
                                                shape_text(*weight) + " (" + name + " must be " + std::to_string(out) +
                                                " or 1x" + std::to_string(out) + ")");
        }
    }

    void shape2(const TensorRef& t, const char* name, int64_t rows, int64_t cols, const char* why) const {
        if (!t) return;
        if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
            fail(NRN_STATUS_SHAPE_MISMATCH, std::string(name) + " is " + shape_text(*t) + " but must be " +
                                                std::to_string(rows) + "x" + std::to_string(cols) + " (" + why + ")");
        }
    }

    void elements(const TensorRef& t, const char* name, int64_t count, const char* what) const {
        if (t && t->count != count) {
            fail(NRN_STATUS_SHAPE_MISMATCH, std::string(name) + " has " + std::to_string(t->count) +
                                                " elements (" + shape_text(*t) + ") but must have " +
                                                std::to_string(count) + " (" + what + ")");
        }
    }

    void finite_rate(float learning_rate) const {
        if (!std::isfinite(learning_rate)) {
            fail(NRN_STATUS_INVALID_ARGUMENT, "learning_rate is " + float_text(learning_rate) + ", not a finite number");
        }
    }

    // An output must not share memory with another tensor of the call.
    void distinct(const TensorRef& output, const char* output_name, const TensorRef& other, const char* other_name) const {
        if (!output || !other || output->storage != other->storage) return;
        if (output->offset < other->offset + other->count && other->offset < output->offset + output->count) {
            fail(NRN_STATUS_INVALID_ARGUMENT,
                 std::string(output_name) + " and " + other_name + " share memory; they must be distinct tensors");
        }
    }

private:
    const char* operation_;
};

// ---------------------------------------------------------------------------------------
// Handle registry
// ---------------------------------------------------------------------------------------

// A tensor handle of a call, with its parameter's name for messages: a Required one may not be
// NULL, an Optional one may (and gives an empty reference).
struct Required {
    const nrn_tensor* handle;
    const char* name;
};
struct Optional {
    const nrn_tensor* handle;
    const char* name;
};

template <class>
using TensorRefFor = TensorRef;

class Registry {
public:
    // The context and the tensors of one call, under one lock: once a process has a second
    // thread, every lock and reference count is an atomic operation, and a lock per handle
    // made the look-ups cost more than a small call's work. In argument order, so the first
    // bad handle is the one reported. Each reference keeps its object alive for the call.
    template <class... Tensors>
    std::tuple<ContextRef, TensorRefFor<Tensors>...> lookup(const Check& check, const nrn_context* context,
                                                            const Tensors&... tensors) {
        std::lock_guard<std::mutex> lock(mutex_);
        // Braced initialisers are evaluated left to right.
        return {find(check, context, "context"), find(check, tensors)...};
    }

    ContextRef context(const Check& check, const nrn_context* handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        return find(check, handle, "context");
    }

    TensorRef tensor(const Check& check, const nrn_tensor* handle, const char* name) {
        std::lock_guard<std::mutex> lock(mutex_);
        return find(check, Required{handle, name});
    }

    bool is_live(const nrn_context* handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        return contexts_.count(handle) != 0;
    }

    // Registers an object and returns its handle: a value never handed out before, so that a
    // destroyed handle stays invalid even after its object's memory is reused by a new one.
    nrn_context* add(ContextRef context) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto* handle = reinterpret_cast<nrn_context*>(next_handle());
        context->handle = handle;
        contexts_.emplace(handle, std::move(context));
        return handle;
    }
    nrn_tensor* add(TensorRef tensor) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto* handle = reinterpret_cast<nrn_tensor*>(next_handle());
        tensors_.emplace(handle, std::move(tensor));
        return handle;
    }
    void add_pinned(void* memory, ContextRef context) {
        std::lock_guard<std::mutex> lock(mutex_);
        pinned_.emplace(memory, std::move(context));
    }

    // The removed handle's reference, released by the caller outside the registry's lock.
    ContextRef remove(const Check& check, const nrn_context* handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = contexts_.find(handle);
        if (found == contexts_.end()) check.fail(NRN_STATUS_INVALID_HANDLE, "context is not a live context (already destroyed, or not a context)");
        ContextRef removed = std::move(found->second);
        contexts_.erase(found);
        return removed;
    }
    TensorRef remove(const Check& check, const nrn_tensor* handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = tensors_.find(handle);
        if (found == tensors_.end()) check.fail(NRN_STATUS_INVALID_HANDLE, "tensor is not a live tensor (already destroyed, or not a tensor)");
        TensorRef removed = std::move(found->second);
        tensors_.erase(found);
        return removed;
    }
    ContextRef remove_pinned(const Check& check, const void* memory) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = pinned_.find(memory);
        if (found == pinned_.end()) {
            check.fail(NRN_STATUS_INVALID_HANDLE, "memory is not a live buffer from nrn_pinned_alloc (already freed?)");
        }
        ContextRef removed = std::move(found->second);
        pinned_.erase(found);
        return removed;
    }

    int64_t live_count() {
        std::lock_guard<std::mutex> lock(mutex_);
        return static_cast<int64_t>(contexts_.size() + tensors_.size() + pinned_.size());
    }

private:
    // Handles count up from one counter for contexts and tensors alike, so that no handle of one
    // kind is ever a live handle of the other. They are not addresses: with bit 62 set, none is a
    // valid x86-64 address, so no stray pointer a caller holds can pass for one (and dereferencing
    // one faults). 2^59 of them outlast any process. The caller holds mutex_.
    static_assert(sizeof(uintptr_t) == 8, "handles are 64-bit values");
    uintptr_t next_handle() {
        constexpr uintptr_t kHandleTag = uintptr_t{1} << 62;
        return kHandleTag | (++serial_ << 3);
    }

    // The look-ups proper; the caller holds mutex_.
    ContextRef find(const Check& check, const nrn_context* handle, const char* name) const {
        if (handle == nullptr) check.fail(NRN_STATUS_INVALID_HANDLE, std::string(name) + " is NULL");
        auto found = contexts_.find(handle);
        if (found == contexts_.end()) {
            check.fail(NRN_STATUS_INVALID_HANDLE,
                       std::string(name) + " is not a live context (already destroyed, or not a context)");
        }
        return found->second;
    }

    TensorRef find(const Check& check, Required tensor) const {
        if (tensor.handle == nullptr) check.fail(NRN_STATUS_INVALID_HANDLE, std::string(tensor.name) + " is NULL");
        return find(check, Optional{tensor.handle, tensor.name});
    }

    TensorRef find(const Check& check, Optional tensor) const {
        if (tensor.handle == nullptr) return nullptr;
        auto found = tensors_.find(tensor.handle);
        if (found == tensors_.end()) {
            check.fail(NRN_STATUS_INVALID_HANDLE,
                       std::string(tensor.name) + " is not a live tensor (already destroyed, or not a tensor)");
        }
        return found->second;
    }

    std::mutex mutex_;
    uintptr_t serial_ = 0;
    std::unordered_map<const nrn_context*, ContextRef> contexts_;
    std::unordered_map<const nrn_tensor*, TensorRef> tensors_;
    std::unordered_map<const void*, ContextRef> pinned_;
};

// Never destroyed: handles still alive at exit must not be torn down after the CUDA runtime.
Registry& registry() {
    static Registry* instance = new Registry();
    return *instance;
}

// The integer a caller passed for an enum parameter. A C caller may pass any int, and in C++
// even reading an enum object that holds a value outside the enum's range is undefined
// behaviour, so the value is read through its bytes and checked as an int.
template <class Enum>
int enum_value(const Enum& parameter) {
    static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int), "a C enum parameter");
    int value;
    std::memcpy(&value, &parameter, sizeof value);
    return value;
}

void check_order(const Check& check, const nrn_batch_order& order) {
    const int value = enum_value(order);
    check.require(value >= NRN_ORDER_SEQUENTIAL && value <= NRN_ORDER_RANDOM, NRN_STATUS_INVALID_ARGUMENT, [&] {
        return "order " + std::to_string(value) + " is not a nrn_batch_order";
    });
}

// Checks a CUDA device index against the devices present.
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

// The element count of a shape, or a failure when a dimension is not positive or the byte
// count does not fit in memory addresses.
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

TensorRef make_tensor(const ContextRef& context, int32_t ndim, const int64_t* shape, int64_t count) {
    float* data = nullptr;
    {
        std::lock_guard<std::mutex> lock(context->mutex);
        data = static_cast<float*>(context->backend->allocate(static_cast<size_t>(count) * sizeof(float)));
    }
    std::shared_ptr<nrn::detail::Storage> storage;
    try {
        storage = std::make_shared<nrn::detail::Storage>(context, data);
    } catch (...) {
        std::lock_guard<std::mutex> lock(context->mutex);
        context->backend->release(data);
        throw;
    }
    auto tensor = std::make_shared<nrn_tensor>();
    tensor->storage = std::move(storage);
    tensor->ndim = ndim;
    std::copy(shape, shape + ndim, tensor->shape);
    tensor->count = count;
    return tensor;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Library, status and errors
// ---------------------------------------------------------------------------------------

// The definitions below keep the C linkage of their declarations in neuron.h.

nrn_status nrn_version(int32_t* major, int32_t* minor, int32_t* patch) {
    if (major != nullptr) *major = NRN_VERSION_MAJOR;
    if (minor != nullptr) *minor = NRN_VERSION_MINOR;
    if (patch != nullptr) *patch = NRN_VERSION_PATCH;
    return NRN_STATUS_OK;
}

const char* nrn_last_error(void) { return last_error_message; }

const char* nrn_status_string(nrn_status status) {
    switch (status) {
        case NRN_STATUS_OK: return "NRN_STATUS_OK";
        case NRN_STATUS_INVALID_ARGUMENT: return "NRN_STATUS_INVALID_ARGUMENT";
        case NRN_STATUS_SHAPE_MISMATCH: return "NRN_STATUS_SHAPE_MISMATCH";
        case NRN_STATUS_OUT_OF_MEMORY: return "NRN_STATUS_OUT_OF_MEMORY";
        case NRN_STATUS_DEVICE_UNAVAILABLE: return "NRN_STATUS_DEVICE_UNAVAILABLE";
        case NRN_STATUS_BACKEND_ERROR: return "NRN_STATUS_BACKEND_ERROR";
        case NRN_STATUS_INVALID_HANDLE: return "NRN_STATUS_INVALID_HANDLE";
        case NRN_STATUS_CONTEXT_MISMATCH: return "NRN_STATUS_CONTEXT_MISMATCH";
        case NRN_STATUS_INTERNAL_ERROR: return "NRN_STATUS_INTERNAL_ERROR";
    }
    return "NRN_STATUS_UNKNOWN";
}

nrn_status nrn_live_handle_count(int64_t* count) {
    return guard("nrn_live_handle_count", [&] {
        Check("nrn_live_handle_count").not_null(count, "count");
        *count = registry().live_count();
    });
}

nrn_status nrn_cuda_compiled(int32_t* compiled) {
    return guard("nrn_cuda_compiled", [&] {
        Check("nrn_cuda_compiled").not_null(compiled, "compiled");
        *compiled = nrn::cuda_compiled() ? 1 : 0;
    });
}

// ---------------------------------------------------------------------------------------
// Devices and contexts
// ---------------------------------------------------------------------------------------

nrn_status nrn_cuda_device_count(int32_t* count) {
    return guard("nrn_cuda_device_count", [&] {
        Check("nrn_cuda_device_count").not_null(count, "count");
        *count = nrn::cuda_device_count();
    });
}

nrn_status nrn_cuda_device_info(int32_t device, nrn_device_info* info) {
    return guard("nrn_cuda_device_info", [&] {
        const Check check("nrn_cuda_device_info");
        check.not_null(info, "info");
        check_device(check, device);
        nrn_device_info result{};
        nrn::cuda_device_info(device, &result);
        result.name[sizeof(result.name) - 1] = '\0';
        *info = result;
    });
}

nrn_status nrn_host_info(nrn_host_properties* info) {
    return guard("nrn_host_info", [&] {
        const Check check("nrn_host_info");
        check.not_null(info, "info");
        nrn_host_properties result{};
        nrn::host_info(&result);
        *info = result;
    });
}

nrn_status nrn_context_create(nrn_backend backend, int32_t device, nrn_context** context) {
    return guard("nrn_context_create", [&] {
        const Check check("nrn_context_create");
        check.not_null(context, "context");
        *context = nullptr;
        std::unique_ptr<nrn::Backend> instance;
        switch (enum_value(backend)) {
            case NRN_BACKEND_HOST:
                instance = nrn::make_host_backend();
                break;
            case NRN_BACKEND_CUDA:
                check_device(check, device);
                instance = nrn::make_cuda_backend(device);
                break;
            default:
                check.fail(NRN_STATUS_INVALID_ARGUMENT, "backend " + std::to_string(enum_value(backend)) +
                                                            " is not NRN_BACKEND_HOST or NRN_BACKEND_CUDA");
        }
        *context = registry().add(std::make_shared<nrn_context>(std::move(instance)));
    });
}

nrn_status nrn_context_destroy(nrn_context* context) {
    return guard("nrn_context_destroy", [&] {
        if (context == nullptr) return;
        // Released here, outside the registry's lock; the backend itself lives on while tensors
        // or pinned buffers still use it.
        ContextRef removed = registry().remove(Check("nrn_context_destroy"), context);
    });
}

nrn_status nrn_context_synchronize(nrn_context* context) {
    return guard("nrn_context_synchronize", [&] {
        ContextRef ctx = registry().context(Check("nrn_context_synchronize"), context);
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->synchronize();
    });
}

nrn_status nrn_context_backend(const nrn_context* context, nrn_backend* backend) {
    return guard("nrn_context_backend", [&] {
        const Check check("nrn_context_backend");
        ContextRef ctx = registry().context(check, context);
        check.not_null(backend, "backend");
        *backend = ctx->backend->kind();
    });
}

nrn_status nrn_context_device(const nrn_context* context, int32_t* device) {
    return guard("nrn_context_device", [&] {
        const Check check("nrn_context_device");
        ContextRef ctx = registry().context(check, context);
        check.not_null(device, "device");
        *device = ctx->backend->device();
    });
}

// ---------------------------------------------------------------------------------------
// Pinned host memory
// ---------------------------------------------------------------------------------------

nrn_status nrn_pinned_alloc(nrn_context* context, size_t bytes, void** memory) {
    return guard("nrn_pinned_alloc", [&] {
        const Check check("nrn_pinned_alloc");
        ContextRef ctx = registry().context(check, context);
        check.not_null(memory, "memory");
        *memory = nullptr;
        check.require(bytes > 0, NRN_STATUS_INVALID_ARGUMENT, "bytes is 0");
        check.require(bytes <= static_cast<size_t>(std::numeric_limits<int64_t>::max()), NRN_STATUS_OUT_OF_MEMORY, [&] {
            return std::to_string(bytes) + " bytes is more than memory can address";
        });
        void* allocated = nullptr;
        {
            std::lock_guard<std::mutex> lock(ctx->mutex);
            allocated = ctx->backend->allocate_pinned(bytes);
        }
        try {
            registry().add_pinned(allocated, ctx);
        } catch (...) {
            std::lock_guard<std::mutex> lock(ctx->mutex);
            ctx->backend->release_pinned(allocated);
            throw;
        }
        *memory = allocated;
    });
}

nrn_status nrn_pinned_free(void* memory) {
    return guard("nrn_pinned_free", [&] {
        if (memory == nullptr) return;
        ContextRef owner = registry().remove_pinned(Check("nrn_pinned_free"), memory);
        std::lock_guard<std::mutex> lock(owner->mutex);
        owner->backend->release_pinned(memory);
    });
}

// ---------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------

nrn_status nrn_tensor_create(nrn_context* context, int32_t ndim, const int64_t* shape, nrn_tensor** tensor) {
    return guard("nrn_tensor_create", [&] {
        const Check check("nrn_tensor_create");
        ContextRef ctx = registry().context(check, context);
        check.not_null(tensor, "tensor");
        *tensor = nullptr;
        check.require(ndim >= 1 && ndim <= NRN_MAX_DIMS, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "ndim is " + std::to_string(ndim) + " but must be 1.." + std::to_string(NRN_MAX_DIMS);
        });
        check.not_null(shape, "shape");
        const int64_t count = element_count(check, ndim, shape);
        TensorRef created = make_tensor(ctx, ndim, shape, count);
        *tensor = registry().add(std::move(created));
    });
}

nrn_status nrn_tensor_view_rows(nrn_tensor* source, int64_t first_row, int64_t row_count, nrn_tensor** view) {
    return guard("nrn_tensor_view_rows", [&] {
        const Check check("nrn_tensor_view_rows");
        TensorRef src = registry().tensor(check, source, "source");
        check.not_null(view, "view");
        *view = nullptr;
        const int64_t rows = src->rows();
        check.require(first_row >= 0 && row_count >= 1 && first_row < rows && row_count <= rows - first_row,
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "rows [" + std::to_string(first_row) + ", " + std::to_string(first_row) + " + " +
                   std::to_string(row_count) + ") are not a non-empty range inside source (" +
                   shape_text(*src) + ")";
        });
        auto created = std::make_shared<nrn_tensor>(*src);
        created->offset = src->offset + first_row * src->row_size();
        created->shape[0] = row_count;
        created->count = row_count * src->row_size();
        *view = registry().add(std::move(created));
    });
}

nrn_status nrn_tensor_destroy(nrn_tensor* tensor) {
    return guard("nrn_tensor_destroy", [&] {
        if (tensor == nullptr) return;
        TensorRef removed = registry().remove(Check("nrn_tensor_destroy"), tensor);  // freed outside the lock
    });
}

nrn_status nrn_tensor_ndim(const nrn_tensor* tensor, int32_t* ndim) {
    return guard("nrn_tensor_ndim", [&] {
        const Check check("nrn_tensor_ndim");
        TensorRef t = registry().tensor(check, tensor, "tensor");
        check.not_null(ndim, "ndim");
        *ndim = t->ndim;
    });
}

nrn_status nrn_tensor_shape(const nrn_tensor* tensor, int32_t capacity, int64_t* shape) {
    return guard("nrn_tensor_shape", [&] {
        const Check check("nrn_tensor_shape");
        TensorRef t = registry().tensor(check, tensor, "tensor");
        check.not_null(shape, "shape");
        check.require(capacity >= t->ndim, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "capacity is " + std::to_string(capacity) + " but the tensor has " + std::to_string(t->ndim) +
                   " dimensions (" + shape_text(*t) + ")";
        });
        std::copy(t->shape, t->shape + t->ndim, shape);
    });
}

nrn_status nrn_tensor_element_count(const nrn_tensor* tensor, int64_t* count) {
    return guard("nrn_tensor_element_count", [&] {
        const Check check("nrn_tensor_element_count");
        TensorRef t = registry().tensor(check, tensor, "tensor");
        check.not_null(count, "count");
        *count = t->count;
    });
}

nrn_status nrn_tensor_context(const nrn_tensor* tensor, nrn_context** context) {
    return guard("nrn_tensor_context", [&] {
        const Check check("nrn_tensor_context");
        TensorRef t = registry().tensor(check, tensor, "tensor");
        check.not_null(context, "context");
        *context = nullptr;
        check.require(registry().is_live(t->context()->handle), NRN_STATUS_INVALID_HANDLE,
                      "the tensor's context has already been destroyed");
        *context = t->context()->handle;
    });
}

nrn_status nrn_tensor_fill(nrn_context* context, nrn_tensor* tensor, float value) {
    return guard("nrn_tensor_fill", [&] {
        const Check check("nrn_tensor_fill");
        ContextRef ctx;
        TensorRef t;
        std::tie(ctx, t) = registry().lookup(check, context, Required{tensor, "tensor"});
        check.on(ctx, t, "tensor");
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->fill(t->data(), t->count, value);
    });
}

nrn_status nrn_tensor_fill_uniform(nrn_context* context, nrn_tensor* tensor, float low, float high, uint64_t seed) {
    return guard("nrn_tensor_fill_uniform", [&] {
        const Check check("nrn_tensor_fill_uniform");
        ContextRef ctx;
        TensorRef t;
        std::tie(ctx, t) = registry().lookup(check, context, Required{tensor, "tensor"});
        check.on(ctx, t, "tensor");
        check.require(std::isfinite(low) && std::isfinite(high) && low <= high && std::isfinite(high - low),
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "the range [" + float_text(low) + ", " + float_text(high) +
                   ") is not a finite range with low <= high and a finite width high - low";
        });
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->fill_uniform(t->data(), t->count, low, high, seed);
    });
}

nrn_status nrn_tensor_fill_normal(nrn_context* context, nrn_tensor* tensor, float mean, float stddev, uint64_t seed) {
    return guard("nrn_tensor_fill_normal", [&] {
        const Check check("nrn_tensor_fill_normal");
        ContextRef ctx;
        TensorRef t;
        std::tie(ctx, t) = registry().lookup(check, context, Required{tensor, "tensor"});
        check.on(ctx, t, "tensor");
        check.require(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0.0f &&
                          std::fabs(static_cast<double>(mean)) + nrn::kStandardNormalBound * stddev <=
                              std::numeric_limits<float>::max(),
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "mean " + float_text(mean) + " and stddev " + float_text(stddev) +
                   " must be finite, with stddev >= 0 and |mean| + 8.7 stddev within float range";
        });
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->fill_normal(t->data(), t->count, mean, stddev, seed);
    });
}

namespace {

// The checks shared by the four host copies.
void check_host_copy(const Check& check, const ContextRef& ctx, const TensorRef& t, const void* host,
                     const char* host_name, int64_t count) {
    check.on(ctx, t, "tensor");
    check.not_null(host, host_name);
    check.require(count == t->count, NRN_STATUS_SHAPE_MISMATCH, [&] {
        return "count is " + std::to_string(count) + " but the tensor (" + shape_text(*t) + ") has " +
               std::to_string(t->count) + " elements";
    });
}

nrn_status copy_from_host(const char* operation, nrn_context* context, nrn_tensor* tensor, const float* source,
                          int64_t count, bool async) {
    return guard(operation, [&] {
        const Check check(operation);
        ContextRef ctx;
        TensorRef t;
        std::tie(ctx, t) = registry().lookup(check, context, Required{tensor, "tensor"});
        check_host_copy(check, ctx, t, source, "source", count);
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->copy_from_host(t->data(), source, count, async);
    });
}

nrn_status copy_to_host(const char* operation, nrn_context* context, const nrn_tensor* tensor, float* destination,
                        int64_t count, bool async) {
    return guard(operation, [&] {
        const Check check(operation);
        ContextRef ctx;
        TensorRef t;
        std::tie(ctx, t) = registry().lookup(check, context, Required{tensor, "tensor"});
        check_host_copy(check, ctx, t, destination, "destination", count);
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->copy_to_host(destination, t->data(), count, async);
    });
}

}  // namespace

nrn_status nrn_tensor_copy_from_host(nrn_context* context, nrn_tensor* tensor, const float* source, int64_t count) {
    return copy_from_host("nrn_tensor_copy_from_host", context, tensor, source, count, false);
}

nrn_status nrn_tensor_copy_to_host(nrn_context* context, const nrn_tensor* tensor, float* destination, int64_t count) {
    return copy_to_host("nrn_tensor_copy_to_host", context, tensor, destination, count, false);
}

nrn_status nrn_tensor_copy_from_host_async(nrn_context* context, nrn_tensor* tensor, const float* source, int64_t count) {
    return copy_from_host("nrn_tensor_copy_from_host_async", context, tensor, source, count, true);
}

nrn_status nrn_tensor_copy_to_host_async(nrn_context* context, const nrn_tensor* tensor, float* destination, int64_t count) {
    return copy_to_host("nrn_tensor_copy_to_host_async", context, tensor, destination, count, true);
}

nrn_status nrn_tensor_copy(nrn_context* context, const nrn_tensor* source, nrn_tensor* destination) {
    return guard("nrn_tensor_copy", [&] {
        const Check check("nrn_tensor_copy");
        ContextRef ctx;
        TensorRef src, dst;
        std::tie(ctx, src, dst) = registry().lookup(check, context,
            Required{source, "source"}, Required{destination, "destination"});
        check.on(ctx, src, "source");
        check.on(ctx, dst, "destination");
        check.require(src->count == dst->count, NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "source is " + shape_text(*src) + " (" + std::to_string(src->count) +
                   " elements) but destination is " + shape_text(*dst) + " (" + std::to_string(dst->count) +
                   " elements)";
        });
        if (src->storage == dst->storage && src->offset == dst->offset) return;  // the same memory
        check.distinct(dst, "destination", src, "source");
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->copy(dst->data(), src->data(), src->count);
    });
}

nrn_status nrn_tensor_copy_rows(nrn_context* context, const nrn_tensor* source, int64_t source_row,
                                nrn_tensor* destination, int64_t destination_row, int64_t row_count) {
    return guard("nrn_tensor_copy_rows", [&] {
        const Check check("nrn_tensor_copy_rows");
        ContextRef ctx;
        TensorRef src, dst;
        std::tie(ctx, src, dst) = registry().lookup(check, context,
            Required{source, "source"}, Required{destination, "destination"});
        check.on(ctx, src, "source");
        check.on(ctx, dst, "destination");
        check.require(src->row_size() == dst->row_size(), NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "source is " + shape_text(*src) + " and destination is " + shape_text(*dst) +
                   ": their rows differ in size (" + std::to_string(src->row_size()) + " vs " +
                   std::to_string(dst->row_size()) + " elements)";
        });
        auto in_range = [](int64_t first, int64_t count, int64_t rows) {
            return first >= 0 && first < rows && count <= rows - first;
        };
        check.require(row_count >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "row_count is " + std::to_string(row_count) + " but must be at least 1";
        });
        check.require(in_range(source_row, row_count, src->rows()), NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "source rows [" + std::to_string(source_row) + ", " + std::to_string(source_row) + " + " +
                   std::to_string(row_count) + ") are outside source (" + shape_text(*src) + ")";
        });
        check.require(in_range(destination_row, row_count, dst->rows()), NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "destination rows [" + std::to_string(destination_row) + ", " + std::to_string(destination_row) +
                   " + " + std::to_string(row_count) + ") are outside destination (" + shape_text(*dst) + ")";
        });
        const int64_t row_size = src->row_size();
        const int64_t from = src->offset + source_row * row_size, to = dst->offset + destination_row * row_size;
        const int64_t count = row_count * row_size;
        if (src->storage == dst->storage) {
            if (from == to) return;  // the same rows
            check.require(from + count <= to || to + count <= from, NRN_STATUS_INVALID_ARGUMENT,
                          "the source rows and the destination rows overlap in memory");
        }
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->copy(dst->storage->data + to, src->storage->data + from, count);
    });
}

// ---------------------------------------------------------------------------------------
// Linear layer
// ---------------------------------------------------------------------------------------

nrn_status nrn_linear_forward(nrn_context* context, const nrn_tensor* input, const nrn_tensor* weight,
                              const nrn_tensor* bias, nrn_tensor* output) {
    return guard("nrn_linear_forward", [&] {
        const Check check("nrn_linear_forward");
        ContextRef ctx;
        TensorRef x, w, b, y;
        std::tie(ctx, x, w, b, y) = registry().lookup(check, context,
            Required{input, "input"}, Required{weight, "weight"}, Optional{bias, "bias"}, Required{output, "output"});
        check.all_on(ctx, {{x, "input"}, {w, "weight"}, {b, "bias"}, {y, "output"}});
        const auto [batch, in, out] = check.linear(x, w, "batch");
        check.bias(b, "bias", out, w);
        check.shape2(y, "output", batch, out, "input rows x weight columns");
        check.all_distinct({{y, "output"}}, {{x, "input"}, {w, "weight"}, {b, "bias"}});
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->linear_forward(x->data(), w->data(), b ? b->data() : nullptr, y->data(), batch, in, out);
    });
}

nrn_status nrn_linear_backward(nrn_context* context, const nrn_tensor* input, const nrn_tensor* weight,
                               const nrn_tensor* output_grad, nrn_tensor* input_grad, nrn_tensor* weight_grad,
                               nrn_tensor* bias_grad, nrn_grad_mode mode) {
    return guard("nrn_linear_backward", [&] {
        const Check check("nrn_linear_backward");
        ContextRef ctx;
        TensorRef x, w, gy, gx, gw, gb;
        std::tie(ctx, x, w, gy, gx, gw, gb) = registry().lookup(check, context,
            Required{input, "input"}, Required{weight, "weight"}, Required{output_grad, "output_grad"},
            Optional{input_grad, "input_grad"}, Optional{weight_grad, "weight_grad"},
            Optional{bias_grad, "bias_grad"});
        check.all_on(ctx, {{x, "input"}, {w, "weight"}, {gy, "output_grad"}, {gx, "input_grad"},
                           {gw, "weight_grad"}, {gb, "bias_grad"}});
        const int mode_value = enum_value(mode);
        check.require(mode_value == NRN_GRAD_OVERWRITE || mode_value == NRN_GRAD_ACCUMULATE,
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "mode " + std::to_string(mode_value) + " is not NRN_GRAD_OVERWRITE or NRN_GRAD_ACCUMULATE";
        });
        const auto [batch, in, out] = check.linear(x, w, "batch");
        check.shape2(gy, "output_grad", batch, out, "input rows x weight columns");
        check.shape2(gx, "input_grad", batch, in, "the shape of input");
        check.shape2(gw, "weight_grad", in, out, "the shape of weight");
        check.bias(gb, "bias_grad", out, w);
        check.all_distinct({{gx, "input_grad"}, {gw, "weight_grad"}, {gb, "bias_grad"}},
                           {{x, "input"}, {w, "weight"}, {gy, "output_grad"}});
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->linear_backward(x->data(), w->data(), gy->data(), gx ? gx->data() : nullptr,
                                      gw ? gw->data() : nullptr, gb ? gb->data() : nullptr, batch, in, out,
                                      mode == NRN_GRAD_ACCUMULATE);
    });
}

// ---------------------------------------------------------------------------------------
// Mean squared error
// ---------------------------------------------------------------------------------------

nrn_status nrn_mse(nrn_context* context, const nrn_tensor* prediction, const nrn_tensor* target, nrn_tensor* grad,
                   nrn_tensor* error, nrn_tensor* accumulator) {
    return guard("nrn_mse", [&] {
        const Check check("nrn_mse");
        ContextRef ctx;
        TensorRef p, t, g, e, a;
        std::tie(ctx, p, t, g, e, a) = registry().lookup(check, context,
            Required{prediction, "prediction"}, Required{target, "target"}, Optional{grad, "grad"},
            Optional{error, "error"}, Optional{accumulator, "accumulator"});
        check.all_on(ctx, {{p, "prediction"}, {t, "target"}, {g, "grad"}, {e, "error"}, {a, "accumulator"}});
        auto same_shape = [](const nrn_tensor& u, const nrn_tensor& v) {
            return u.ndim == v.ndim && std::equal(u.shape, u.shape + u.ndim, v.shape);
        };
        check.require(same_shape(*p, *t), NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "prediction is " + shape_text(*p) + " but target is " + shape_text(*t) + " (shapes must be equal)";
        });
        check.require(!g || same_shape(*p, *g), NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "prediction is " + shape_text(*p) + " but grad is " + (g ? shape_text(*g) : "") +
                   " (shapes must be equal)";
        });
        check.elements(e, "error", 1, "one float");
        check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
        check.all_distinct({{g, "grad"}, {e, "error"}, {a, "accumulator"}}, {{p, "prediction"}, {t, "target"}});
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->mse(p->data(), t->data(), g ? g->data() : nullptr, e ? e->data() : nullptr,
                          a ? a->data() : nullptr, p->count, p->shape[0]);
    });
}

nrn_status nrn_accumulator_reset(nrn_context* context, nrn_tensor* accumulator) {
    return guard("nrn_accumulator_reset", [&] {
        const Check check("nrn_accumulator_reset");
        ContextRef ctx;
        TensorRef a;
        std::tie(ctx, a) = registry().lookup(check, context, Required{accumulator, "accumulator"});
        check.on(ctx, a, "accumulator");
        check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->fill(a->data(), NRN_ACCUMULATOR_SIZE, 0.0f);
    });
}

nrn_status nrn_accumulator_read(nrn_context* context, const nrn_tensor* accumulator, double* error_sum,
                                double* sample_count) {
    return guard("nrn_accumulator_read", [&] {
        const Check check("nrn_accumulator_read");
        ContextRef ctx;
        TensorRef a;
        std::tie(ctx, a) = registry().lookup(check, context, Required{accumulator, "accumulator"});
        check.on(ctx, a, "accumulator");
        check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
        check.not_null(error_sum, "error_sum");
        check.not_null(sample_count, "sample_count");
        float values[NRN_ACCUMULATOR_SIZE];
        {
            std::lock_guard<std::mutex> lock(ctx->mutex);
            ctx->backend->copy_to_host(values, a->data(), NRN_ACCUMULATOR_SIZE, false);
        }
        nrn::accumulator_totals(values, error_sum, sample_count);
    });
}

// ---------------------------------------------------------------------------------------
// SGD and fused training
// ---------------------------------------------------------------------------------------

nrn_status nrn_sgd_update(nrn_context* context, nrn_tensor* param, const nrn_tensor* grad, float learning_rate) {
    return guard("nrn_sgd_update", [&] {
        const Check check("nrn_sgd_update");
        ContextRef ctx;
        TensorRef p, g;
        std::tie(ctx, p, g) = registry().lookup(check, context, Required{param, "param"}, Required{grad, "grad"});
        check.on(ctx, p, "param");
        check.on(ctx, g, "grad");
        check.require(p->count == g->count, NRN_STATUS_SHAPE_MISMATCH, [&] {
            return "param is " + shape_text(*p) + " but grad is " + shape_text(*g) +
                   " (element counts must be equal)";
        });
        check.finite_rate(learning_rate);
        check.distinct(p, "param", g, "grad");
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->sgd_update(p->data(), g->data(), p->count, learning_rate);
    });
}

namespace {

// The tensors of a fused call, with the references that keep them alive for the call.
struct TrainTensors {
    ContextRef ctx;
    TensorRef x, t, w, b, e, a;
};

TrainTensors lookup_train(const Check& check, const nrn_context* context, const nrn_tensor* input,
                          const nrn_tensor* target, const nrn_tensor* weight, const nrn_tensor* bias,
                          const nrn_tensor* error, const nrn_tensor* accumulator) {
    TrainTensors h;
    std::tie(h.ctx, h.x, h.t, h.w, h.b, h.e, h.a) = registry().lookup(
        check, context, Required{input, "input"}, Required{target, "target"}, Required{weight, "weight"},
        Optional{bias, "bias"}, Optional{error, "error"}, Optional{accumulator, "accumulator"});
    return h;
}

// The checks shared by the fused step and the fused training run; fills everything but the batch
// schedule (batch_size, first_step, step_count, order and seed).
nrn::TrainArgs check_train(const Check& check, const TrainTensors& h, float learning_rate) {
    const ContextRef& ctx = h.ctx;
    const TensorRef &x = h.x, &t = h.t, &w = h.w, &b = h.b, &e = h.e, &a = h.a;
    check.all_on(ctx, {{x, "input"}, {t, "target"}, {w, "weight"}, {b, "bias"}, {e, "error"}, {a, "accumulator"}});
    const auto [rows, in, out] = check.linear(x, w, "rows");
    check.shape2(t, "target", rows, out, "input rows x weight columns");
    check.bias(b, "bias", out, w);
    check.elements(e, "error", 1, "one float");
    check.elements(a, "accumulator", NRN_ACCUMULATOR_SIZE, "NRN_ACCUMULATOR_SIZE floats");
    check.finite_rate(learning_rate);
    check.all_distinct({{w, "weight"}, {b, "bias"}, {e, "error"}, {a, "accumulator"}}, {{x, "input"}, {t, "target"}});
    nrn::TrainArgs args{};
    args.input = x->data();
    args.target = t->data();
    args.weight = w->data();
    args.bias = b ? b->data() : nullptr;
    args.rows = rows;
    args.in_features = in;
    args.out_features = out;
    args.learning_rate = learning_rate;
    args.error = e ? e->data() : nullptr;
    args.accumulator = a ? a->data() : nullptr;
    return args;
}

}  // namespace

nrn_status nrn_linear_mse_sgd_step(nrn_context* context, const nrn_tensor* input, const nrn_tensor* target,
                                   nrn_tensor* weight, nrn_tensor* bias, float learning_rate, nrn_tensor* error,
                                   nrn_tensor* accumulator) {
    return guard("nrn_linear_mse_sgd_step", [&] {
        const Check check("nrn_linear_mse_sgd_step");
        const TrainTensors held = lookup_train(check, context, input, target, weight, bias, error, accumulator);
        const ContextRef& ctx = held.ctx;
        nrn::TrainArgs args = check_train(check, held, learning_rate);
        args.batch_size = args.rows;
        args.first_step = 0;
        args.step_count = 1;
        args.order = NRN_ORDER_SEQUENTIAL;
        args.seed = 0;
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->linear_mse_sgd_train(args);
    });
}

nrn_status nrn_linear_mse_sgd_train(nrn_context* context, const nrn_tensor* input, const nrn_tensor* target,
                                    nrn_tensor* weight, nrn_tensor* bias, float learning_rate, int64_t batch_size,
                                    int64_t first_step, int64_t step_count, nrn_batch_order order, uint64_t seed,
                                    nrn_tensor* error, nrn_tensor* accumulator) {
    return guard("nrn_linear_mse_sgd_train", [&] {
        const Check check("nrn_linear_mse_sgd_train");
        const TrainTensors held = lookup_train(check, context, input, target, weight, bias, error, accumulator);
        const ContextRef& ctx = held.ctx;
        nrn::TrainArgs args = check_train(check, held, learning_rate);
        check.require(batch_size >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "batch_size is " + std::to_string(batch_size) + " but must be >= 1";
        });
        check.require(first_step >= 0, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "first_step is " + std::to_string(first_step) + " but must be >= 0";
        });
        check.require(step_count >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "step_count is " + std::to_string(step_count) + " but must be >= 1";
        });
        check.require(first_step <= std::numeric_limits<int64_t>::max() - step_count, NRN_STATUS_INVALID_ARGUMENT,
                      "first_step + step_count overflows");
        check_order(check, order);
        args.batch_size = std::min(batch_size, args.rows);  // a batch larger than the data is all of it
        args.first_step = first_step;
        args.step_count = step_count;
        args.order = order;
        args.seed = seed;
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->backend->linear_mse_sgd_train(args);
    });
}

nrn_status nrn_batch_index(nrn_batch_order order, uint64_t seed, int64_t step, int64_t batch_count,
                           int64_t* batch_index) {
    return guard("nrn_batch_index", [&] {
        const Check check("nrn_batch_index");
        check.not_null(batch_index, "batch_index");
        check_order(check, order);
        check.require(step >= 0, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "step is " + std::to_string(step) + " but must be >= 0";
        });
        check.require(batch_count >= 1, NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "batch_count is " + std::to_string(batch_count) + " but must be >= 1";
        });
        *batch_index = nrn::batch_index(order, seed, step, batch_count);
    });
}
