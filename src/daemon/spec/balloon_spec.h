// A VM's memory balloon (docs/daemon/pools.md, docs/vmm/balloon.md): `vessel run --vm --balloon`,
// in the spec as {"balloon": {"deflate_on_oom": true, "stats_polling_interval_s": 1,
// "free_page_reporting": true}} (Firecracker's field names; all optional, these are the
// defaults). vesseld gives the VM a virtio-balloon at start; in a `demand` pool the controller
// sizes the VM's memory from the guest's statistics and inflates or deflates the balloon.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

struct BalloonSpec {
  bool deflate_on_oom = true;          // the guest's OOM path takes pages back from the balloon
  uint32_t stats_interval_s = 1;       // the guest's statistics every N s (1..60): the controller's input
  bool free_page_reporting = true;     // pages the guest frees go back to the host
  friend bool operator==(const BalloonSpec&, const BalloonSpec&) = default;
};

inline constexpr uint32_t kMaxBalloonStatsIntervalS = 60;

// Unknown fields and an interval outside 1..60 are refused with the field named.
Result<BalloonSpec> parse_balloon_spec(const json::Json& j);
json::Json to_json(const BalloonSpec& b);

}  // namespace vessel::daemon
