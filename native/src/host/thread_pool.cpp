#include "host/thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace nrn::host {
namespace {

// Set in a child process after fork(): the pool's threads did not come along.
std::atomic<bool> forked{false};

class ThreadPool {
public:
    explicit ThreadPool(int workers) {
        pthread_atfork(nullptr, nullptr, [] { forked.store(true, std::memory_order_relaxed); });
        threads_.reserve(static_cast<size_t>(workers));
        for (int i = 0; i < workers; ++i) {
            try {
                threads_.emplace_back([this, i] { work(i + 1); });
            } catch (...) {
                break;  // no more threads (or no memory for one) to be had: run with those started
            }
        }
    }

    void run(int parts, void (*part)(void*, int), void* context) {
        std::unique_lock<std::mutex> busy(submit_, std::try_to_lock);
        const int helpers = busy.owns_lock() && !forked.load(std::memory_order_relaxed)
                                ? std::min(parts - 1, static_cast<int>(threads_.size()))
                                : 0;
        if (helpers > 0) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                part_ = part;
                context_ = context;
                helpers_ = helpers;
                pending_.store(helpers, std::memory_order_relaxed);
                generation_.fetch_add(1, std::memory_order_release);
            }
            wake_.notify_all();  // no system call when every worker is still spinning
        }
        part(context, 0);
        for (int p = helpers + 1; p < parts; ++p) part(context, p);
        if (helpers > 0) {
            if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
                std::unique_lock<std::mutex> lock(mutex_);
                done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
            }
        }
    }

private:
    // Waiting a while before sleeping: the products of a training step come one after another,
    // a few microseconds apart, and a sleeping thread takes tens of microseconds to wake (on a
    // virtual machine), as long as a small product takes. Each spin yields, so that on a
    // machine with more runnable threads than cores the spinning mostly gives way to them.
    // Only a worker that had a part in the last job spins for the next: one that had none
    // (a job of fewer parts than the pool has threads) sleeps.
    static constexpr auto kSpinTime = std::chrono::microseconds(100);

    // Whether `ready` became true within kSpinTime.
    template <class Ready>
    static bool spin_until(const Ready& ready) {
        const auto until = std::chrono::steady_clock::now() + kSpinTime;
        for (;;) {
            for (int i = 0; i < 64; ++i) {
                if (ready()) return true;
                std::this_thread::yield();
            }
            if (std::chrono::steady_clock::now() >= until) return ready();
        }
    }

    // Worker `index` (1-based) runs part `index` of every job that has that many parts.
    [[noreturn]] void work(int index) {
        uint64_t seen = 0;
        bool had_part = false;
        for (;;) {
            void (*part)(void*, int);
            void* context;
            {
                const auto published = [&] { return generation_.load(std::memory_order_acquire) != seen; };
                if (had_part) spin_until(published);
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, published);
                // The job is read under the lock that published it, with its generation: a
                // worker that missed a job it had no part in reads the newest one whole.
                seen = generation_.load(std::memory_order_relaxed);
                had_part = index <= helpers_;
                if (!had_part) continue;
                part = part_;
                context = context_;
            }
            part(context, index);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                // Under the lock, so that a caller between its check and its wait still hears it.
                std::lock_guard<std::mutex> lock(mutex_);
                done_.notify_one();
            }
        }
    }

    std::mutex submit_;  // one job at a time
    std::mutex mutex_;   // guards the job below; generation_ and pending_ are also read without it
    std::condition_variable wake_, done_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    int helpers_ = 0;
    void (*part_)(void*, int) = nullptr;
    void* context_ = nullptr;
    std::vector<std::thread> threads_;
};

}  // namespace

int requested_threads() {
    const char* text = std::getenv("NEURON_HOST_THREADS");
    if (text == nullptr || *text == '\0') return 0;
    // Digits only: strtol alone would also take leading spaces and a sign.
    if (*text < '0' || *text > '9') return -1;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    return *end == '\0' && value >= 1 && value <= 256 ? static_cast<int>(value) : -1;
}

int max_threads() {
    static const int threads = [] {
        if (const int requested = requested_threads(); requested > 0) return requested;
        const unsigned hardware = std::thread::hardware_concurrency();
        return hardware == 0 ? 1 : static_cast<int>(std::min(hardware, 64u));
    }();
    return threads;
}

void run_parts(int parts, void (*part)(void* context, int index), void* context) {
    if (parts <= 1) {
        if (parts == 1) part(context, 0);
        return;
    }
    // Never destroyed: its workers wait for work until the process ends, and a destructor run
    // at exit could join them while another thread still calls into the library.
    static ThreadPool* const pool = new ThreadPool(max_threads() - 1);
    pool->run(parts, part, context);
}

}  // namespace nrn::host
