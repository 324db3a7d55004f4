// Argument checks of the C API: class Check validates the shapes and arguments of one call and
// throws nrn::Error with a message that names the operation, the parameter, what it is and
// what it must be. Every entry point checks all its arguments before any memory is touched,
// so a failed call changes nothing.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "api_handles.h"
#include "backend.h"
#include "neuron.h"

namespace nrn::detail {

// A tensor's shape as text, "2x3".
std::string shape_text(const nrn_tensor& t);

// A float as text, "NaN", "inf" and "-inf" included.
std::string float_text(float value);

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
        if (x->ndim != 2) rank2(x, "input", (std::string(rows) + " x in").c_str());  // the text only on failure
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

inline void check_order(const Check& check, const nrn_batch_order& order) {
    const int value = enum_value(order);
    check.require(value >= NRN_ORDER_SEQUENTIAL && value <= NRN_ORDER_RANDOM, NRN_STATUS_INVALID_ARGUMENT, [&] {
        return "order " + std::to_string(value) + " is not a nrn_batch_order";
    });
}

// Checks a CUDA device index against the devices present.
void check_device(const Check& check, int32_t device);

// The element count of a shape, or a failure when a dimension is not positive or the byte
// count does not fit in memory addresses.
int64_t element_count(const Check& check, int32_t ndim, const int64_t* shape);

}  // namespace nrn::detail
