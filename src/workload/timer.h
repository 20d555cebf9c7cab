// CLOCK_MONOTONIC in seconds, for timing the work only.
#pragma once

#include <time.h>

namespace vessel::workload {

inline double now_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace vessel::workload
