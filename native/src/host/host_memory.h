// Host memory the host backend may still take. Linux grants allocations it cannot back
// (overcommit) and ends the process when their pages are first written, so an allocation
// checked only by posix_memalign can pass and the fill after it kill the process. The host
// backend asks admit() first, and refuses what cannot fit with NRN_STATUS_OUT_OF_MEMORY.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nrn::host {

// What the system can give this process now, in bytes; each field is kUnknown where it cannot
// be read (no /proc, another operating system).
struct MemoryState {
    static constexpr uint64_t kUnknown = UINT64_MAX;
    // MemAvailable + SwapFree (/proc/meminfo), or less under a cgroup limit: its limit less
    // its usage (the page cache it may drop, inactive_file, not counted as used).
    uint64_t available = kUnknown;
    // The memory the process may use in all: MemTotal + SwapTotal, or the cgroup limit.
    uint64_t total = kUnknown;
    // The process's resident set (/proc/self/statm).
    uint64_t resident = kUnknown;
};

MemoryState read_memory_state();

// Whether `bytes` more can be allocated when `held` bytes of host tensors are live: the bytes,
// and the part of `held` not yet resident (at most `held` less the process's resident set,
// which the system has not counted as used), must fit in what is available less a reserve for
// the rest of the system (1/32 of the total, at most kMaxReserveBytes). Empty when they fit,
// else why not, for the error. The host backend serialises its checked allocations, so that each
// check counts the ones admitted before it.
std::string refusal(size_t bytes, uint64_t held, const MemoryState& state);

constexpr uint64_t kMaxReserveBytes = uint64_t{1} << 30;

// Allocations from this size up are checked; smaller ones are left to posix_memalign. Reading
// /proc costs tens of microseconds, and a layer's memory is in its few large tensors, so the
// check is where one fill can take what is left; many small tensors can still exhaust memory.
constexpr size_t kCheckedAllocationBytes = size_t{16} << 20;

}  // namespace nrn::host
