#include "daemon/policy/demand_estimate.h"

#include <algorithm>
#include <cmath>

namespace vessel::daemon {

namespace {

constexpr uint64_t kBytesPerMiB = 1ull << 20;

// A guest's figures are the guest's to report: never more available than total, nor a balloon
// larger than total when it is counted in it.
uint64_t guest_used(const GuestMemory& g) {
  uint64_t available = std::min(g.available, g.total);
  uint64_t used = g.total - available;
  if (g.balloon_in_total) used -= std::min(used, g.balloon);
  return used;
}

double cpu_demand(const MemberUsage& u, double allocated, const EstimateTuning& t) {
  double wanted = u.cpus_used + u.cpus_waiting.value_or(0.0);
  double demand = std::max(t.cpu_floor, wanted * (1 + t.cpu_headroom));
  if (!u.cpus_waiting && allocated > 0 && u.cpus_used >= t.at_limit * allocated) demand = std::max(demand, 2 * allocated);
  return demand;
}

uint64_t memory_demand(const MemberUsage& u, uint64_t allocated, const EstimateTuning& t) {
  uint64_t held = u.memory_bytes;
  bool pressed = false;
  if (u.guest) {
    held = u.guest->overhead + guest_used(*u.guest);
    pressed = u.guest->available < u.guest->total / 8;
  } else if (u.memory_stalled) {
    pressed = *u.memory_stalled >= t.pressure;
  } else {
    pressed = allocated > 0 && static_cast<double>(held) >= t.at_limit * static_cast<double>(allocated);
  }
  auto headroom = std::max<uint64_t>(t.memory_headroom_min, static_cast<uint64_t>(t.memory_headroom * static_cast<double>(held)));
  return held + (pressed ? 2 : 1) * headroom;
}

}  // namespace

std::optional<MemberUsage> usage_between(const UsageCounters& before, const UsageCounters& now) {
  if (now.at <= before.at || now.cpu_ns < before.cpu_ns) return std::nullopt;
  double elapsed_s = std::chrono::duration<double>(now.at - before.at).count();
  MemberUsage u;
  u.cpus_used = static_cast<double>(now.cpu_ns - before.cpu_ns) / 1e9 / elapsed_s;
  if (now.cpu_wait_us && before.cpu_wait_us && *now.cpu_wait_us >= *before.cpu_wait_us)
    u.cpus_waiting = static_cast<double>(*now.cpu_wait_us - *before.cpu_wait_us) / 1e6 / elapsed_s;
  if (now.memory_stall_us && before.memory_stall_us && *now.memory_stall_us >= *before.memory_stall_us)
    u.memory_stalled = std::min(1.0, static_cast<double>(*now.memory_stall_us - *before.memory_stall_us) / 1e6 / elapsed_s);
  u.memory_bytes = now.memory_bytes;
  u.guest = now.guest;
  return u;
}

Resources estimate_demand(const MemberUsage& usage, const Resources& allocation, const EstimateTuning& tuning) {
  return {cpu_demand(usage, allocation.cpus, tuning), memory_demand(usage, allocation.memory_bytes, tuning)};
}

uint64_t balloon_target_mib(uint64_t guest_mib, uint64_t allocation_bytes, uint64_t overhead_bytes, uint64_t floor_mib) {
  uint64_t for_guest = allocation_bytes > overhead_bytes ? (allocation_bytes - overhead_bytes) / kBytesPerMiB : 0;
  uint64_t keep = std::min(guest_mib, std::max(for_guest, floor_mib));
  return guest_mib - keep;
}

}  // namespace vessel::daemon
