// Where a migration goes: `unix:/path/to/socket` (one host) or `tcp:ADDRESS:PORT` (two hosts;
// ADDRESS numeric, IPv4 or [IPv6]: the sending VMM thread is sandboxed and reads no resolver
// files). The receiver listens, the sender connects (as QEMU's -incoming and Cloud Hypervisor's
// receive-migration).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm::migration {

struct Url {
  enum class Kind { Unix, Tcp } kind = Kind::Unix;
  std::string text;  // as given
  std::string path;  // Unix
  sockaddr_storage addr{};  // Tcp
  socklen_t addr_len = 0;
};

Result<Url> parse_url(std::string_view text);

// The sender's connection (TCP: with TCP_NODELAY, so that the last small messages are not held).
Result<Fd> connect(const Url& url);
// The receiver's listening socket (Unix: a stale socket file there is replaced).
Result<Fd> listen(const Url& url);
// Waits for one connection on `listener`; a readable `cancel_fd` (a stop signal) ends the wait
// with ECANCELED.
Result<Fd> accept_one(int listener, int cancel_fd);

}  // namespace vessel::vmm::migration
