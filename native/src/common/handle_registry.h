// The registry of live handles. Every handle a caller passes is looked up here, so a NULL,
// destroyed or foreign pointer gives NRN_STATUS_INVALID_HANDLE instead of a crash, and each
// look-up returns a reference that keeps its object alive for the call.
#pragma once

#include <cstdint>
#include <memory>
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

// The context's lock for one call: held from lock(), or from the look-up when it was free, until
// the call returns. It is declared after the references that Registry::lookup fills (which takes
// them as arguments, so they exist first), so it is released before they are: the last reference to
// a tensor frees its memory under this same lock.
class CallLock {
public:
    CallLock() = default;
    CallLock(std::mutex& context_lock, bool held) noexcept : mutex_(&context_lock), held_(held) {}
    CallLock(CallLock&& other) noexcept
        : mutex_(std::exchange(other.mutex_, nullptr)), held_(std::exchange(other.held_, false)) {}
    CallLock& operator=(CallLock&& other) noexcept {
        if (this != &other) {
            release();
            mutex_ = std::exchange(other.mutex_, nullptr);
            held_ = std::exchange(other.held_, false);
        }
        return *this;
    }
    CallLock(const CallLock&) = delete;
    CallLock& operator=(const CallLock&) = delete;
    ~CallLock() { release(); }

    bool held() const noexcept { return held_; }

    // Takes the context's lock, unless the look-up already holds it.
    void lock() {
        if (!held_) {
            mutex_->lock();
            held_ = true;
        }
    }

private:
    void release() noexcept {
        if (held_) mutex_->unlock();
        held_ = false;
    }

    std::mutex* mutex_ = nullptr;
    bool held_ = false;
};

class Registry {
public:
    // The context and the tensors of one call, looked up under one lock, into `out`
    // (std::tie(ctx, x, ...)): in argument order, so the first bad handle is the one reported.
    // Returns the call's lock of the context, which the call takes before it touches memory.
    //
    // When every tensor is on the context and the context's lock is free, the look-up takes that
    // lock and the references own nothing: no reference count changes. Counting is two atomic
    // operations per handle, most of a small call's cost once a process has a second thread (as
    // every .NET process has). The held lock keeps the objects alive instead: the destroy
    // functions wait for the lock of the context (the tensor's context) before they drop the
    // registry's reference, and a call holds it from inside this look-up until it returns.
    // Otherwise (another thread's call holds the lock, or a tensor is on another context, which
    // the call's checks then report) each reference owns its object, as the caller's checks and
    // the wait for the lock need.
    template <class Out, class... Tensors>
    CallLock lookup(const Check& check, Out out, const nrn_context* context, const Tensors&... tensors) {
        static_assert(std::tuple_size_v<Out> == 1 + sizeof...(Tensors), "one reference per handle");
        static_assert(sizeof...(Tensors) >= 1, "a call names a tensor, whose memory holds the context (remove_pinned)");
        std::lock_guard<std::mutex> lock(mutex_);
        // Braced initialisers are evaluated left to right.
        const std::tuple<const ContextRef&, const TensorRefFor<Tensors>&...> found{
            find(check, context, "context"), find(check, tensors)...};
        const ContextRef& ctx = std::get<0>(found);
        const bool all_on_context = std::apply(
            [&](const ContextRef&, const TensorRefFor<Tensors>&... t) {
                return ((!t || t->context() == ctx.get()) && ...);
            },
            found);
        CallLock call(ctx->mutex, all_on_context && ctx->mutex.try_lock());
        const bool borrowed = call.held();
        std::apply([&](const ContextRef& c, const TensorRefFor<Tensors>&... t) {
            out = std::tuple<ContextRef, TensorRefFor<Tensors>...>{borrowed ? borrow(c) : c, borrowed ? borrow(t) : t...};
        }, found);
        return call;
    }

    ContextRef context(const Check& check, const nrn_context* handle, const char* name = "context") {
        std::lock_guard<std::mutex> lock(mutex_);
        return find(check, handle, name);
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

    // The removed handle's reference, released by the caller outside the registry's lock. Returns
    // once no call that found the object without a reference still runs (lookup): such a call
    // holds the context's lock from inside its look-up, which came before this removal, until it
    // returns.
    ContextRef remove(const Check& check, const nrn_context* handle) {
        ContextRef removed = take(check, contexts_, handle, "context is not a live context (already destroyed, or not a context)");
        wait_for_calls(*removed);
        return removed;
    }
    TensorRef remove(const Check& check, const nrn_tensor* handle) {
        TensorRef removed = take(check, tensors_, handle, "tensor is not a live tensor (already destroyed, or not a tensor)");
        wait_for_calls(*removed->context());
        return removed;
    }
    // Needs no wait: a call that borrows a context names one of its tensors too (lookup), whose
    // memory holds the context until the tensor's own removal has waited for the call.
    ContextRef remove_pinned(const Check& check, const void* memory) {
        return take(check, pinned_, memory, "memory is not a live buffer from nrn_pinned_alloc (already freed?)");
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

    // Removes `key` from `map` and returns its reference; fails with `message` when it is absent.
    template <class Map>
    typename Map::mapped_type take(const Check& check, Map& map, typename Map::key_type key, const char* message) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = map.find(key);
        if (found == map.end()) check.fail(NRN_STATUS_INVALID_HANDLE, message);
        typename Map::mapped_type removed = std::move(found->second);
        map.erase(found);
        return removed;
    }

    // Waits for the calls that hold `context`'s lock.
    static void wait_for_calls(nrn_context& context) { std::lock_guard<std::mutex> wait(context.mutex); }

    // A reference to `object` that owns nothing: copying and dropping it count nothing.
    template <class T>
    static std::shared_ptr<T> borrow(const std::shared_ptr<T>& object) {
        return std::shared_ptr<T>(std::shared_ptr<T>(), object.get());
    }

    // The look-ups proper, returning the registry's own reference (an empty one for an absent
    // Optional tensor); the caller holds mutex_.
    const ContextRef& find(const Check& check, const nrn_context* handle, const char* name) const {
        if (handle == nullptr) check.fail(NRN_STATUS_INVALID_HANDLE, std::string(name) + " is NULL");
        auto found = contexts_.find(handle);
        if (found == contexts_.end()) {
            check.fail(NRN_STATUS_INVALID_HANDLE,
                       std::string(name) + " is not a live context (already destroyed, or not a context)");
        }
        return found->second;
    }

    const TensorRef& find(const Check& check, Required tensor) const {
        if (tensor.handle == nullptr) check.fail(NRN_STATUS_INVALID_HANDLE, std::string(tensor.name) + " is NULL");
        return find(check, Optional{tensor.handle, tensor.name});
    }

    const TensorRef& find(const Check& check, Optional tensor) const {
        if (tensor.handle == nullptr) return kNoTensor;
        auto found = tensors_.find(tensor.handle);
        if (found == tensors_.end()) {
            check.fail(NRN_STATUS_INVALID_HANDLE,
                       std::string(tensor.name) + " is not a live tensor (already destroyed, or not a tensor)");
        }
        return found->second;
    }

    inline static const TensorRef kNoTensor{};

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
