// `vessel policy simulate`: a workload trace replayed, step by step, through the very allocation
// code vesseld applies to its pools (allocation.h), with a model of what each member then gets.
//
// Each step: the trace's events up to now (an arrival the pool refuses, as admit_member() would,
// is counted and dropped); allocate(); then the CPU each member uses. Weights lend idle CPU as
// cgroups do: the pool's CPUs are water-filled by cpu.weight, each member capped at its demand and
// at its quota (cpu.max) when the plan has one. docs/daemon/policy-simulate.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/policy/sim_trace.h"

namespace vessel::daemon {

struct SimMember {
  std::string name;
  double share = 1;
  uint64_t arrived_ms = 0;
  std::optional<uint64_t> left_ms;
  bool refused = false;   // the pool did not admit it
  std::string refusal;
  uint64_t steps = 0;     // steps it was in the pool
  double allocated_cpus = 0;   // mean A_i
  double memory_bytes = 0;     // mean memory allocation
  double used_cpus = 0;        // mean CPU it got
  double demand_cpus = 0;      // mean CPU it wanted
  uint64_t waiting_ms = 0;     // time it got less than it wanted
  uint64_t sla_misses = 0;     // steps below its sla_cpus
};

struct SimReport {
  PolicyKind policy = PolicyKind::Proportional;
  uint64_t steps = 0;
  std::vector<SimMember> members;  // in order of arrival
  // Jain's fairness index over each admitted member's mean CPU per unit of share: 1 when every
  // member gets exactly its share's worth, 1/n at the worst.
  double jain = 1;
};

// `policy`: replaces the trace's (the same trace under another policy).
Result<SimReport> simulate(const Trace& trace, std::optional<PolicyKind> policy = std::nullopt);

json::Json to_json(const SimReport& report);

}  // namespace vessel::daemon
