// The body of POST /v1/instances/{name}/snapshots (docs/daemon/snapshots.md):
// {"name": "SNAP", "memory": true}, both optional.
#pragma once

#include <string>

#include "base/error.h"

namespace vessel::daemon {

struct SnapshotRequest {
  std::string name;     // empty: vesseld picks snapN
  bool memory = true;   // false: the disks only (a stopped VM's snapshot has no memory anyway)
};

Result<SnapshotRequest> parse_snapshot_request(const std::string& body);

}  // namespace vessel::daemon
