// vesseld's TLS identity and its trust store (like Incus): on first start the daemon makes a
// key and a self-signed certificate under STATE/tls; clients are admitted by the SHA-256
// fingerprint of their certificate, one file per trusted certificate in STATE/tls/trust.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "daemon/api/roles.h"

namespace vessel::daemon {

struct TlsIdentity {
  std::string key_pem, cert_pem;
  std::string cert_sha256;    // SHA-256 of the certificate (DER), hex
  std::string pubkey_sha256;  // SHA-256 of the public key (SPKI DER), hex: what clients pin
};

// Loads STATE/tls/server.{key,crt}, creating them on first use (EC P-256, self-signed, ten years,
// names: localhost, this host's name, 127.0.0.1, ::1). Also writes server.fingerprint.
Result<TlsIdentity> ensure_server_identity(const std::string& tls_dir);

struct CertInfo {
  std::string sha256;         // of the DER encoding, hex
  std::string pubkey_sha256;  // of the SPKI, hex
  std::string subject;
  std::string not_after;      // ISO 8601
};
// Parses one PEM certificate (anything else, or trailing junk, is refused).
Result<CertInfo> inspect_certificate(const std::string& pem);

class TrustStore {
 public:
  explicit TrustStore(std::string dir);
  // Adds a client certificate under a name with a role (kept in FINGERPRINT.json); returns its entry.
  Result<json::Json> add(const std::string& pem, const std::string& name, Role role = kDefaultRole);
  Result<json::Json> list() const;
  // By fingerprint or a unique prefix of at least 8 hex digits, or by name.
  Result<json::Json> remove(const std::string& which);
  // The role of this certificate fingerprint (hex); nullopt when it is not trusted. Reads the
  // directory on every call, so edits apply at once. An entry that names no role (made before
  // roles existed, or whose FINGERPRINT.json is missing or unreadable) is read-only.
  std::optional<Role> role_of(const std::string& sha256) const;
  bool trusted(const std::string& sha256) const { return role_of(sha256).has_value(); }
  // What `trust add` gives a certificate when no role is named: the least.
  static constexpr Role kDefaultRole = Role::ReadOnly;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace vessel::daemon
