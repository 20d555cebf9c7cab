// Live migration through vesseld (docs/daemon/migrate.md): the request bodies and answers that
// cross between a client, the source vesseld and the destination vesseld, parsed and validated
// before anything acts on them. Pure: no I/O. Fuzzed by tests/fuzz/daemon_migrate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/spec/spec.h"

namespace vessel::daemon {

// Where a VM goes. Today: another vesseld on this host, reached on its Unix socket; `local`: a
// fresh vessel-vmm under this same vesseld (a live re-spawn, e.g. onto an upgraded binary).
struct Destination {
  enum class Kind { Vesseld, Local } kind = Kind::Vesseld;
  std::string socket;  // Vesseld: the absolute path of its API socket
  // As given back in answers and events: "unix:/run/b/vessel.sock" or "local".
  std::string text() const { return kind == Kind::Local ? "local" : "unix:" + socket; }
};

// "unix:/abs/path", "/abs/path" (a socket path) or "local". https:// remotes are refused with a
// hint (not built yet), anything else is EINVAL.
Result<Destination> parse_destination(std::string_view text);

// POST /v1/instances/{name}/migrate {"destination", "downtime_ms", "max_rounds"}.
struct MigrateRequest {
  Destination destination;
  uint32_t downtime_ms = 50;  // the pause vessel-vmm aims for (1..60000)
  uint32_t max_rounds = 16;   // dirty rounds before it pauses anyway (0..1000)
};
Result<MigrateRequest> parse_migrate_request(std::string_view body);
// The same route for a clustered instance (docs/cluster.md#drain-and-migrate): {"node": NAME},
// the node to move it to ("" when absent or the body is empty: the placement's choice).
Result<std::string> parse_cluster_move_request(std::string_view body);
json::Json to_json(const MigrateRequest& r);

// POST /v1/migrations {"spec": {...}} on the destination: the instance to receive. Only VMs
// without a network interface (the tap is not handed over yet).
Result<InstanceSpec> parse_incoming_request(std::string_view body);

// The destination's answer: where its vessel-vmm listens for the stream. A `unix:` URL whose
// path is absolute (a socket in the destination instance's run directory, on this host).
struct IncomingAnswer {
  std::string name;
  std::string url;
  std::string socket;  // the path of `url`
};
Result<IncomingAnswer> parse_incoming_answer(std::string_view body);

// Can the VM's disks (what it boots from: DiskSpecs as prepared in `instance_dir`) migrate? Only
// disks outside the instance's directory (shared storage, the same path on both sides; a
// writable one's image lock is handed over at the pause by vessel-vmm): a disk vesseld made in
// the instance's directory would need block migration, which is not built. The error names it.
Result<void> check_migratable_disks(const std::string& name, const std::vector<DiskSpec>& disks,
                                    const std::string& instance_dir);

// Can this spec be migrated at all? (a VM, no network interface); the error names the reason.
Result<void> check_migratable_spec(const InstanceSpec& spec);

}  // namespace vessel::daemon
