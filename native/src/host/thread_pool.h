// The host backend's worker threads: started on first use and kept for the life of the
// process, so that splitting an operation across threads costs a wake-up, not a thread start
// (tens of microseconds each, and fresh stack pages to fault in).
#pragma once

namespace nrn::host {

// Threads the host kernels may use, the caller's included: NEURON_HOST_THREADS when set
// (1 to 256), otherwise the hardware's (at most 64).
int max_threads();

// What NEURON_HOST_THREADS asks for: 0 when it is unset or empty, -1 when it is not a whole
// number from 1 to 256 (check_settings in host_kernels.h refuses that), else the number.
int requested_threads();

// Runs part(context, p) for every p in [0, parts), the caller taking part 0 and the pool's
// workers the others, and returns when all are done. `part` must not throw. When the pool is
// busy with another caller's work (another context on another thread), or has fewer workers
// than parts, the caller runs the parts left over itself: the parts are the same either way.
void run_parts(int parts, void (*part)(void* context, int index), void* context);

}  // namespace nrn::host
