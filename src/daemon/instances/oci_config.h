// The OCI runtime spec (config.json) vesseld writes for a container: runc's defaults (namespaces,
// mounts, masked paths, capabilities) plus the instance's command, environment and limits.
#pragma once

#include "base/json.h"
#include "daemon/instances/backend.h"

namespace vessel::daemon {

// The process a container runs: the spec's command, else the image's; the image's environment
// overlaid by the spec's.
json::Json oci_process(const InstanceSpec& spec, const BootSource& boot, const std::vector<std::string>& args);
json::Json oci_config(const InstanceContext& ctx, const BootSource& boot);

}  // namespace vessel::daemon
