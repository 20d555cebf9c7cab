// Host capacity and admission control: an instance is admitted when the sum of reservations,
// its own included, stays within capacity x overcommit ratio (defaults: CPU 4.0, memory 1.0).
// A refusal says the numbers, so the user can see how far off it is.
#pragma once

#include <cstdint>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

struct Capacity {
  double cpus = 0;          // online CPUs
  uint64_t memory_mib = 0;  // MemTotal
};

struct Overcommit {
  double cpu = 4.0;
  double memory = 1.0;
};

struct Reservation {
  double cpus = 0;
  uint64_t memory_mib = 0;
};

// Reads the host's CPUs (sysconf) and memory (/proc/meminfo).
Result<Capacity> discover_capacity();

// EAGAIN with the numbers when `wanted` does not fit beside `existing`.
Result<void> admit(const Capacity& capacity, const Overcommit& ratio, const std::vector<Reservation>& existing,
                   const Reservation& wanted);

}  // namespace vessel::daemon
