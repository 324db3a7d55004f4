/*
 * neuron.h: the public C API of libneuron.
 *
 * libneuron trains dense (Linear) layers with a mean-squared-error cost and plain SGD on
 * two backends behind one API: the host (CPU) backend, always present, and hand-written
 * CUDA kernels, compiled in when the CUDA toolkit was found at build time.
 *
 * Conventions
 *   - Every function returns an nrn_status, but nrn_last_error() and nrn_status_string(), which
 *     return text. On failure nrn_last_error() returns a message for the calling thread naming
 *     the operation and the shapes involved; the library owns that memory (valid until the
 *     thread's next failing call). No C++ exception, CUDA error, exit() or abort() ever escapes
 *     an entry point.
 *   - Element type is float32; tensors are dense and row-major.
 *   - Handles (nrn_context, nrn_tensor) are opaque and created/destroyed by the library.
 *     Passing NULL or an already destroyed handle gives NRN_STATUS_INVALID_HANDLE (the destroy
 *     and free functions take NULL as a no-op): a handle's value is never given out again, so it
 *     cannot come to name a newer object.
 *   - Operations are enqueued on the context's stream (CUDA) and do not synchronise the host;
 *     nrn_context_synchronize() and the blocking copies to host do.
 *   - A failed call leaves every existing tensor unchanged.
 *   - Every function may be called from any thread, its exit hooks (pthread key destructors)
 *     and atexit handlers included. Calls on one context are serialised (its stream and
 *     scratch memory are shared); a handle destroyed while another thread uses it makes that
 *     call fail with NRN_STATUS_INVALID_HANDLE or finish, never crash. The library is never
 *     unmapped: dlclose leaves it loaded (its host worker threads live with the process).
 *   - Arguments are checked, values are not: arithmetic follows IEEE 754, so a step whose
 *     values overflow (a huge learning rate, diverging training) gives infinities or NaN with
 *     NRN_STATUS_OK, and an accumulator that took an infinite error stays infinite (a NaN stays
 *     NaN) until it is reset.
 */
#ifndef NEURON_H
#define NEURON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(NEURON_BUILDING_LIBRARY)
#    define NRN_API __declspec(dllexport)
#  else
#    define NRN_API __declspec(dllimport)
#  endif
#else
#  define NRN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define NRN_VERSION_MAJOR 0
#define NRN_VERSION_MINOR 1
#define NRN_VERSION_PATCH 0

/** Largest number of dimensions a tensor can have. */
#define NRN_MAX_DIMS 4

/** Number of float32 elements of an MSE error accumulator tensor. */
#define NRN_ACCUMULATOR_SIZE 4

/** Result of every libneuron call. */
typedef enum nrn_status {
    /** The call succeeded. */
    NRN_STATUS_OK = 0,
    /** An argument is out of its range (a negative size, a non-finite learning rate, ...). */
    NRN_STATUS_INVALID_ARGUMENT = 1,
    /** Tensor shapes do not fit the operation. */
    NRN_STATUS_SHAPE_MISMATCH = 2,
    /** A host or device allocation failed, or its byte count overflows. */
    NRN_STATUS_OUT_OF_MEMORY = 3,
    /** The requested backend or device is not present (no CUDA support compiled in, no GPU, index out of range). */
    NRN_STATUS_DEVICE_UNAVAILABLE = 4,
    /** The backend reported an error (a CUDA runtime error, for instance). */
    NRN_STATUS_BACKEND_ERROR = 5,
    /** A handle is NULL or has already been destroyed. */
    NRN_STATUS_INVALID_HANDLE = 6,
    /** Tensors passed to one call belong to different contexts. */
    NRN_STATUS_CONTEXT_MISMATCH = 7,
    /** An unexpected internal failure. */
    NRN_STATUS_INTERNAL_ERROR = 8
} nrn_status;

/** The compute backend of a context. */
typedef enum nrn_backend {
    /** The host (CPU) implementation. */
    NRN_BACKEND_HOST = 0,
    /** Hand-written CUDA kernels on an NVIDIA GPU. */
    NRN_BACKEND_CUDA = 1
} nrn_backend;

/** How a gradient is written into its buffer. */
typedef enum nrn_grad_mode {
    /** The buffer is overwritten with the new gradient. */
    NRN_GRAD_OVERWRITE = 0,
    /** The new gradient is added to what the buffer holds. */
    NRN_GRAD_ACCUMULATE = 1
} nrn_grad_mode;

