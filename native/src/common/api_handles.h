// What the C API's handles stand for: a context (nrn_context, one backend instance) and a tensor
// (nrn_tensor, a view into device memory that it shares with its views). Callers never hold
// their addresses: the handles they hold are keys of the registry (handle_registry.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "backend.h"
#include "neuron.h"

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

namespace nrn::detail {

using ContextRef = std::shared_ptr<nrn_context>;
using TensorRef = std::shared_ptr<nrn_tensor>;

}  // namespace nrn::detail
