// The source's end of a live migration relayed through the two vesselds (docs/daemon/migrate.md):
// a Unix socket the sending vessel-vmm connects to, joined to the stream toward the destination
// vesseld (one end of http::open_upgrade_tls's socket pair, the TLS connection behind it). So the
// memory crosses between hosts encrypted and authenticated as the API is, and vessel-vmm needs no
// TLS of its own.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::daemon {

class MigrationRelay {
 public:
  // Listens on `path` (mode 0600: the caller makes it reachable to the VMM) and relays the first
  // connection there to `stream` on a thread; `early` (bytes that came with the stream's answer)
  // goes to that connection first.
  static Result<std::unique_ptr<MigrationRelay>> start(const std::string& path, Fd stream, std::string early);
  MigrationRelay(const MigrationRelay&) = delete;
  MigrationRelay& operator=(const MigrationRelay&) = delete;
  // Ends the relay (the stream shut down, a pending accept woken), joins it, removes the socket.
  ~MigrationRelay();

  const std::string& path() const { return path_; }

 private:
  MigrationRelay(std::string path, Fd listener, Fd stream, Fd wake)
      : path_(std::move(path)), listener_(std::move(listener)), stream_(std::move(stream)), wake_(std::move(wake)) {}
  void run(std::string early);

  std::string path_;
  Fd listener_, stream_;
  Fd wake_;  // an eventfd: the destructor's word to stop waiting for the VMM
  std::thread thread_;
};

}  // namespace vessel::daemon
