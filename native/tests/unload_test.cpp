// Loading, using and unloading the library (dlopen, host products, dlclose) several times in one
// process. The host backend's worker threads live as long as the process and run the library's
// code between jobs, so the library must stay mapped after dlclose (it is linked -z nodelete).
// Last, an atexit handler registered before the first dlopen (as a .NET or Python process has
// them) makes and frees a large host tensor: it runs after the library's own static objects are
// destroyed, so the library must keep none that its calls use (memcheck or ASan report a use).
// With a second argument `cuda` the same runs on the CUDA backend (for the CUDA emulator's build,
// whose runtime must keep what those calls use as well).
#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>

#include "neuron.h"

namespace {

nrn_backend g_backend = NRN_BACKEND_HOST;

template <class F>
F resolve(void* library, const char* name) {
    void* symbol = dlsym(library, name);
    if (symbol == nullptr) std::fprintf(stderr, "dlsym(%s): %s\n", name, dlerror());
    return reinterpret_cast<F>(symbol);
}

// One product of 200000 x 64 by 64 x 1, every handle released after it.
bool use(void* library) {
    auto context_create = resolve<decltype(&nrn_context_create)>(library, "nrn_context_create");
    auto context_destroy = resolve<decltype(&nrn_context_destroy)>(library, "nrn_context_destroy");
    auto tensor_create = resolve<decltype(&nrn_tensor_create)>(library, "nrn_tensor_create");
    auto tensor_destroy = resolve<decltype(&nrn_tensor_destroy)>(library, "nrn_tensor_destroy");
    auto tensor_fill = resolve<decltype(&nrn_tensor_fill)>(library, "nrn_tensor_fill");
    auto linear_forward = resolve<decltype(&nrn_linear_forward)>(library, "nrn_linear_forward");
    if (!context_create || !context_destroy || !tensor_create || !tensor_destroy || !tensor_fill || !linear_forward) {
        return false;
    }
    nrn_context* context = nullptr;
    nrn_tensor *x = nullptr, *w = nullptr, *y = nullptr;
    const int64_t x_shape[] = {200000, 64}, w_shape[] = {64, 1}, y_shape[] = {200000, 1};
    const bool ok = context_create(g_backend, 0, &context) == NRN_STATUS_OK &&
                    tensor_create(context, 2, x_shape, &x) == NRN_STATUS_OK &&
                    tensor_create(context, 2, w_shape, &w) == NRN_STATUS_OK &&
                    tensor_create(context, 2, y_shape, &y) == NRN_STATUS_OK &&
                    tensor_fill(context, x, 1.0f) == NRN_STATUS_OK && tensor_fill(context, w, 0.5f) == NRN_STATUS_OK &&
                    linear_forward(context, x, w, nullptr, y) == NRN_STATUS_OK;
    tensor_destroy(y);
    tensor_destroy(w);
    tensor_destroy(x);
    context_destroy(context);
    return ok;
}

// The calls of the atexit handler, resolved while the library was open (it stays mapped after its dlclose).
struct AtExitCalls {
    decltype(&nrn_context_create) context_create = nullptr;
    decltype(&nrn_context_destroy) context_destroy = nullptr;
    decltype(&nrn_tensor_create) tensor_create = nullptr;
    decltype(&nrn_tensor_destroy) tensor_destroy = nullptr;
    decltype(&nrn_tensor_fill) tensor_fill = nullptr;
    decltype(&nrn_linear_forward) linear_forward = nullptr;
} g_at_exit;

// 16 MiB: a block the host backend aligns to a huge page and counts by address; then the product
// use() makes (on the CUDA backend, a launch of a kernel that ran before).
void use_at_exit() {
    const AtExitCalls& c = g_at_exit;
    nrn_context* context = nullptr;
    nrn_tensor *large = nullptr, *x = nullptr, *w = nullptr, *y = nullptr;
    const int64_t shape[] = {int64_t{1} << 22}, x_shape[] = {200000, 64}, w_shape[] = {64, 1}, y_shape[] = {200000, 1};
    const bool ok = c.context_create && c.context_destroy && c.tensor_create && c.tensor_destroy && c.tensor_fill &&
                    c.linear_forward && c.context_create(g_backend, 0, &context) == NRN_STATUS_OK &&
                    c.tensor_create(context, 1, shape, &large) == NRN_STATUS_OK &&
                    c.tensor_fill(context, large, 1.0f) == NRN_STATUS_OK && c.tensor_destroy(large) == NRN_STATUS_OK &&
                    c.tensor_create(context, 2, x_shape, &x) == NRN_STATUS_OK &&
                    c.tensor_create(context, 2, w_shape, &w) == NRN_STATUS_OK &&
                    c.tensor_create(context, 2, y_shape, &y) == NRN_STATUS_OK &&
                    c.linear_forward(context, x, w, nullptr, y) == NRN_STATUS_OK && c.tensor_destroy(y) == NRN_STATUS_OK &&
                    c.tensor_destroy(w) == NRN_STATUS_OK && c.tensor_destroy(x) == NRN_STATUS_OK &&
                    c.context_destroy(context) == NRN_STATUS_OK;
    if (!ok) {
        std::fprintf(stderr, "a call from an atexit handler failed\n");
        _exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && std::string(argv[2]) != "cuda")) {
        std::fprintf(stderr, "usage: %s path/to/libneuron.so [cuda]\n", argv[0]);
        return 2;
    }
    if (argc == 3) g_backend = NRN_BACKEND_CUDA;
    std::atexit(use_at_exit);
    for (int round = 1; round <= 3; ++round) {
        void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (library == nullptr) {
            std::fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        if (!use(library)) {
            std::fprintf(stderr, "round %d: a call failed\n", round);
            return 1;
        }
        g_at_exit = {resolve<decltype(&nrn_context_create)>(library, "nrn_context_create"),
                     resolve<decltype(&nrn_context_destroy)>(library, "nrn_context_destroy"),
                     resolve<decltype(&nrn_tensor_create)>(library, "nrn_tensor_create"),
                     resolve<decltype(&nrn_tensor_destroy)>(library, "nrn_tensor_destroy"),
                     resolve<decltype(&nrn_tensor_fill)>(library, "nrn_tensor_fill"),
                     resolve<decltype(&nrn_linear_forward)>(library, "nrn_linear_forward")};
        if (dlclose(library) != 0) {
            std::fprintf(stderr, "dlclose: %s\n", dlerror());
            return 1;
        }
        usleep(200000);  // the workers' spin after the last job, and more, with the library closed
    }
    std::printf("loaded, used and unloaded 3 times\n");
    // A context and a tensor left for the exit, as a process that ends without freeing them leaves
    // them: the library's tables still hold them when its static objects would be destroyed.
    nrn_context* context = nullptr;
    nrn_tensor* left = nullptr;
    const int64_t shape[] = {int64_t{1} << 22};
    if (g_at_exit.context_create(g_backend, 0, &context) != NRN_STATUS_OK ||
        g_at_exit.tensor_create(context, 1, shape, &left) != NRN_STATUS_OK) {
        std::fprintf(stderr, "the tensor left for the exit could not be made\n");
        return 1;
    }
    return 0;
}
