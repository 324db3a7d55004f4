// The C API's entry points for tensors (neuron.h): creation, views, shape queries, fills and
// copies.
//
// Each runs inside guard() (api_errors.h), looks its handles up in the registry
// (handle_registry.h) and checks all its arguments (api_check.h) before it touches any memory,
// so that a failed call changes nothing. The definitions keep the C linkage of their
// declarations in neuron.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "api_check.h"
#include "api_errors.h"
#include "api_handles.h"
#include "backend.h"
#include "handle_registry.h"
#include "neuron.h"
#include "random.h"

using namespace nrn::detail;

namespace {

// A new tensor of `count` elements on `context`, its memory uninitialised.
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
// Tensors
// ---------------------------------------------------------------------------------------

nrn_status nrn_tensor_create(nrn_context* context, int32_t ndim, const int64_t* shape, nrn_tensor** tensor) {
    return guard("nrn_tensor_create", [&] {
        const Check check("nrn_tensor_create");
        if (tensor != nullptr) *tensor = nullptr;  // whatever fails below, a bad context included
        ContextRef ctx = registry().context(check, context);
        check.not_null(tensor, "tensor");
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
        if (view != nullptr) *view = nullptr;  // whatever fails below, a bad source included
        TensorRef src = registry().tensor(check, source, "source");
        check.not_null(view, "view");
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
        CallLock call = registry().lookup(check, std::tie(ctx, t), context, Required{tensor, "tensor"});
        check.on(ctx, t, "tensor");
        call.lock();
        ctx->backend->fill(t->data(), t->count, value);
    });
}

nrn_status nrn_tensor_fill_uniform(nrn_context* context, nrn_tensor* tensor, float low, float high, uint64_t seed) {
    return guard("nrn_tensor_fill_uniform", [&] {
        const Check check("nrn_tensor_fill_uniform");
        ContextRef ctx;
        TensorRef t;
        CallLock call = registry().lookup(check, std::tie(ctx, t), context, Required{tensor, "tensor"});
        check.on(ctx, t, "tensor");
        check.require(std::isfinite(low) && std::isfinite(high) && low <= high && std::isfinite(high - low),
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "the range [" + float_text(low) + ", " + float_text(high) +
                   ") is not a finite range with low <= high and a finite width high - low";
        });
        call.lock();
        ctx->backend->fill_uniform(t->data(), t->count, low, high, seed);
    });
}

