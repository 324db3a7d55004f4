// Tests of the host backend's thread pool (native/src/host/thread_pool.cpp, compiled in):
// every part of a job runs exactly once, helpers on threads of their own, with concurrent
// callers, after idle gaps (workers spinning or asleep), with a caller asleep until its helpers
// finish, and in a child process after fork().
// CTest runs them with NEURON_HOST_THREADS=4.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host/thread_pool.h"

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
    if (!condition) {
        std::printf("FAIL: %s\n", what.c_str());
        ++failures;
    }
}

struct Job {
    std::vector<std::atomic<int>> runs;
    std::mutex mutex;
    std::set<std::thread::id> threads;
    explicit Job(int parts) : runs(static_cast<size_t>(parts)) {}

    static void part(void* context, int index) {
        auto& job = *static_cast<Job*>(context);
        job.runs[static_cast<size_t>(index)].fetch_add(1);
        std::lock_guard<std::mutex> lock(job.mutex);
        job.threads.insert(std::this_thread::get_id());
    }

    bool each_ran_once() const {
        for (const auto& r : runs)
            if (r.load() != 1) return false;
        return true;
    }
};

void each_part_runs_once_on_its_own_thread() {
    const int threads = nrn::host::max_threads();
    check(threads == 4, "NEURON_HOST_THREADS=4 gives 4 threads, got " + std::to_string(threads));
    for (int parts = 1; parts <= threads + 3; ++parts) {
        Job job(parts);
        nrn::host::run_parts(parts, &Job::part, &job);
        check(job.each_ran_once(), std::to_string(parts) + " parts: each runs exactly once");
        // Parts up to the pool's size go to distinct threads; the caller runs the rest.
        const size_t expected = static_cast<size_t>(std::min(parts, threads));
        check(job.threads.size() == expected, std::to_string(parts) + " parts ran on " +
                                                  std::to_string(job.threads.size()) + " threads, expected " +
                                                  std::to_string(expected));
    }
}

void concurrent_callers_each_get_all_their_parts() {
    std::atomic<int> bad{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) {
        callers.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                Job job(4);
                nrn::host::run_parts(4, &Job::part, &job);
                if (!job.each_ran_once()) bad.fetch_add(1);
            }
        });
    }
    for (auto& t : callers) t.join();
    check(bad.load() == 0, std::to_string(bad.load()) + " of 2000 concurrent jobs lost or repeated a part");
}

// Jobs at gaps around the workers' spin time (100 µs): some find them spinning, some asleep,
// some just going to sleep, which is where a missed wake-up would hang or lose a part.
void jobs_after_idle_gaps_get_all_their_parts() {
    const int gaps_us[] = {0, 1, 20, 90, 100, 110, 150, 400, 2000};
    int bad = 0, jobs = 0;
    for (int round = 0; round < 20; ++round) {
        for (int gap : gaps_us) {
            std::this_thread::sleep_for(std::chrono::microseconds(gap));
            Job job(4);
            nrn::host::run_parts(4, &Job::part, &job);
            ++jobs;
            if (!job.each_ran_once() || job.threads.size() != 4) ++bad;
        }
    }
    check(bad == 0, std::to_string(bad) + " of " + std::to_string(jobs) +
                        " jobs after an idle gap lost or repeated a part, or ran on fewer than 4 threads");
}

// Helpers' parts that outlast the caller's spin (100 µs): the caller sleeps until the last
// helper tells it, which a lost notification would turn into a hang.
void a_caller_waiting_past_its_spin_is_woken() {
    for (int round = 0; round < 20; ++round) {
        Job job(4);
        nrn::host::run_parts(4, [](void* context, int index) {
            if (index > 0) std::this_thread::sleep_for(std::chrono::microseconds(300 + 100 * index));
            Job::part(context, index);
        }, &job);
        check(job.each_ran_once(), "round " + std::to_string(round) + ": each of 4 slow parts runs once");
    }
}

void a_forked_child_runs_the_parts_itself() {
    Job warm(4);
    nrn::host::run_parts(4, &Job::part, &warm);  // the pool's workers exist before the fork
    const pid_t child = fork();
    if (child == 0) {
        alarm(20);  // a hang (waiting for workers the child does not have) fails, not blocks
        Job job(4);
        nrn::host::run_parts(4, &Job::part, &job);
        _exit(job.each_ran_once() && job.threads.size() == 1 ? 0 : 1);
    }
    int status = 0;
    check(child > 0 && waitpid(child, &status, 0) == child, "fork and wait");
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child runs all 4 parts on its own thread (status " + std::to_string(status) + ")");
}

}  // namespace

int main(int argc, char** argv) {
    const struct {
        const char* name;
        void (*function)();
    } cases[] = {
        {"each_part_runs_once_on_its_own_thread", each_part_runs_once_on_its_own_thread},
        {"concurrent_callers_each_get_all_their_parts", concurrent_callers_each_get_all_their_parts},
        {"jobs_after_idle_gaps_get_all_their_parts", jobs_after_idle_gaps_get_all_their_parts},
        {"a_caller_waiting_past_its_spin_is_woken", a_caller_waiting_past_its_spin_is_woken},
        {"a_forked_child_runs_the_parts_itself", a_forked_child_runs_the_parts_itself},
    };
    int run = 0;
    for (const auto& c : cases) {
        if (argc > 1 && std::strcmp(argv[1], c.name) != 0) continue;
        ++run;
        const int before = failures;
        c.function();
        std::printf("[ %s ] %s\n", failures == before ? " OK " : "FAIL", c.name);
    }
    if (run == 0) {
        std::printf("no test named %s\n", argc > 1 ? argv[1] : "");
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
