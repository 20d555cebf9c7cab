#include "daemon/policy/cgroup_values.h"

#include <algorithm>
#include <cmath>

namespace vessel::daemon {

namespace {

using Files = std::vector<std::pair<std::string, std::string>>;

Files all_values(const CgroupPlan& p, int version) {
  auto bytes_or = [](const std::optional<uint64_t>& v, const char* none) { return v ? std::to_string(*v) : std::string(none); };
  std::string quota = p.cpu_max ? std::to_string(cpu_quota_us(*p.cpu_max)) : "";
  if (version == 2)
    return {{"cpu.weight", std::to_string(std::clamp<uint32_t>(p.cpu_weight, 1, 10000))},
            {"cpu.max", (p.cpu_max ? quota : "max") + " " + std::to_string(kCpuPeriodUs)},
            {"memory.min", std::to_string(p.memory_min)},
            {"memory.low", std::to_string(p.memory_low)},
            {"memory.high", bytes_or(p.memory_high, "max")},
            {"memory.max", bytes_or(p.memory_max, "max")}};
  // v1: shares = weight x 1024 / 100 (at least 2, the kernel's floor); soft limit for memory.low.
  uint64_t shares = std::max<uint64_t>(2, uint64_t{std::clamp<uint32_t>(p.cpu_weight, 1, 10000)} * 1024 / 100);
  return {{"cpu.shares", std::to_string(shares)},
          {"cpu.cfs_period_us", std::to_string(kCpuPeriodUs)},
          {"cpu.cfs_quota_us", p.cpu_max ? quota : "-1"},
          {"memory.soft_limit_in_bytes", p.memory_low ? std::to_string(p.memory_low) : "-1"},
          {"memory.limit_in_bytes", bytes_or(p.memory_max, "-1")}};
}

}  // namespace

uint64_t cpu_quota_us(double cpus) {
  double us = std::round(cpus * static_cast<double>(kCpuPeriodUs));
  return std::max<uint64_t>(kMinCpuQuotaUs, static_cast<uint64_t>(std::max(0.0, us)));
}

Files cgroup_values(const CgroupPlan& p, int version, bool keep_own_limits) {
  Files all = all_values(p, version);
  if (!keep_own_limits) return all;
  Files out;
  for (auto& [file, value] : all) {
    bool cpu_quota = file == "cpu.max" || file == "cpu.cfs_quota_us" || file == "cpu.cfs_period_us";
    bool mem_quota = file == "memory.max" || file == "memory.limit_in_bytes";
    if ((cpu_quota && !p.cpu_max) || (mem_quota && !p.memory_max)) continue;
    out.emplace_back(std::move(file), std::move(value));
  }
  return out;
}

}  // namespace vessel::daemon
