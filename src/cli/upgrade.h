// The CLI's side of vesseld's interactive streams (docs/daemon/console.md): an HTTP/1.1 request with
// 'Upgrade: vessel-stream' on vesseld's Unix socket, or over TLS with --remote
// (http/upgrade_client.h); after "101 Switching Protocols" the connection carries raw bytes
// (console) or frames (exec).
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "cli/client.h"
#include "http/upgrade_client.h"

namespace vessel::cli {

struct UpgradedConnection {
  Fd fd;
  std::string early;  // bytes that arrived with the 101 answer
};

// An HTTP error answer becomes the daemon's error (with its hint). `remote.url` set: over TLS.
Result<UpgradedConnection> open_upgraded(const std::string& socket, const Remote& remote, const std::string& method,
                                         const std::string& path, const std::string& body = {});

using http::parse_response_head;
using http::ResponseHead;

}  // namespace vessel::cli
