// linux.resources as systemd unit properties (the D-Bus names and types systemd.resource-control(5)
// documents), mapped as runc and crun map them. systemd writes these itself and rewrites them on
// every daemon-reload, so a limit it knows must reach it as a property; the systemd driver then
// writes every resource to the delegated cgroup files as well (exact values, and the resources
// systemd has no property for).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

// A D-Bus (sv) pair: b, t, s, ay or au.
struct UnitProperty {
  using Value = std::variant<bool, uint64_t, std::string, std::vector<uint8_t>, std::vector<uint32_t>>;
  std::string name;
  Value value;
  bool operator==(const UnitProperty&) const = default;
};

// systemd's "infinity" for the t-typed limits.
inline constexpr uint64_t kSystemdInfinity = UINT64_MAX;

// The properties for `r`. `unified`: the host is pure cgroup v2 (CPUWeight, IOWeight,
// AllowedCPUs... exist only there; a v1 or hybrid host gets CPUShares instead).
Result<std::vector<UnitProperty>> resource_properties(const Resources& r, bool unified);

// A cpuset list ("0-3,8") as systemd's AllowedCPUs/AllowedMemoryNodes bit mask: bit N of byte N/8.
Result<std::vector<uint8_t>> cpuset_bitmask(std::string_view list);

}  // namespace vessel::runtime
