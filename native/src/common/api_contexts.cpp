// The C API's entry points for the library itself (version, status names, the last error),
// devices, contexts and pinned host memory (neuron.h).
//
// Each that can fail runs inside guard() (api_errors.h), looks its handles up in the registry
// (handle_registry.h) and checks all its arguments (api_check.h) before it touches any memory,
// so that a failed call changes nothing. The definitions keep the C linkage of their
// declarations in neuron.h.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "api_check.h"
#include "api_errors.h"
#include "api_handles.h"
#include "backend.h"
#include "handle_registry.h"
#include "neuron.h"

using namespace nrn::detail;

// ---------------------------------------------------------------------------------------
// Library, status and errors
// ---------------------------------------------------------------------------------------

nrn_status nrn_version(int32_t* major, int32_t* minor, int32_t* patch) {
    if (major != nullptr) *major = NRN_VERSION_MAJOR;
    if (minor != nullptr) *minor = NRN_VERSION_MINOR;
    if (patch != nullptr) *patch = NRN_VERSION_PATCH;
    return NRN_STATUS_OK;
}

const char* nrn_last_error(void) { return last_failure_message(); }

const char* nrn_status_string(nrn_status status) {
    switch (enum_value(status)) {  // any int a C caller passes, unknown ones included
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
        if (memory != nullptr) *memory = nullptr;  // whatever fails below, a bad context included
        ContextRef ctx = registry().context(check, context);
        check.not_null(memory, "memory");
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