/** How nrn_linear_mse_sgd_train picks the batch of each step. */
typedef enum nrn_batch_order {
    /** Batches in order, 0, 1, 2, ..., wrapping around after the last one. */
    NRN_ORDER_SEQUENTIAL = 0,
    /** Each epoch visits every batch once, in an order permuted from (seed, epoch). */
    NRN_ORDER_SHUFFLE = 1,
    /** Each step draws one batch uniformly at random from (seed, step), with replacement. */
    NRN_ORDER_RANDOM = 2
} nrn_batch_order;

/** A backend instance: a device, its stream, scratch space. */
typedef struct nrn_context nrn_context;

/** A dense float32 tensor that lives on one context's device. */
typedef struct nrn_tensor nrn_tensor;

/** Properties of a CUDA device. */
typedef struct nrn_device_info {
    /** The device's name, NUL-terminated. */
    char name[256];
    /** Total device memory in bytes. */
    uint64_t total_memory;
    /** Compute capability, major part. */
    int32_t compute_major;
    /** Compute capability, minor part. */
    int32_t compute_minor;
    /** Number of streaming multiprocessors. */
    int32_t multiprocessor_count;
} nrn_device_info;

/** How the host backend computes, as chosen when the library first needs it. */
typedef struct nrn_host_properties {
    /** The instruction set of the matrix kernels, NUL-terminated: "avx512", "avx2" or "baseline"
        (the widest the CPU has, or NEURON_HOST_SIMD's choice when narrower). */
    char simd[16];
    /** The threads the host operations may use, the caller's included (NEURON_HOST_THREADS, or
        the hardware's, at most 64). */
    int32_t threads;
} nrn_host_properties;

/* ---------------------------------------------------------------------------------------
 * Library, status and errors
 * ------------------------------------------------------------------------------------- */

/** Writes the library version. Any pointer may be NULL. */
NRN_API nrn_status nrn_version(int32_t* major, int32_t* minor, int32_t* patch);

/** The message of the calling thread's last failed call, or "" when there was none. Owned by the library. */
NRN_API const char* nrn_last_error(void);

/** A short constant name for a status ("NRN_STATUS_OK", ...). Owned by the library. */
NRN_API const char* nrn_status_string(nrn_status status);

/** Writes the number of live handles (contexts, tensors and pinned host buffers) across the process. */
NRN_API nrn_status nrn_live_handle_count(int64_t* count);

/** Writes 1 when the CUDA backend was compiled into this library, else 0. */
NRN_API nrn_status nrn_cuda_compiled(int32_t* compiled);

/* ---------------------------------------------------------------------------------------
 * Devices and contexts
 * ------------------------------------------------------------------------------------- */

/** Writes the number of usable CUDA devices; 0 (and NRN_STATUS_OK) without CUDA support, a driver or a GPU. */
NRN_API nrn_status nrn_cuda_device_count(int32_t* count);

/** Writes the properties of CUDA device `device`. */
NRN_API nrn_status nrn_cuda_device_info(int32_t device, nrn_device_info* info);

/**
 * Writes how the host backend computes. NEURON_HOST_SIMD (avx512, avx2 or baseline) and
 * NEURON_HOST_THREADS (1 to 256) set other than so give NRN_STATUS_INVALID_ARGUMENT, here and
 * when a host context is created.
 */
NRN_API nrn_status nrn_host_info(nrn_host_properties* info);

/** Creates a context on `backend`; `device` is the CUDA device index (ignored for the host backend). */
NRN_API nrn_status nrn_context_create(nrn_backend backend, int32_t device, nrn_context** context);

/** Destroys a context. Its memory is released once the last tensor created on it is destroyed too. NULL is allowed. */
NRN_API nrn_status nrn_context_destroy(nrn_context* context);

/** Waits until all work enqueued on the context has finished, and reports any deferred backend error. */
NRN_API nrn_status nrn_context_synchronize(nrn_context* context);

/** Writes the backend of a context. */
NRN_API nrn_status nrn_context_backend(const nrn_context* context, nrn_backend* backend);

/** Writes the CUDA device index of a context (-1 for the host backend). */
NRN_API nrn_status nrn_context_device(const nrn_context* context, int32_t* device);

/* ---------------------------------------------------------------------------------------
 * Pinned host memory (for asynchronous copies)
 * ------------------------------------------------------------------------------------- */

/** Allocates `bytes` of host memory that the context's device can copy asynchronously (page-locked on CUDA). */
NRN_API nrn_status nrn_pinned_alloc(nrn_context* context, size_t bytes, void** memory);

/**
 * Frees memory from nrn_pinned_alloc. NULL is allowed. Its address is its handle: freeing it again
 * gives NRN_STATUS_INVALID_HANDLE only until a later nrn_pinned_alloc returns the same address.
 */
NRN_API nrn_status nrn_pinned_free(void* memory);

