// The calling thread's last failure message, as record_failure() writes it and nrn_last_error()
// reads it (api_errors.h).
#include "api_errors.h"

#include <cstddef>
#include <cstdio>
#include <cstring>

namespace nrn::detail {

namespace {

// The calling thread's last failure message: a plain array, not a std::string. It has no
// destructor, so it stays usable for the thread's whole life, including the exit hooks that run
// after thread-local objects are destroyed (pthread key destructors, atexit handlers), from
// which C callers release what they hold. A longer message is cut, ending in "...".
constexpr size_t kMessageCapacity = 4096;
thread_local char last_error_message[kMessageCapacity];

}  // namespace

nrn_status record_failure(nrn_status status, const char* operation, const char* message) noexcept {
    // Backends report without the operation's name; the API's own messages start with it.
    const size_t length = std::strlen(operation);
    const bool named = std::strncmp(message, operation, length) == 0 && message[length] == ':';
    const int written = named ? std::snprintf(last_error_message, kMessageCapacity, "%s", message)
                              : std::snprintf(last_error_message, kMessageCapacity, "%s: %s", operation, message);
    if (written >= static_cast<int>(kMessageCapacity)) std::memcpy(last_error_message + kMessageCapacity - 4, "...", 4);
    return status;
}

const char* last_failure_message() noexcept { return last_error_message; }

}  // namespace nrn::detail
