// The destination's end of a live migration's stream inside TLS (docs/daemon/migrate.md#two-hosts):
// a TLS listener of this vesseld's (its API's identity) that takes only the source vesseld's
// certificate, and relays that connection to the receiving vessel-vmm's Unix socket, on a thread
// of its own, until the receiver ends or the incoming migration is committed or dropped.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "base/error.h"
#include "http/tls_stream_server.h"

namespace vessel::daemon {

class IncomingTlsStream {
 public:
  // Listens on `address` with `state_dir`'s TLS identity (STATE/tls/server.{crt,key}) for the
  // client whose certificate has the SHA-256 `client_cert_sha256`, and relays it to `receiver`.
  static Result<std::unique_ptr<IncomingTlsStream>> start(const std::string& address, const std::string& state_dir,
                                                          const std::string& client_cert_sha256,
                                                          const std::string& receiver, const std::string& name);
  ~IncomingTlsStream();  // stops the listener or the relay, and joins
  IncomingTlsStream(const IncomingTlsStream&) = delete;
  IncomingTlsStream& operator=(const IncomingTlsStream&) = delete;

  uint16_t port() const { return listener_->port(); }

 private:
  explicit IncomingTlsStream(std::unique_ptr<http::TlsStreamListener> listener) : listener_(std::move(listener)) {}
  std::unique_ptr<http::TlsStreamListener> listener_;
  std::thread thread_;
};

}  // namespace vessel::daemon
