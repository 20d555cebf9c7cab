// What a node says about itself in etcd (docs/cluster.md#keys), and how it is read back.
//
//   /vessel/nodes/NAME     its record: address, capacity, labels (kept when it dies)
//   /vessel/alive/NAME     its readiness, on its lease: gone within a TTL of its death
//   /vessel/cordoned/NAME  present while the node is cordoned (no new placements)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cluster {

inline constexpr const char* kNodesPrefix = "/vessel/nodes/";
inline constexpr const char* kAlivePrefix = "/vessel/alive/";
inline constexpr const char* kCordonedPrefix = "/vessel/cordoned/";

struct NodeInfo {
  std::string name;
  std::string advertise;  // where other nodes reach its API (vesseld --advertise)
  std::map<std::string, std::string> labels;
  double cpus = 0;
  uint64_t memory_mib = 0;
  std::string version;    // vesseld's
  std::string joined;     // RFC 3339, when this vesseld joined
  // Its TLS identity when it serves --listen (docs/cluster.md#forwarding): other nodes pin its
  // public key when they call an https:// address, and admit its certificate as a peer's.
  std::string tls_pubkey_sha256;  // SHA-256 of the public key (SPKI DER), hex
  std::string tls_cert_sha256;    // SHA-256 of the certificate (DER), hex
};

// A node as the cluster sees it now.
struct NodeStatus {
  NodeInfo info;
  bool ready = false;     // its lease is alive and it says it is ready
  bool cordoned = false;
  int64_t lease = 0;      // 0 when not alive
};

// Node names are DNS labels (1-63 of [a-z0-9-], not starting or ending with '-'): they are keys
// and may become host names.
Result<void> check_node_name(const std::string& name);
// "k=v,k2=v2" (vesseld --labels); keys and values of [A-Za-z0-9._/-], keys non-empty.
Result<std::map<std::string, std::string>> parse_labels(const std::string& text);

json::Json node_info_json(const NodeInfo& info);
Result<NodeInfo> parse_node_info(std::string_view text);
json::Json node_status_json(const NodeStatus& status);

}  // namespace vessel::cluster
