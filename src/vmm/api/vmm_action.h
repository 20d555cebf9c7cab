// What the API thread asks the VMM thread to do: each HTTP request is parsed (and its body
// validated) on the API thread into one typed action, then sent to the thread that owns the VM
// configuration and the Machine (src/vmm/vmm.h), like Firecracker's VmmAction.
#pragma once

#include <optional>
#include <variant>

#include "base/error.h"
#include "base/version.h"
#include "base/json.h"
#include "vmm/api/vm_config.h"
#include "vmm/migration/token.h"

namespace vessel::vmm {

inline constexpr const char* kVmmVersion = kVersion;

namespace action {
struct GetInstanceInfo {};                 // GET /
struct GetMachineConfig {};                // GET /machine-config
struct SetMachineConfig {                  // PUT or PATCH /machine-config: the fields given
  std::optional<uint32_t> vcpu_count;
  std::optional<uint64_t> mem_size_mib;
  std::optional<bool> track_dirty_pages, ksm;
  std::optional<HugePages> huge_pages;
};
struct SetBootSource { BootSource boot; };  // PUT /boot-source
struct PutDrive { DriveConfig drive; };     // PUT /drives/{id}
struct EnableEntropy {};                    // PUT /entropy
struct PutVsock { VsockDeviceConfig vsock; };  // PUT /vsock
struct PatchDrive {                          // PATCH /drives/{id}: a running VM's limiter
  std::string drive_id;
  std::optional<RateLimiterPatch> rate_limiter;
  // vessel extension: the drive's backing-file allowlist from now on (its next open: a restart,
  // or a load of a snapshot taken after this; vesseld's named snapshots, docs/daemon/snapshots.md).
  std::optional<std::vector<std::string>> backing_files;
};
struct PutNetworkInterface { NetworkInterfaceConfig net; };  // PUT /network-interfaces/{id}
struct PatchNetworkInterface {               // PATCH /network-interfaces/{id}
  std::string iface_id;
  std::optional<RateLimiterPatch> rx_rate_limiter, tx_rate_limiter;
};
struct InstanceStart {};                    // PUT /actions
struct SendCtrlAltDel {};
struct FlushMetrics {};
struct SetVmState { bool paused; };         // PATCH /vm
struct GetVmConfig {};                      // GET /vm/config
struct GetMetrics {};                       // GET /metrics
struct CreateSnapshot {                     // PUT /snapshot/create
  std::string snapshot_path, mem_file_path;
  bool diff = false;                        // snapshot_type Diff
};
struct LoadSnapshot {                       // PUT /snapshot/load
  std::string snapshot_path, mem_file_path;  // with `uffd`: the page-fault handler's socket
  bool uffd = false;                         // mem_backend Uffd (docs/vmm/uffd.md)
  bool resume_vm = false;
  bool enable_diff_snapshots = false;
};
struct SendMigration {                      // PUT /migration/send (docs/vmm/migration.md)
  std::string destination_url;
  uint32_t downtime_ms = 50;
  uint32_t max_rounds = 16;
  std::optional<migration::Token> token = std::nullopt;  // the receiver's
};
struct ReceiveMigration {                   // PUT /migration/receive
  std::string receiver_url;
  std::optional<migration::Token> token = std::nullopt;  // what the sender must send first
};
struct PutBalloon { BalloonConfig balloon; };   // PUT /balloon (docs/vmm/balloon.md)
struct PatchBalloon { uint32_t amount_mib; };   // PATCH /balloon
struct GetBalloon {};                           // GET /balloon
struct PatchBalloonStats { uint32_t stats_polling_interval_s; };  // PATCH /balloon/statistics
struct GetBalloonStats {};                      // GET /balloon/statistics
struct PutWatchdog { WatchdogConfig watchdog; };  // PUT /watchdog (docs/vmm/watchdog.md)
struct GetWatchdog {};                            // GET /watchdog
}  // namespace action

using VmmAction = std::variant<action::GetInstanceInfo, action::GetMachineConfig, action::SetMachineConfig,
                               action::SetBootSource, action::PutDrive, action::EnableEntropy,
                               action::InstanceStart, action::SendCtrlAltDel, action::FlushMetrics,
                               action::SetVmState, action::GetVmConfig, action::GetMetrics, action::PutVsock,
                               action::PatchDrive, action::PutNetworkInterface, action::PatchNetworkInterface,
                               action::CreateSnapshot, action::LoadSnapshot, action::SendMigration,
                               action::ReceiveMigration, action::PutBalloon, action::PatchBalloon,
                               action::GetBalloon, action::PatchBalloonStats, action::GetBalloonStats,
                               action::PutWatchdog, action::GetWatchdog>;

// The answer: a JSON document (200), nothing (204), or an error (400 with its message).
using VmmReply = Result<std::optional<json::Json>>;

}  // namespace vessel::vmm
