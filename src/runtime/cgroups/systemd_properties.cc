#include "runtime/cgroups/systemd_properties.h"

#include <charconv>

#include "runtime/cgroups/weights.h"

namespace vessel::runtime {

namespace {

constexpr unsigned kMaxCpusetIndex = 8192;  // the kernel's NR_CPUS ceiling

Result<unsigned> cpuset_number(std::string_view text, std::string_view list) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v >= kMaxCpusetIndex)
    return fail(EINVAL, "\"{}\" is not a cpu or memory node list such as 0-3,8", list);
  return v;
}

// "max" or a byte count from linux.resources.unified.
Result<uint64_t> unified_bytes(const std::string& key, const std::string& value) {
  if (value == "max") return kSystemdInfinity;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size())
    return fail(EINVAL, "linux.resources.unified: {}: \"{}\" is not a number of bytes or \"max\"", key, value);
  return v;
}

uint64_t limit_or_infinity(int64_t v) { return v < 0 ? kSystemdInfinity : static_cast<uint64_t>(v); }

void memory_properties(const MemoryResources& m, bool unified, std::vector<UnitProperty>& out) {
  if (m.limit && *m.limit != 0) out.push_back({"MemoryMax", limit_or_infinity(*m.limit)});
  if (!unified) return;
  if (m.reservation && *m.reservation > 0) out.push_back({"MemoryLow", static_cast<uint64_t>(*m.reservation)});
  if (m.swap && *m.swap != 0) {
    // OCI's swap is memory+swap; v2 (and systemd) count swap alone.
    int64_t swap = *m.swap;
    if (swap > 0 && m.limit && *m.limit > 0) swap = swap > *m.limit ? swap - *m.limit : 0;
    out.push_back({"MemorySwapMax", limit_or_infinity(swap)});
  }
}

Result<void> cpu_properties(const CpuResources& c, bool unified, std::vector<UnitProperty>& out) {
  if (c.shares && *c.shares >= 2) {
    if (unified) out.push_back({"CPUWeight", cpu_shares_to_weight(*c.shares)});
    else out.push_back({"CPUShares", *c.shares});
  }
  if (c.quota && *c.quota > 0) {
    // systemd keeps the quota as CPU time per second, in steps of 10 ms (rounded up, as runc).
    uint64_t period = c.period.value_or(100000);
    uint64_t per_sec = static_cast<uint64_t>(*c.quota) * 1000000 / period;
    if (per_sec % 10000) per_sec = (per_sec / 10000 + 1) * 10000;
    out.push_back({"CPUQuotaPerSecUSec", per_sec});
    out.push_back({"CPUQuotaPeriodUSec", period});
  } else if (c.quota && *c.quota < 0) {
    out.push_back({"CPUQuotaPerSecUSec", kSystemdInfinity});
  }
  if (!unified) return {};
  if (!c.cpus.empty()) out.push_back({"AllowedCPUs", TRY_CTX(cpuset_bitmask(c.cpus), "linux.resources.cpu.cpus")});
  if (!c.mems.empty()) out.push_back({"AllowedMemoryNodes", TRY_CTX(cpuset_bitmask(c.mems), "linux.resources.cpu.mems")});
  return {};
}

}  // namespace

Result<std::vector<uint8_t>> cpuset_bitmask(std::string_view list) {
  std::vector<uint8_t> mask;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string_view item = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t dash = item.find('-');
    unsigned lo = TRY(cpuset_number(item.substr(0, dash), list));
    unsigned hi = dash == std::string_view::npos ? lo : TRY(cpuset_number(item.substr(dash + 1), list));
    if (hi < lo) return fail(EINVAL, "\"{}\": the range {} runs backwards", list, item);
    if (mask.size() < hi / 8 + 1) mask.resize(hi / 8 + 1);
    for (unsigned i = lo; i <= hi; ++i) mask[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return mask;
}

Result<std::vector<UnitProperty>> resource_properties(const Resources& r, bool unified) {
  std::vector<UnitProperty> out;
  if (r.memory) memory_properties(*r.memory, unified, out);
  if (r.cpu) TRY(cpu_properties(*r.cpu, unified, out));
  if (r.pids_limit && *r.pids_limit != 0) out.push_back({"TasksMax", limit_or_infinity(*r.pids_limit > 0 ? *r.pids_limit : -1)});
  if (unified && r.block_io && r.block_io->weight && *r.block_io->weight >= 10)
    out.push_back({"IOWeight", blkio_weight_to_io_weight(*r.block_io->weight)});
  if (!unified) return out;
  // The unified keys systemd has a property for; the others are only written to their files.
  for (const auto& [key, property] : {std::pair{"memory.high", "MemoryHigh"}, std::pair{"memory.low", "MemoryLow"},
                                      std::pair{"memory.min", "MemoryMin"}, std::pair{"memory.max", "MemoryMax"}}) {
    auto it = r.unified.find(key);
    if (it != r.unified.end()) out.push_back({property, TRY(unified_bytes(key, it->second))});
  }
  return out;
}

}  // namespace vessel::runtime
