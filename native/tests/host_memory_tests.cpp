// Tests of the host backend's admission of large allocations (native/src/host/host_memory.cpp,
// compiled in): what counts against the memory available, and that a state that cannot be read
// refuses nothing.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "host/host_memory.h"

namespace {

using nrn::host::MemoryState;
using nrn::host::refusal;

constexpr uint64_t kGiB = uint64_t{1} << 30;

int failures = 0;

void check(bool condition, const std::string& what) {
    if (!condition) {
        std::printf("FAIL: %s\n", what.c_str());
        ++failures;
    }
}

MemoryState state(uint64_t available, uint64_t total, uint64_t resident) {
    MemoryState s;
    s.available = available;
    s.total = total;
    s.resident = resident;
    return s;
}

// 32 GiB in all keeps 1 GiB in reserve: 10 GiB available leaves 9 to take.
void what_is_available_less_the_reserve_fits() {
    const MemoryState s = state(10 * kGiB, 32 * kGiB, kGiB);
    check(refusal(9 * kGiB, 0, s).empty(), "9 GiB of 9 is admitted");
    const std::string why = refusal(9 * kGiB + 1, 0, s);
    check(!why.empty(), "a byte past it is refused");
    check(why.find("10.00 GiB available") != std::string::npos && why.find("1.00 GiB of its 32.00") != std::string::npos &&
              why.find("not yet written") == std::string::npos,
          "the refusal gives what is available and the reserve: " + why);
}

// The reserve is at most 1 GiB: a large machine can give all but that.
void the_reserve_is_at_most_one_gib() {
    const MemoryState s = state(250 * kGiB, 256 * kGiB, kGiB);
    check(refusal(249 * kGiB, 0, s).empty(), "249 GiB of 250 available is admitted");
    check(!refusal(249 * kGiB + 1, 0, s).empty(), "a byte more is not");
}

// Held tensors not yet written are promised but not yet counted as used by the system; held
// tensors the process has written are.
void held_memory_counts_only_where_it_is_not_resident() {
    // 8 GiB held, all resident (the resident set is larger): 9 GiB still fit.
    check(refusal(9 * kGiB, 8 * kGiB, state(10 * kGiB, 32 * kGiB, 8 * kGiB + kGiB / 2)).empty(),
          "held and resident memory is already counted");
    // 8 GiB held, 0.5 GiB resident: up to 7.5 GiB of the 9 are promised.
    const MemoryState s = state(10 * kGiB, 32 * kGiB, kGiB / 2);
    check(refusal(kGiB + kGiB / 2, 8 * kGiB, s).empty(), "1.5 GiB beside 7.5 promised fits");
    const std::string why = refusal(kGiB + kGiB / 2 + 1, 8 * kGiB, s);
    check(why.find("up to 7.50 GiB is promised") != std::string::npos, "the refusal gives the promised part: " + why);
    // More promised than available: nothing more fits.
    check(!refusal(1, 20 * kGiB, s).empty(), "no room left after the promises");
}

void an_unreadable_state_refuses_nothing() {
    const uint64_t unknown = MemoryState::kUnknown;
    check(refusal(SIZE_MAX, 0, state(unknown, 32 * kGiB, 0)).empty(), "available unknown");
    check(refusal(SIZE_MAX, 0, state(kGiB, unknown, 0)).empty(), "total unknown");
    check(!refusal(kGiB / 2, 4 * kGiB, state(2 * kGiB, 32 * kGiB, unknown)).empty(),
          "an unknown resident set counts every held byte as promised");
}

// This machine's state reads as sizes that make sense together.
void the_state_of_this_machine_reads() {
    const MemoryState s = nrn::host::read_memory_state();
    if (s.available == MemoryState::kUnknown) {
        std::printf("no /proc/meminfo: nothing to read\n");
        return;
    }
    check(s.total != MemoryState::kUnknown && s.available <= s.total, "available at most the total");
    check(s.resident != MemoryState::kUnknown && s.resident > 0 && s.resident < s.total, "a resident set");
}

}  // namespace

int main(int argc, char** argv) {
    const struct {
        const char* name;
        void (*function)();
    } cases[] = {
        {"what_is_available_less_the_reserve_fits", what_is_available_less_the_reserve_fits},
        {"the_reserve_is_at_most_one_gib", the_reserve_is_at_most_one_gib},
        {"held_memory_counts_only_where_it_is_not_resident", held_memory_counts_only_where_it_is_not_resident},
        {"an_unreadable_state_refuses_nothing", an_unreadable_state_refuses_nothing},
        {"the_state_of_this_machine_reads", the_state_of_this_machine_reads},
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
