#include "host/host_memory.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nrn::host {
namespace {

constexpr uint64_t kUnknown = MemoryState::kUnknown;

// The value of `key` ("MemAvailable:") in /proc/meminfo's "key  value kB" lines, in bytes.
uint64_t meminfo_bytes(const std::string& text, const char* key) {
    const size_t at = text.find(key);
    if (at == std::string::npos) return kUnknown;
    unsigned long long kib = 0;
    if (std::sscanf(text.c_str() + at + std::strlen(key), "%llu", &kib) != 1) return kUnknown;
    return static_cast<uint64_t>(kib) * 1024;
}

std::string read_text(const char* path) {
    std::ifstream file(path);
    if (!file) return {};
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

// A whole number in the file, or kUnknown ("max", missing, unreadable).
uint64_t read_number(const char* path) {
    unsigned long long value = 0;
    const std::string text = read_text(path);
    return std::sscanf(text.c_str(), "%llu", &value) == 1 ? static_cast<uint64_t>(value) : kUnknown;
}

// The value of the "key value" line in a cgroup's memory.stat, or 0.
uint64_t stat_value(const std::string& text, const std::string& key) {
    std::istringstream lines(text);
    std::string name;
    unsigned long long value = 0;
    while (lines >> name >> value) {
        if (name == key) return value;
    }
    return 0;
}

struct CgroupMemory {
    uint64_t limit = kUnknown;
    uint64_t used = 0;  // less the file pages it may drop
};

// The memory cgroup of a container, as mounted at /sys/fs/cgroup: version 2's memory.max, or
// version 1's memory.limit_in_bytes (no limit reads as "max", or as a number near 2^63).
CgroupMemory read_cgroup() {
    CgroupMemory cgroup;
    uint64_t usage = read_number("/sys/fs/cgroup/memory.current");
    if (usage != kUnknown) {
        cgroup.limit = read_number("/sys/fs/cgroup/memory.max");
        const uint64_t inactive = stat_value(read_text("/sys/fs/cgroup/memory.stat"), "inactive_file");
        cgroup.used = usage - std::min(usage, inactive);
        return cgroup;
    }
    usage = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    if (usage != kUnknown) {
        const uint64_t limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        if (limit < (uint64_t{1} << 62)) cgroup.limit = limit;
        const uint64_t inactive =
            stat_value(read_text("/sys/fs/cgroup/memory/memory.stat"), "total_inactive_file");
        cgroup.used = usage - std::min(usage, inactive);
    }
    return cgroup;
}

std::string gib(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f GiB", static_cast<double>(bytes) / (1u << 30));
    return text;
}

}  // namespace

MemoryState read_memory_state() {
    MemoryState state;
    const std::string meminfo = read_text("/proc/meminfo");
    const uint64_t available = meminfo_bytes(meminfo, "MemAvailable:");
    const uint64_t total = meminfo_bytes(meminfo, "MemTotal:");
    const uint64_t swap_free = meminfo_bytes(meminfo, "SwapFree:");
    const uint64_t swap_total = meminfo_bytes(meminfo, "SwapTotal:");
    if (available != kUnknown && total != kUnknown) {
        state.available = available + (swap_free == kUnknown ? 0 : swap_free);
        state.total = total + (swap_total == kUnknown ? 0 : swap_total);
    }
    const CgroupMemory cgroup = read_cgroup();
    if (cgroup.limit != kUnknown) {
        state.total = std::min(state.total, cgroup.limit);
        state.available = std::min(state.available, cgroup.limit - std::min(cgroup.limit, cgroup.used));
    }
    unsigned long long pages = 0, resident_pages = 0;
    const std::string statm = read_text("/proc/self/statm");
    if (std::sscanf(statm.c_str(), "%llu %llu", &pages, &resident_pages) == 2) {
        state.resident = static_cast<uint64_t>(resident_pages) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    }
    return state;
}

std::string refusal(size_t bytes, uint64_t held, const MemoryState& state) {
    if (state.available == kUnknown || state.total == kUnknown) return {};
    const uint64_t resident = state.resident == kUnknown ? 0 : state.resident;
    const uint64_t not_resident = held - std::min(held, resident);
    const uint64_t reserve = std::min(state.total / 32, kMaxReserveBytes);
    const uint64_t room = state.available - std::min(state.available, reserve);
    if (not_resident <= room && bytes <= room - not_resident) return {};
    std::string why = gib(bytes) + "; the system has " + gib(state.available) + " available";
    if (not_resident > 0) why += ", of which up to " + gib(not_resident) + " is promised to host tensors not yet written";
    return why + ", and " + gib(reserve) + " of its " + gib(state.total) + " is kept for the rest of the system";
}

}  // namespace nrn::host
