// The client's side of an HTTP/1.1 Upgrade on a Unix socket (vesseld's interactive streams,
// docs/daemon/console.md): the request, then the answer's head; after "101 Switching Protocols"
// the connection carries the protocol's bytes. The CLI (cli/upgrade.h) and vesseld forwarding an
// exec to another node (daemon/api/forward.h) both use it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "http/http.h"

namespace vessel::http {

// The status code and header block of an HTTP answer: {status, content_length or -1}.
struct ResponseHead {
  int status = 0;
  long content_length = -1;
};
Result<ResponseHead> parse_response_head(std::string_view head);

struct UpgradeAnswer {
  int status = 0;    // 101 when upgraded
  Fd fd;             // the connection (upgraded: the stream)
  std::string rest;  // 101: bytes that came with the answer; otherwise the error body (at most 64 KiB)
};

// Sends `method target` with `Upgrade: protocol` (and `headers`, "Name: value") on the socket at
// `socket`; fails only when the socket cannot be reached or the answer is not HTTP.
Result<UpgradeAnswer> open_upgrade(const std::string& socket, const std::string& method, const std::string& target,
                                   const std::string& protocol, const std::string& body = {},
                                   const std::vector<std::string>& headers = {});

// The same to `base_url` (https://HOST:PORT) over TLS, as `options` say (client certificate,
// pinned key or CA; upgrade_client_tls.cc). After a 101, `fd` is one end of a Unix socket pair
// whose other end a thread relays to and from the TLS connection, so that the caller sees a plain
// socket either way; a half-close of `fd` is passed on as TLS's close_notify (vessel's servers
// pass that on as a half-close in turn); the stream ends when the server closes it.
Result<UpgradeAnswer> open_upgrade_tls(const ClientOptions& options, const std::string& base_url,
                                       const std::string& method, const std::string& target,
                                       const std::string& protocol, const std::string& body = {},
                                       const std::vector<std::string>& headers = {});

// The TLS connection alone, without HTTP (TlsStreamListener's client, http/tls_stream_server.h):
// connects to `base_url` (https://HOST:PORT) as `options` say, and answers one end of a Unix
// socket pair relayed to and from it by a thread (a half-close of it passed on as close_notify).
Result<Fd> open_tls_stream(const ClientOptions& options, const std::string& base_url);

// Internal to both: the request's bytes, and the answer read through `read` (a read(2)-like
// call: bytes, 0 at the end, -1 on an error) into an UpgradeAnswer without `fd`.
std::string upgrade_request(const std::string& method, const std::string& target, const std::string& protocol,
                            const std::string& body, const std::vector<std::string>& headers);
Result<UpgradeAnswer> read_upgrade_answer(const std::function<ssize_t(char*, size_t)>& read, const std::string& peer);

}  // namespace vessel::http
