// Fuzz target: a workload trace, as a client sends it to POST /v1/policy/simulate
// (docs/daemon/policy-simulate.md). What parses is simulated under its own policy and under each
// other one; no member may be reported using more CPU than the pool has or than it asked for.
// Traces longer than a few thousand steps are only parsed: vesseld bounds the work, the fuzzer
// needs speed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/policy/sim_trace.h"
#include "daemon/policy/simulator.h"

namespace {

using namespace vessel::daemon;

void check(const Trace& trace, const SimReport& report) {
  for (const auto& m : report.members) {
    if (m.used_cpus > trace.pool.size.cpus + 1e-6) __builtin_trap();
    if (m.used_cpus > m.demand_cpus + 1e-6) __builtin_trap();
    if (m.steps > report.steps) __builtin_trap();
  }
  if (!(report.jain >= 0 && report.jain <= 1 + 1e-9)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto trace = parse_trace(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!trace) return 0;
  if (trace->duration_ms / trace->step_ms * (trace->events.size() + 1) > 20000) return 0;
  for (auto policy : {PolicyKind::Fixed, PolicyKind::Proportional, PolicyKind::Priority, PolicyKind::Demand}) {
    auto report = simulate(*trace, policy);
    if (report) check(*trace, *report);
  }
  return 0;
}
