// The layers of an instance's qcow2 disk, for named snapshots (docs/daemon/snapshots.md). A VM
// writes the top file of each of its disks (INSTANCE/disks/image-N.qcow2 or disk-N.qcow2, a path
// that never changes); a snapshot *freezes* it: the top is renamed to a read-only layer under
// INSTANCE/disks/layers/ and a new, empty top backed by that layer takes its place. Restoring a
// snapshot replaces the top with a new empty one backed by the snapshot's layer, so the layer is
// never written and one snapshot restores any number of times.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

// The files below `image` in its backing chain, nearest first (absolute names as the images
// record them, relative ones resolved as QEMU does); empty for a raw image or a qcow2 without a
// backing file. At most 64 deep.
Result<std::vector<std::string>> backing_chain(const std::string& image);

// The virtual size of a qcow2 image, from its header.
Result<uint64_t> qcow2_virtual_size(const std::string& image);

// Freezes `top` (a qcow2 no process has open) into `layer` (its directory is made): the file is
// renamed, made read-only (0444), and `top` becomes a new qcow2 of the same size backed by it.
// On error nothing has changed.
Result<void> freeze_disk(const std::string& top, const std::string& layer);

// Undoes freeze_disk(): the new top is removed and the layer is the top again (0600).
Result<void> unfreeze_disk(const std::string& top, const std::string& layer);

// `top` becomes a new empty qcow2 of the layer's size backed by `layer` (whatever it held is
// gone); made beside it and renamed over it, so a failure leaves the old top.
Result<void> reset_top(const std::string& top, const std::string& layer);

// Of `layers` (the files under INSTANCE/disks/layers), those nothing names any more: not in
// `needed` (every file of every chain still in use). Pure.
std::vector<std::string> unneeded_layers(const std::vector<std::string>& layers, const std::vector<std::string>& needed);

}  // namespace vessel::daemon