nrn_status nrn_tensor_fill_normal(nrn_context* context, nrn_tensor* tensor, float mean, float stddev, uint64_t seed) {
    return guard("nrn_tensor_fill_normal", [&] {
        const Check check("nrn_tensor_fill_normal");
        ContextRef ctx;
        TensorRef t;
        CallLock call = registry().lookup(check, std::tie(ctx, t), context, Required{tensor, "tensor"});
        check.on(ctx, t, "tensor");
        check.require(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0.0f &&
                          std::fabs(static_cast<double>(mean)) + nrn::kStandardNormalBound * stddev <=
                              std::numeric_limits<float>::max(),
                      NRN_STATUS_INVALID_ARGUMENT, [&] {
            return "mean " + float_text(mean) + " and stddev " + float_text(stddev) +
                   " must be finite, with stddev >= 0 and |mean| + 8.7 stddev within float range";
        });
        call.lock();
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

// The element counts of a copy's two tensors agree (their shapes may differ).
void check_same_count(const Check& check, const nrn_tensor& source, const nrn_tensor& destination) {
    check.require(source.count == destination.count, NRN_STATUS_SHAPE_MISMATCH, [&] {
        return "source is " + shape_text(source) + " (" + std::to_string(source.count) +
               " elements) but destination is " + shape_text(destination) + " (" +
               std::to_string(destination.count) + " elements)";
    });
}

nrn_status copy_from_host(const char* operation, nrn_context* context, nrn_tensor* tensor, const float* source,
                          int64_t count, bool async) {
    return guard(operation, [&] {
        const Check check(operation);
        ContextRef ctx;
        TensorRef t;
        CallLock call = registry().lookup(check, std::tie(ctx, t), context, Required{tensor, "tensor"});
        check_host_copy(check, ctx, t, source, "source", count);
        call.lock();
        ctx->backend->copy_from_host(t->data(), source, count, async);
    });
}

nrn_status copy_to_host(const char* operation, nrn_context* context, const nrn_tensor* tensor, float* destination,
                        int64_t count, bool async) {
    return guard(operation, [&] {
        const Check check(operation);
        ContextRef ctx;
        TensorRef t;
        CallLock call = registry().lookup(check, std::tie(ctx, t), context, Required{tensor, "tensor"});
        check_host_copy(check, ctx, t, destination, "destination", count);
        call.lock();
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

namespace {

// nrn_tensor_copy, for it and for nrn_tensor_copy_between with one context twice.
void copy_on_context(const Check& check, nrn_context* context, const nrn_tensor* source, nrn_tensor* destination) {
    ContextRef ctx;
    TensorRef src, dst;
    CallLock call = registry().lookup(check, std::tie(ctx, src, dst), context,
        Required{source, "source"}, Required{destination, "destination"});
    check.on(ctx, src, "source");
    check.on(ctx, dst, "destination");
    check_same_count(check, *src, *dst);
    if (src->storage == dst->storage && src->offset == dst->offset) return;  // the same memory
    check.distinct(dst, "destination", src, "source");
    call.lock();
    ctx->backend->copy(dst->data(), src->data(), src->count);
}

// Copies `count` floats from `source`'s memory to `destination`'s, each on its own backend, and
// returns when they have arrived.
void copy_across(nrn::Backend& from, const float* source, nrn::Backend& to, float* destination, int64_t count) {
    if (to.kind() == NRN_BACKEND_HOST) {
        from.copy_to_host(destination, source, count, false);
    } else if (from.kind() == NRN_BACKEND_HOST) {
        to.copy_from_host(destination, source, count, false);
    } else {
        from.synchronize();  // the copy runs on the destination's stream, which does not wait for the source's
        to.copy_from_peer(destination, from.device(), source, count);
    }
}

}  // namespace

nrn_status nrn_tensor_copy(nrn_context* context, const nrn_tensor* source, nrn_tensor* destination) {
    return guard("nrn_tensor_copy", [&] {
        copy_on_context(Check("nrn_tensor_copy"), context, source, destination);
    });
}

nrn_status nrn_tensor_copy_between(nrn_context* source_context, const nrn_tensor* source,
                                   nrn_context* destination_context, nrn_tensor* destination) {
    return guard("nrn_tensor_copy_between", [&] {
        const Check check("nrn_tensor_copy_between");
        if (source_context != nullptr && source_context == destination_context) {
            registry().context(check, source_context, "source_context");  // named as this call names it, when not live
            copy_on_context(check, source_context, source, destination);
            return;
        }
        // References that own their objects, looked up in argument order: the call then takes both
        // contexts' locks at once (std::lock), so that two threads copying in opposite directions
        // cannot each hold one lock and wait for the other.
        const ContextRef from_ctx = registry().context(check, source_context, "source_context");
        const TensorRef src = registry().tensor(check, source, "source");
        const ContextRef to_ctx = registry().context(check, destination_context, "destination_context");
        const TensorRef dst = registry().tensor(check, destination, "destination");
        check.on(from_ctx, src, "source");
        check.on(to_ctx, dst, "destination");
        check_same_count(check, *src, *dst);
        // Declared after the references, so released before them (a tensor's last reference frees
        // its memory under its context's lock).
        std::unique_lock<std::mutex> from_lock(from_ctx->mutex, std::defer_lock), to_lock(to_ctx->mutex, std::defer_lock);
        std::lock(from_lock, to_lock);
        copy_across(*from_ctx->backend, src->data(), *to_ctx->backend, dst->data(), src->count);
    });
}

nrn_status nrn_tensor_copy_rows(nrn_context* context, const nrn_tensor* source, int64_t source_row,
                                nrn_tensor* destination, int64_t destination_row, int64_t row_count) {
    return guard("nrn_tensor_copy_rows", [&] {
        const Check check("nrn_tensor_copy_rows");
        ContextRef ctx;
        TensorRef src, dst;
        CallLock call = registry().lookup(check, std::tie(ctx, src, dst), context,
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
        call.lock();
        ctx->backend->copy(dst->storage->data + to, src->storage->data + from, count);
    });
}
