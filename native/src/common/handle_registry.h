// The registry of live handles. Every handle a caller passes is looked up here, so a NULL,
// destroyed or foreign pointer gives NRN_STATUS_INVALID_HANDLE instead of a crash, and each
// look-up returns a reference that keeps its object alive for the call.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "api_check.h"
#include "api_handles.h"
#include "neuron.h"

namespace nrn::detail {

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
inline Registry& registry() {
    static Registry* instance = new Registry();
    return *instance;
}

}  // namespace nrn::detail
