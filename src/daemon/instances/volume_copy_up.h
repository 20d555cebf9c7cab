// Docker's copy-up: a volume that is empty when its container starts gets a copy of what the image
// has at the volume's target (its files, owners and modes), so `VOLUME /data` over an image's
// /data, or a new named volume over /etc/app, shows the image's files instead of hiding them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "daemon/spec/mount_spec.h"

namespace vessel::daemon {

// `rootfs`: the container's mounted root (the image's files); `mounts`: resolve_mounts' answer;
// `scratch_dir`: where the copy's temporary archive lives (the instance's directory).
Result<void> copy_image_files_into_empty_volumes(const std::string& rootfs,
                                                 const std::vector<std::pair<MountSpec, std::string>>& mounts,
                                                 const std::string& scratch_dir);

}  // namespace vessel::daemon
