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

// Where a VM goes: another vesseld on this host, reached on its Unix socket; another host's
// vesseld, reached on its TLS API (its public key pinned, this vesseld's identity as the client
// certificate); `local`: a fresh vessel-vmm under this same vesseld (not built).
struct Destination {
  enum class Kind { Vesseld, Remote, Local } kind = Kind::Vesseld;
  std::string socket;  // Vesseld: the absolute path of its API socket
  std::string url;     // Remote: https://HOST:PORT
  std::string host;    // Remote: HOST ([...] removed for IPv6)
  std::string pubkey_sha256;  // Remote: the SHA-256 of its public key, hex (its server.fingerprint)
  // As given back in answers and events: "unix:/run/b/vessel.sock", "https://HOST:PORT" or "local".
  std::string text() const { return kind == Kind::Local ? "local" : kind == Kind::Remote ? url : "unix:" + socket; }
};

// "unix:/abs/path", "/abs/path" (a socket path), "https://HOST:PORT" (the pin is set apart) or
// "local"; anything else is EINVAL.
Result<Destination> parse_destination(std::string_view text);

// How the memory goes to another host: through the two vesselds' TLS connection (encrypted and
// authenticated as the API is), or from vessel-vmm to vessel-vmm over plain TCP (faster, in the
// clear: a network one trusts).
enum class MigrationStream { Tls, Tcp };

// POST /v1/instances/{name}/migrate {"destination", "destination_pubkey_sha256" (https:// only,
// required there), "stream" ("tls" or "tcp", https:// only; tls when absent), "downtime_ms",
// "max_rounds"}.
struct MigrateRequest {
  Destination destination;
  MigrationStream stream = MigrationStream::Tls;
  uint32_t downtime_ms = 50;  // the pause vessel-vmm aims for (1..60000)
  uint32_t max_rounds = 16;   // dirty rounds before it pauses anyway (0..1000)
};
Result<MigrateRequest> parse_migrate_request(std::string_view body);
// The same route for a clustered instance (docs/cluster.md#drain-and-migrate): {"node": NAME},
// the node to move it to ("" when absent or the body is empty: the placement's choice).
Result<std::string> parse_cluster_move_request(std::string_view body);
json::Json to_json(const MigrateRequest& r);

// POST /v1/migrations {"spec": {...}, "receive_on": "ADDRESS", "stream": "tls"} on the
// destination: the instance to receive (only VMs without a network interface: the tap is not
// handed over yet), and, from another host, the numeric address of this one the stream comes to:
// vessel-vmm's own TCP receiver, or with "stream": "tls" a TLS listener of the destination
// vesseld's (its API's identity; it takes only the certificate the request came with), which
// relays to a receiver on a Unix socket.
struct IncomingRequest {
  InstanceSpec spec;
  std::string receive_on;  // empty: a Unix socket (one host)
  bool tls = false;        // with receive_on: the stream inside TLS
};
Result<IncomingRequest> parse_incoming_request(std::string_view body);

// The destination's answer: where its vessel-vmm listens for the stream. A `unix:` URL whose
// path is absolute (a socket in the destination instance's run directory, on this host), or
// `tcp:ADDRESS:PORT` with a numeric address (another host) and the token the receiver expects
// first (64 hex digits: anyone may reach a TCP port), or `tls:ADDRESS:PORT` (another host, inside
// TLS: the source's certificate is the key there).
struct IncomingAnswer {
  std::string name;
  std::string url;
  std::string socket;  // the path of a `unix:` url, else empty
  std::string token;   // with a `tcp:` url
  std::string tls;     // a `tls:ADDRESS:PORT` url as https://ADDRESS:PORT (the destination vesseld's stream listener)
};
inline constexpr size_t kMigrationTokenBytes = 32;  // as vessel-vmm's (src/vmm/migration/token.h)

// A numeric IPv4 or IPv6 address (no brackets); EINVAL naming `what` otherwise.
Result<void> check_numeric_address(std::string_view address, std::string_view what);
// "tcp:ADDRESS:PORT" ([IPv6] in brackets) from its parts.
std::string tcp_url(const std::string& address, uint16_t port);
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
