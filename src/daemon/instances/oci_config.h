// The OCI runtime spec (config.json) vesseld writes for a container: runc's defaults (namespaces,
// mounts, masked paths, capabilities) plus the instance's command, environment and limits.
#pragma once

#include "base/json.h"
#include "daemon/instances/backend.h"
#include "daemon/instances/container_user.h"

namespace vessel::daemon {

// The process a container runs: `args` as `user`, in the spec's working directory (else the
// image's, else /); the image's environment overlaid by the spec's.
json::Json oci_process(const InstanceSpec& spec, const BootSource& boot, const std::vector<std::string>& args,
                       const ContainerUser& user);
// `user`: the spec's -u or the image's USER, resolved (container_user.h).
json::Json oci_config(const InstanceContext& ctx, const BootSource& boot, const ContainerUser& user);
// --init (Docker's): `init_binary` bind-mounted read-only at /dev/init runs the command as its
// child. An empty `init_binary` (vesseld found no vessel-init) is an error that says so.
Result<void> add_init(json::Json& config, const std::string& init_binary);
// What `exec` runs: `argv` with the running container's own process settings (its config.json),
// a terminal when `tty` (and TERM=xterm when the environment has no TERM).
json::Json exec_process(const InstanceContext& ctx, const std::vector<std::string>& argv, bool tty);

}  // namespace vessel::daemon
