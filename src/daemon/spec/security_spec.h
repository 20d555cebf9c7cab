// What a container may do, as a client asks for it (Docker's flag names and semantics): the
// capabilities added to or dropped from the default set, --privileged, --security-opt, the
// pids limit and the user namespace (podman's --userns=host|auto). Parsed and checked here; oci_config.cc turns it into config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

// vesseld's default pids limit (podman's; Docker has none). 0 means no limit.
inline constexpr int64_t kDefaultPidsLimit = 2048;

// host: the container's root is the host's root (Docker's default). auto: a private range of
// kUsernsSize host ids from vesseld's pool (docs/daemon/userns.md), podman's --userns=auto.
enum class UsernsMode { Host, Auto };
inline constexpr uint32_t kUsernsSize = 65536;

struct SecuritySpec {
  bool privileged = false;               // every capability, no seccomp filter, every device
  std::vector<std::string> cap_add;      // "CAP_NET_ADMIN" or "ALL", normalized
  std::vector<std::string> cap_drop;
  bool seccomp_unconfined = false;       // --security-opt seccomp=unconfined
  bool no_new_privileges = false;        // --security-opt no-new-privileges
  int64_t pids_limit = kDefaultPidsLimit;  // 0: no limit
  UsernsMode userns = UsernsMode::Host;  // --userns
  bool custom() const;                   // anything but the defaults
};

// Docker's default capabilities without CAP_MKNOD (docs/daemon/README.md#container-defaults).
const std::vector<std::string>& default_capabilities();
// Every capability this build knows, CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40).
const std::vector<std::string>& all_capabilities();

// "net_admin", "NET_ADMIN", "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "all" -> "ALL"; else EINVAL.
Result<std::string> normalize_capability(const std::string& name, std::string_view where);

// The container's capabilities: Docker's TweakCapabilities (privileged: all; ALL in cap_add: all
// but the drops; ALL in cap_drop: only the adds; else the defaults minus drops plus adds).
std::vector<std::string> container_capabilities(const SecuritySpec& s);

// Reads the fields privileged, cap_add, cap_drop, security_opt, pids_limit, userns of a spec body.
Result<SecuritySpec> parse_security(const json::Json& body);
void security_to_json(const SecuritySpec& s, json::Json& j);

}  // namespace vessel::daemon
