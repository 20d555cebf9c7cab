// A workload trace for `vessel policy simulate` (docs/daemon/policy-simulate.md): a pool and
// the instances that arrive in it, change their demand and leave, at given times. A client's
// text: every field is checked, and the trace's size is bounded.
//
//   {"pool": {"cpus": 1, "memory_mib": 1024, "policy": "proportional", "hard": false},
//    "step_ms": 100, "duration_ms": 10000, "gain": 0.5,
//    "events": [
//      {"at_ms": 0, "arrive": "a", "share": 1, "priority": 0, "demand_cpus": 1, "sla_cpus": 0.2,
//       "quota_cpus": 0.5, "min_cpus": 0, "max_cpus": 1, "memory_mib": 256},
//      {"at_ms": 2000, "demand": "a", "demand_cpus": 0.1},
//      {"at_ms": 5000, "leave": "a"}]}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/policy/allocation.h"

namespace vessel::daemon {

inline constexpr size_t kMaxTraceEvents = 100000;
inline constexpr uint64_t kMaxTraceSteps = 1000000;

struct TraceEvent {
  enum class Kind { Arrive, Demand, Leave } kind = Kind::Arrive;
  uint64_t at_ms = 0;
  PoolMember member;                 // Arrive: the whole member; Demand: name and demand only
  std::optional<double> sla_cpus;    // Arrive: the CPUs it must get each step (a miss otherwise)
};

struct Trace {
  PoolShape pool;
  uint64_t step_ms = 100;
  uint64_t duration_ms = 0;  // the last event plus one step when not given
  DemandTuning tuning;
  std::vector<TraceEvent> events;  // in time order (stable for equal times)
};

Result<Trace> parse_trace(std::string_view text);

}  // namespace vessel::daemon
