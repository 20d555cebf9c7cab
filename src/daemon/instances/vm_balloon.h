// A VM's memory balloon as vesseld drives it (docs/daemon/pools.md): the device vessel-vmm gets at
// start for `--balloon`, and, on a running VM, its target and actual size with the guest's
// statistics (GET /balloon/statistics) and a new target (PATCH /balloon). The `demand`
// controller reads and sets it; `vessel inspect` and `pool inspect` show it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "daemon/spec/balloon_spec.h"
#include "vmm/api/vm_config.h"  // vmm::BalloonConfig

namespace vessel::daemon {

// The device's configuration (PUT /balloon before InstanceStart): empty at start.
vmm::BalloonConfig balloon_config(const BalloonSpec& spec);

struct BalloonReading {
  uint64_t target_mib = 0;
  uint64_t actual_mib = 0;
  // The guest's figures (bytes), once its driver sent statistics.
  std::optional<uint64_t> total_memory, available_memory, free_memory;
};

// GET /balloon/statistics of the VM in `instance_dir` (GET /balloon before the first figures).
Result<BalloonReading> read_balloon(const std::string& instance_dir);
// PATCH /balloon {"amount_mib"}.
Result<void> set_balloon_target(const std::string& instance_dir, uint64_t mib);
json::Json to_json(const BalloonReading& b);

}  // namespace vessel::daemon
