// An instance's spec: what a client asks for in POST /v1/instances, fully validated before any
// side effect (parse, then process). VMs and containers share one model.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/rotating_log.h"
#include "daemon/spec/balloon_spec.h"
#include "daemon/spec/disk_spec.h"
#include "daemon/spec/mount_spec.h"
#include "daemon/spec/pool_membership.h"
#include "daemon/spec/port_spec.h"
#include "daemon/spec/process_spec.h"
#include "daemon/spec/restart_spec.h"
#include "daemon/spec/security_spec.h"
#include "vmm/api/watchdog_config.h"

namespace vessel::daemon {

enum class InstanceType { Vm, Container };
std::string_view to_string(InstanceType t);

struct InstanceSpec {
  std::string name;
  InstanceType type = InstanceType::Container;
  std::string image;      // a name in the image store (vessel image ls)
  std::string rootfs;     // containers: a host directory used as the read-only lower layer
  std::string kernel;     // VMs: kernel and initramfs paths (instead of an image)
  std::string initramfs;
  std::string cmdline;
  uint32_t cpus = 1;                 // limit: vCPUs (VM) or CPU quota in whole CPUs (container)
  double cpu_reservation = 0;        // admission: CPUs reserved (default: cpu_quota, else cpus)
  std::optional<double> cpu_quota;   // containers: CPU time in CPUs, below cpus (Docker's --cpus 0.5)
  uint32_t cpu_weight = 100;         // relative CPU weight, 1..10000
  uint64_t memory_mib = 256;         // limit
  uint64_t memory_reservation_mib = 0;  // admission (default: memory_mib)
  uint32_t stop_timeout_s = 10;      // graceful stop, then forced
  std::vector<DiskSpec> disks;
  std::vector<MountSpec> mounts;  // containers: binds, named volumes, tmpfs (docs/daemon/volumes.md)
  std::map<std::string, std::string> environment;
  std::vector<std::string> command;
  ProcessSpec process;  // containers: --entrypoint, -w, -u, --hostname
  std::map<std::string, std::string> labels;
  SecuritySpec security;  // containers: capabilities, seccomp, pids limit
  // The console / output log's cap (base/rotating_log.h); unset: vesseld's default at each start.
  std::optional<LogLimits> log;
  // docs/daemon/networks.md: a network's name, "none" (loopback only) or "host"; empty in a
  // request means vesseld's default network, which the stored spec then names.
  std::string network;
  std::vector<PortSpec> ports;  // -p: published ports (bridge networks only)
  bool ksm = false;  // VMs: guest RAM marked mergeable for KSM (docs/vmm/memory.md)
  std::optional<BalloonSpec> balloon;  // VMs: a virtio-balloon (--balloon; docs/daemon/pools.md)
  // VMs: an IB700 watchdog and what its expiry does (docs/vmm/watchdog.md); none: no watchdog.
  std::optional<vmm::WatchdogAction> watchdog;
  std::optional<PoolMembership> pool;  // docs/daemon/pools.md: none = no pool
  RestartPolicy restart;                       // --restart (docs/daemon/restart.md)
  std::optional<HealthcheckSpec> healthcheck;  // --health-cmd ... (docs/daemon/health.md)
  bool no_healthcheck = false;                 // --no-healthcheck: also ignore the image's HEALTHCHECK
  bool auto_remove = false;  // --rm: removed once it stops (docs/daemon/run.md)
};

inline constexpr size_t kMaxNameLength = 63;

// Names: 1..63 of [A-Za-z0-9_.-], starting with a letter or digit ("../x" is refused).
Result<void> validate_name(std::string_view name);
// An image's name: a plain name (validate_name) or a registry reference of an image pulled or
// tagged ("localhost:5000/team/app:1.0", "docker.io/library/busybox@sha256:..."); the full
// grammar is checked where references are parsed (images/image_reference.h).
Result<void> validate_image_name(std::string_view name);

// {"KEY": "value"}: at most 256 entries, keys 1..256 bytes without '=', values at most 4096
// bytes (environments and labels).
Result<std::map<std::string, std::string>> parse_string_map(const json::Json& j, std::string_view where);

// Parses and validates a spec; unknown fields and absurd sizes are refused with the field named.
Result<InstanceSpec> parse_spec(const json::Json& body);
Result<InstanceSpec> parse_spec_text(std::string_view text);

json::Json to_json(const InstanceSpec& spec);

}  // namespace vessel::daemon
