// vessel cp for VMs (docs/daemon/cp.md#how-it-works): tar out of and into a running VM, through
// its vessel-agent's tree operations (docs/vmm/agent.md#trees), on the VM's vsock socket `uds`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace vessel::daemon {

// The guest's `guest_path` (a file or a tree) as a tar (pax) written to `out_fd`, its top entry
// named `top`; at most `max_bytes` of file data (EFBIG beyond) and 1 048 576 entries (E2BIG).
Result<void> vm_tar_out(const std::string& uds, const std::string& guest_path, bool follow,
                        const std::string& top, uint64_t max_bytes, int out_fd);

// Unpacks `tar` into the existing guest directory `guest_dir`: files, directories and symbolic
// links (anything else: ENOTSUP); `owners`: the archive's uid/gid, else the agent's (root).
// Returns the agent's count of entries and bytes.
Result<std::pair<uint64_t, uint64_t>> vm_tar_in(const std::string& uds,
                                                const std::string& guest_dir, std::string_view tar,
                                                bool owners);

}  // namespace vessel::daemon
