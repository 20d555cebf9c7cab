// Firecracker's balloon resource (docs/vmm/balloon.md): the device's configuration as PUT /balloon
// and the config file's "balloon" section give it, and the bodies of PATCH /balloon and PATCH
// /balloon/statistics. Parsed with field-naming errors; part of vessel_vmm_config (base only).
#pragma once

#include <cstdint>

#include "base/error.h"
#include "base/json.h"

namespace vessel::vmm {

struct BalloonConfig {
  uint32_t amount_mib = 0;                // target size of the balloon
  bool deflate_on_oom = false;            // VIRTIO_BALLOON_F_DEFLATE_ON_OOM
  uint32_t stats_polling_interval_s = 0;  // 0: no statistics queue (VIRTIO_BALLOON_F_STATS_VQ)
  bool free_page_reporting = false;       // VIRTIO_BALLOON_F_REPORTING
};

// Firecracker takes a u16 for the interval; a day is plenty.
inline constexpr uint32_t kMaxStatsPollingIntervalS = 86400;
inline constexpr uint32_t kMaxBalloonMib = 64 * 1024;  // kMaxMemMib

json::Json to_json(const BalloonConfig& b);
// PUT /balloon, "balloon" in a config file: amount_mib and deflate_on_oom are required.
Result<BalloonConfig> parse_balloon(const json::Json& j);
// PATCH /balloon: {"amount_mib": N}.
Result<uint32_t> parse_balloon_update(const json::Json& j);
// PATCH /balloon/statistics: {"stats_polling_interval_s": N}.
Result<uint32_t> parse_balloon_stats_update(const json::Json& j);
// The balloon fits the machine: its target is not above guest RAM, and guest RAM is not hugetlbfs
// (a 4 KiB balloon page cannot be given back out of a 2 MiB page).
Result<void> check_balloon(const BalloonConfig& b, uint64_t mem_size_mib, bool huge_pages);

}  // namespace vessel::vmm
