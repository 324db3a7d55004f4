// One T per calling thread, made on first use and freed when the thread ends.
#pragma once

#include <pthread.h>

#include <memory>
#include <new>

namespace nrn {

// The calling thread's T. It hangs off a pthread key rather than being a thread_local object: a
// C caller may still call the library from the thread's exit hooks (its own key destructors, an
// atexit handler), after thread-local objects are destroyed. A T made then is freed in a later
// round of key destructors, which glibc repeats while a key still holds a value.
template <class T>
T& thread_object() {
    static const pthread_key_t key = [] {
        pthread_key_t made;
        if (pthread_key_create(&made, [](void* object) { delete static_cast<T*>(object); }) != 0) throw std::bad_alloc();
        return made;
    }();
    auto* object = static_cast<T*>(pthread_getspecific(key));
    if (object == nullptr) {
        auto made = std::make_unique<T>();
        if (pthread_setspecific(key, made.get()) != 0) throw std::bad_alloc();
        object = made.release();
    }
    return *object;
}

}  // namespace nrn