/* ---------------------------------------------------------------------------------------
 * Tensors
 * ------------------------------------------------------------------------------------- */

/** Creates a tensor of `ndim` (1..NRN_MAX_DIMS) dimensions, each > 0. Its contents are undefined until written. */
NRN_API nrn_status nrn_tensor_create(nrn_context* context, int32_t ndim, const int64_t* shape, nrn_tensor** tensor);

/** Creates a tensor that views rows [first_row, first_row + row_count) of `source` (its first dimension) without copying; it keeps the storage alive after `source` is destroyed. */
NRN_API nrn_status nrn_tensor_view_rows(nrn_tensor* source, int64_t first_row, int64_t row_count, nrn_tensor** view);

/** Destroys a tensor handle. NULL is allowed. */
NRN_API nrn_status nrn_tensor_destroy(nrn_tensor* tensor);

/** Writes the number of dimensions of a tensor. */
NRN_API nrn_status nrn_tensor_ndim(const nrn_tensor* tensor, int32_t* ndim);

/** Writes the tensor's shape into `shape`, which holds `capacity` elements (at least the tensor's ndim). */
NRN_API nrn_status nrn_tensor_shape(const nrn_tensor* tensor, int32_t capacity, int64_t* shape);

/** Writes the number of elements of a tensor. */
NRN_API nrn_status nrn_tensor_element_count(const nrn_tensor* tensor, int64_t* count);

/** Writes the context a tensor belongs to (not a new reference: do not destroy it). */
NRN_API nrn_status nrn_tensor_context(const nrn_tensor* tensor, nrn_context** context);

/** Sets every element to `value`. */
NRN_API nrn_status nrn_tensor_fill(nrn_context* context, nrn_tensor* tensor, float value);

/**
 * Fills with values uniform in [low, high) (all `low` when low == high), reproducible from `seed`
 * and identical on every backend. low <= high, both finite, with a finite high - low.
 */
NRN_API nrn_status nrn_tensor_fill_uniform(nrn_context* context, nrn_tensor* tensor, float low, float high, uint64_t seed);

/**
 * Fills with values from N(mean, stddev^2), reproducible from `seed` and identical on every backend
 * within float rounding. stddev >= 0, with |mean| + 8.7 stddev within float range (no value is
 * further than 8.7 stddev from the mean).
 */
NRN_API nrn_status nrn_tensor_fill_normal(nrn_context* context, nrn_tensor* tensor, float mean, float stddev, uint64_t seed);

/** Copies `count` (= the tensor's element count) floats from host memory into the tensor; returns when the copy is done. */
NRN_API nrn_status nrn_tensor_copy_from_host(nrn_context* context, nrn_tensor* tensor, const float* source, int64_t count);

/** Copies the tensor's `count` (= its element count) floats to host memory; waits for prior work and the copy. */
NRN_API nrn_status nrn_tensor_copy_to_host(nrn_context* context, const nrn_tensor* tensor, float* destination, int64_t count);

/** Enqueues a copy from host memory (from nrn_pinned_alloc for a truly asynchronous copy); `source` must stay valid until the context is synchronised. */
NRN_API nrn_status nrn_tensor_copy_from_host_async(nrn_context* context, nrn_tensor* tensor, const float* source, int64_t count);

/** Enqueues a copy to host memory (from nrn_pinned_alloc for a truly asynchronous copy); read `destination` only after synchronising. */
NRN_API nrn_status nrn_tensor_copy_to_host_async(nrn_context* context, const nrn_tensor* tensor, float* destination, int64_t count);

/** Copies all elements of `source` into `destination`; both on `context`, with equal element counts. */
NRN_API nrn_status nrn_tensor_copy(nrn_context* context, const nrn_tensor* source, nrn_tensor* destination);

/**
 * Copies all elements of `source`, on `source_context`, into `destination`, on `destination_context`
 * (equal element counts; the shapes may differ), whichever devices the two contexts are on. Between two
 * contexts it waits for the source context's prior work and returns when the copy is done: host memory
 * is copied to or from directly, and two CUDA contexts copy device to device (through host memory, by
 * the driver, between two GPUs without peer access). With one context twice it is nrn_tensor_copy.
 */
NRN_API nrn_status nrn_tensor_copy_between(nrn_context* source_context, const nrn_tensor* source, nrn_context* destination_context, nrn_tensor* destination);

/** Copies `row_count` rows from `source` (starting at `source_row`) into `destination` (starting at `destination_row`); the row sizes must match. */
NRN_API nrn_status nrn_tensor_copy_rows(nrn_context* context, const nrn_tensor* source, int64_t source_row, nrn_tensor* destination, int64_t destination_row, int64_t row_count);

