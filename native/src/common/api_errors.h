// Error reporting of the C API: every entry point runs its body inside guard(), which turns any
// exception into a status and records the message for nrn_last_error(), per thread.
#pragma once

#include <exception>
#include <new>

#include "backend.h"
#include "neuron.h"

namespace nrn::detail {

// Records `message` as the calling thread's last failure, prefixed with the operation's name
// unless it already starts with it, and returns `status`.
nrn_status record_failure(nrn_status status, const char* operation, const char* message) noexcept;

// The calling thread's last failure message ("" when there was none), for nrn_last_error().
const char* last_failure_message() noexcept;

// Runs `body` and returns NRN_STATUS_OK, or the status of the exception it threw (nrn::Error's
// own, NRN_STATUS_OUT_OF_MEMORY for std::bad_alloc, NRN_STATUS_INTERNAL_ERROR for anything
// else) with its message recorded: no exception leaves the library.
template <class Body>
nrn_status guard(const char* operation, Body&& body) noexcept {
    try {
        body();
        return NRN_STATUS_OK;
    } catch (const Error& e) {
        return record_failure(e.status(), operation, e.what());
    } catch (const std::bad_alloc&) {
        return record_failure(NRN_STATUS_OUT_OF_MEMORY, operation, "out of host memory");
    } catch (const std::exception& e) {
        return record_failure(NRN_STATUS_INTERNAL_ERROR, operation, e.what());
    } catch (...) {
        return record_failure(NRN_STATUS_INTERNAL_ERROR, operation, "unknown internal error");
    }
}

}  // namespace nrn::detail
