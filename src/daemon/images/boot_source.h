// What an instance boots from: the image store's answer for its spec (ImageStore::resolve), with
// a VM's disks prepared for it (prepare_instance_disks). Handed to the backends.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/images/vm_disks.h"
#include "daemon/spec/disk_spec.h"
#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

struct BootSource {
  std::vector<std::string> layers;  // containers: overlay lower dirs, lowest first
  std::vector<std::string> image_entrypoint, image_cmd;  // containers: the image's ENTRYPOINT and CMD
  std::string image_user;                               // containers: the image's USER
  std::vector<std::string> image_env;      // KEY=VALUE
  std::string workdir;
  std::string kernel, initramfs, cmdline;  // VMs
  std::vector<DiskSpec> disks;         // VMs: what vessel-vmm opens (see prepare_instance_disks)
  std::vector<BaseDisk> base_disks;    // VMs: the image's read-only bases
  std::optional<HealthcheckSpec> image_healthcheck;  // containers: the image's HEALTHCHECK (health.md)
  std::vector<std::string> image_volumes;  // containers: the image's VOLUMEs (volumes.md)
};

}  // namespace vessel::daemon