/* ---------------------------------------------------------------------------------------
 * Linear layer: X (batch x in), W (in x out), b (out), Y (batch x out)
 * ------------------------------------------------------------------------------------- */

/** Y = X·W + b. `bias` may be NULL (no bias). */
NRN_API nrn_status nrn_linear_forward(nrn_context* context, const nrn_tensor* input, const nrn_tensor* weight, const nrn_tensor* bias, nrn_tensor* output);

/**
 * Gradients of Y = X·W + b given G = dJ/dY (batch x out):
 * dX = G·Wᵀ, dW = Xᵀ·G, db = column sums of G. Each of `input_grad`, `weight_grad` and
 * `bias_grad` may be NULL (not computed); `mode` chooses overwrite or accumulate for all of them.
 */
NRN_API nrn_status nrn_linear_backward(nrn_context* context, const nrn_tensor* input, const nrn_tensor* weight, const nrn_tensor* output_grad, nrn_tensor* input_grad, nrn_tensor* weight_grad, nrn_tensor* bias_grad, nrn_grad_mode mode);

/* ---------------------------------------------------------------------------------------
 * Mean squared error
 * ------------------------------------------------------------------------------------- */

/**
 * MSE of `prediction` against `target` (same shape; N = element count, batch = first dimension):
 * grad = (prediction − target)/N (when `grad` is not NULL), error = Σ(prediction − target)²/(2N)
 * written to the one-element device tensor `error` (when not NULL), and error·batch and batch
 * added to `accumulator` (an NRN_ACCUMULATOR_SIZE-element tensor, when not NULL). Nothing is read back to the host.
 */
NRN_API nrn_status nrn_mse(nrn_context* context, const nrn_tensor* prediction, const nrn_tensor* target, nrn_tensor* grad, nrn_tensor* error, nrn_tensor* accumulator);

/** Zeroes an error accumulator (a tensor of NRN_ACCUMULATOR_SIZE elements). */
NRN_API nrn_status nrn_accumulator_reset(nrn_context* context, nrn_tensor* accumulator);

/** Reads an accumulator: the batch-weighted error sum and the sample count since its reset. Synchronises the context. */
NRN_API nrn_status nrn_accumulator_read(nrn_context* context, const nrn_tensor* accumulator, double* error_sum, double* sample_count);

/* ---------------------------------------------------------------------------------------
 * SGD and fused training
 * ------------------------------------------------------------------------------------- */

/** param -= learning_rate · grad (same element count; learning_rate finite). */
NRN_API nrn_status nrn_sgd_update(nrn_context* context, nrn_tensor* param, const nrn_tensor* grad, float learning_rate);

/**
 * One SGD training step of a Linear layer with MSE cost on one batch, fused:
 * Y = X·W + b; G = (Y − T)/N; W -= lr·XᵀG; b -= lr·Σrows G (when `bias` is not NULL).
 * The error of the batch goes to `error` and `accumulator` as in nrn_mse (each may be NULL).
 * One kernel launch for small layers.
 */
NRN_API nrn_status nrn_linear_mse_sgd_step(nrn_context* context, const nrn_tensor* input, const nrn_tensor* target, nrn_tensor* weight, nrn_tensor* bias, float learning_rate, nrn_tensor* error, nrn_tensor* accumulator);

/**
 * `step_count` fused SGD steps over a data set already on the device, with no host involvement per step.
 * The rows of `input`/`target` are cut into batches of `batch_size` rows (a last, smaller batch is kept;
 * a batch_size above the row count makes one batch of all rows);
 * global step s = first_step + i (i < step_count) trains on the batch that `order` picks for s from `seed`
 * (epoch = s / batch count); first_step + step_count may not exceed INT64_MAX. After the call `error` holds the
 * last step's error; each step adds to `accumulator`.
 * Equivalent to calling nrn_linear_mse_sgd_step on each picked batch in turn.
 */
NRN_API nrn_status nrn_linear_mse_sgd_train(nrn_context* context, const nrn_tensor* input, const nrn_tensor* target, nrn_tensor* weight, nrn_tensor* bias, float learning_rate, int64_t batch_size, int64_t first_step, int64_t step_count, nrn_batch_order order, uint64_t seed, nrn_tensor* error, nrn_tensor* accumulator);

/** Writes the batch index that `order` picks for global step `step` among `batch_count` batches (the same choice nrn_linear_mse_sgd_train makes). */
NRN_API nrn_status nrn_batch_index(nrn_batch_order order, uint64_t seed, int64_t step, int64_t batch_count, int64_t* batch_index);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NEURON_H */
