// A raw byte stream inside TLS, without HTTP: the destination's end of a live migration's stream
// between hosts (docs/daemon/migrate.md#two-hosts). libmicrohttpd's own relay of an upgraded TLS
// connection (0.9.75, Debian 12) moves 4 bytes per system call and can hold the last bytes of a
// stream back (its buffers are what its connection pool has left: nothing), so the stream gets a
// listener of its own. GnuTLS, with the server's certificate and key (vesseld's TLS identity, so
// the client's pin of that key holds); it takes only a client whose certificate is the expected
// one (the one the request that made it came with). The client's side is open_tls_stream()
// (http/upgrade_client.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::http {

class TlsCredentials;

struct TlsStreamOptions {
  std::string cert_file, key_file;  // PEM
  std::string client_cert_sha256;   // lower-case hex: the only client taken
  std::chrono::milliseconds handshake_timeout{5000};
  int max_refused = 64;             // connections without that certificate before it gives up
};

class TlsStreamListener {
 public:
  // Listens on `address` (numeric IPv4 or IPv6), on a port the kernel picks.
  static Result<std::unique_ptr<TlsStreamListener>> listen(const std::string& address, TlsStreamOptions options);
  ~TlsStreamListener();
  TlsStreamListener(const TlsStreamListener&) = delete;
  TlsStreamListener& operator=(const TlsStreamListener&) = delete;

  uint16_t port() const { return port_; }
  // Takes connections until one completes the handshake with the expected certificate (the
  // others are closed; max_refused of them end it), then opens the plain side and relays the two
  // until the plain side ends (the TLS peer's end is passed on as its half-close). Blocks; stop()
  // from another thread ends it. Answers how many connections it refused.
  Result<int> serve(const std::function<Result<Fd>()>& open_plain);
  // Ends serve(): the wait for a connection or the relay.
  void stop();

 private:
  TlsStreamListener(Fd listener, uint16_t port, TlsStreamOptions options, std::shared_ptr<TlsCredentials> credentials,
                    Fd wake);
  Fd listener_;
  uint16_t port_;
  TlsStreamOptions options_;
  std::shared_ptr<TlsCredentials> credentials_;
  Fd wake_;  // an eventfd: stop()'s word to serve()
};

}  // namespace vessel::http
