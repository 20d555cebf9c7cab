// Which host paths a client may make vesseld read or write (docs/daemon/remote.md#host-paths): a
// container's rootfs, a VM's kernel, initramfs and disks, an image's archive, kernel, initramfs
// and disks. An admin (the Unix socket, or a TLS certificate with the admin role) may name any
// path, as before. Anyone else only paths under one of vesseld's --allowed-host-path prefixes
// (none by default), checked after resolving the path (realpath: no symlink or ".." leads out);
// the resolved path is what vesseld then uses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/api/requests.h"
#include "daemon/api/roles.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

class HostPathPolicy {
 public:
  HostPathPolicy() = default;
  // Each prefix must be absolute; it is resolved once here when it exists.
  static Result<HostPathPolicy> create(const std::vector<std::string>& prefixes);

  // `path` as vesseld should use it: unchanged for an admin; else resolved, and refused (EPERM)
  // unless it is a prefix or below one. `field` names it in the error ("spec.rootfs").
  Result<std::string> admit(const std::string& path, Role role, std::string_view field) const;
  // Every host path in a spec or an image request, rewritten to what admit() returned.
  Result<void> admit(InstanceSpec& spec, Role role) const;
  Result<void> admit(ImageRequest& request, Role role) const;
  const std::vector<std::string>& prefixes() const { return prefixes_; }

 private:
  std::vector<std::string> prefixes_;  // resolved, without a trailing '/' (except "/")
};

}  // namespace vessel::daemon
