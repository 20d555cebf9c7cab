// What a named snapshot of a VM is on disk (docs/daemon/snapshots.md):
// INSTANCE/snapshots/SNAP/snapshot.json (this), and with memory vm.state + vm.mem (a Full
// vessel-vmm snapshot); its disks are layers under INSTANCE/disks/layers/ (disk_layers.h).
// snapshot.json is written last: a directory without it is an unfinished snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

struct SnapshotDisk {
  std::string top;    // the disk's top file, where the VM reads and writes it
  std::string layer;  // the snapshot's frozen layer of it
};

struct SnapshotMeta {
  std::string name;
  int64_t created = 0;   // unix seconds
  bool memory = false;   // vm.state and vm.mem beside it (the VM runs on from the instant)
  std::vector<SnapshotDisk> disks;
};

json::Json to_json(const SnapshotMeta& m);
// Parses snapshot.json; `dir` (INSTANCE) bounds every path in it.
Result<SnapshotMeta> snapshot_meta_from_json(const json::Json& j, const std::string& dir);

// A snapshot name a client may give: 1-63 of [A-Za-z0-9_.-], not starting with '.' or '-'
// (so never "..", never a path).
Result<void> check_snapshot_name(const std::string& name);
// snapN with the lowest N not in `taken` (from 0, as incus).
std::string default_snapshot_name(const std::vector<std::string>& taken);

}  // namespace vessel::daemon
