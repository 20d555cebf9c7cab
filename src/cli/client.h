// The CLI's side of the REST API: one call per request, the daemon's {"error","hint"} answers
// turned back into Errors so that the CLI prints what the daemon said and what to do.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "http/http.h"
#include "base/json.h"

namespace vessel::cli {

// Where vesseld is: its Unix socket, or a remote https://HOST:PORT reached with a client
// certificate (docs/daemon/remote.md).
struct Remote {
  std::string url;  // empty: the Unix socket
  std::string client_cert, client_key;
  std::string server_fingerprint;  // SHA-256 of the server's public key, hex
  std::string server_ca;           // or a CA file that signed the server's certificate
};

class Client {
 public:
  explicit Client(std::string socket, Remote remote = {}) : socket_(std::move(socket)), remote_(std::move(remote)) {}

  // Returns the parsed JSON answer (null for 204), or the daemon's error.
  Result<json::Json> call(const std::string& method, const std::string& path, const json::Json& body = nullptr);
  Result<std::string> call_text(const std::string& method, const std::string& path);
  // Streams the answer; on_data returns false to stop. An HTTP error status becomes an Error.
  Result<void> stream(const std::string& method, const std::string& path, const std::string& body,
                      const std::function<bool(std::string_view)>& on_data);

  // A request whose answer's status and headers the caller reads itself (the archive endpoints
  // of `vessel cp`): a success's body goes to on_data; an error's (its first 64 KiB) is kept in
  // the answer's body: check its status (error_from_response).
  Result<http::ClientResponse> exchange(const std::string& method, const std::string& path, const std::string& body,
                                        const std::string& content_type,
                                        const std::function<bool(std::string_view)>& on_data,
                                        std::function<void(uint64_t sent, uint64_t total)> upload_progress = {});

  const std::string& socket() const { return socket_; }

 private:
  // Connection options and the URL prefix ("http://localhost" or the remote's).
  Result<std::pair<http::ClientOptions, std::string>> target() const;
  Error unreachable(const Error& e) const;

  std::string socket_;
  Remote remote_;
};

// The daemon's error body as an Error (with its hint and errno); exposed for tests.
Error error_from_response(long status, const std::string& body);

// Path segment escaping for names (validated by the daemon anyway).
using http::escape_segment;

}  // namespace vessel::cli
