// What one run of a workload reports: how much work, how long it took, and a checksum of its
// result, so that a caller can tell the same work was done everywhere
// (docs/benchmarks/overhead.md).
#pragma once

#include <cstdint>
#include <string>

namespace vessel::workload {

struct Outcome {
  std::string workload;   // cpu, mem, syscall, file, net
  double work = 0;        // in `unit`s
  std::string unit;       // iterations, MiB, calls, ...
  double seconds = 0;     // CLOCK_MONOTONIC around the work only (setup is not timed)
  uint64_t checksum = 0;  // depends on the work alone, not on where it ran
};

// One line of JSON: {"workload","work","unit","seconds","rate","checksum"} (checksum as a hex
// string: a 64-bit integer does not survive every JSON reader).
std::string to_json(const Outcome& outcome);

// "WHAT: strerror(errno)": why a workload could not run.
std::string errno_text(const std::string& what);

}  // namespace vessel::workload
