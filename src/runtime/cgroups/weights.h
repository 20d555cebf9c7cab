// The conversions from cgroup v1 weights to v2's, as runc and crun make them (the cgroupfs
// driver writes the results, the systemd driver hands them to systemd as unit properties).
#pragma once

#include <cstdint>

namespace vessel::runtime {

// cpu.shares 2..262144 -> cpu.weight 1..10000.
inline uint64_t cpu_shares_to_weight(uint64_t shares) { return 1 + ((shares - 2) * 9999) / 262142; }

// blkio.weight 10..1000 -> io.weight 1..10000.
inline uint64_t blkio_weight_to_io_weight(uint64_t weight) { return 1 + (weight - 10) * 9999 / 990; }

}  // namespace vessel::runtime
