// HTTP/1.1 over a Unix socket (or TCP): the server (libmicrohttpd) for vessel-vmm's and vesseld's
// APIs, and the client (libcurl) for the CLI and for vesseld talking to vessel-vmm.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::http {

struct Request {
  std::string method;
  std::string path;                         // without the query string
  std::map<std::string, std::string> query; // decoded query arguments
  std::map<std::string, std::string> headers;  // header names lower-cased
  std::string body;
  // TLS listeners: SHA-256 (lower-case hex) of the client certificate's DER encoding, empty when
  // the client presented none. The certificate is not verified here: the handler decides.
  std::string client_cert_sha256;
  bool tls = false;

  // The query argument `key`, "" when absent.
  std::string query_arg(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? "" : it->second;
  }
  // A boolean query argument: present as "1", "true" or with no value (`?force`).
  bool query_flag(const std::string& key) const {
    auto it = query.find(key);
    return it != query.end() && (it->second == "1" || it->second == "true" || it->second.empty());
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
  // When set, the body is streamed: called repeatedly (on the connection's thread, may block);
  // it appends to `out` and returns false when the stream has ended.
  std::function<bool(std::string& out)> stream;
  // When set, the answer is "101 Switching Protocols" (put the Upgrade header in `headers`) and the
  // connection then belongs to this function: it runs on a thread of its own with the raw socket
  // and the bytes the client sent after its request; the connection is closed when it returns.
  // Used for interactive streams (vessel console, exec -it); a server being destroyed shuts
  // these sockets down and waits for the functions to return.
  std::function<void(int fd, std::string early)> upgrade;

  static Response json(int status, std::string body);
  static Response no_content() { return Response{204, "application/json", "", {}, {}, {}}; }
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  size_t max_body_bytes = 1 << 20;  // larger bodies are answered 413 without being read further
  // When set, the limit for this request instead (method, path, query and headers are known).
  std::function<size_t(const Request&)> max_body_for;
  std::chrono::seconds idle_timeout{30};  // a connection idle that long is closed (slow clients)
  unsigned max_connections = 256;
  // Answer for a body over the limit (JSON).
  std::function<Response(size_t limit)> too_large;
  // TLS (GnuTLS through libmicrohttpd): PEM key and certificate of the server. A client
  // certificate is requested (not required); its fingerprint is in Request::client_cert_sha256.
  std::string tls_key_pem, tls_cert_pem;
};

class Server {
 public:
  // Listens on a Unix socket at `path` (an existing socket file is replaced) with mode `mode`.
  static Result<std::unique_ptr<Server>> listen_unix(const std::string& path, mode_t mode,
                                                     Handler handler, ServerOptions options = {});
  // Listens on an already bound and listening socket (AF_UNIX or AF_INET); takes ownership.
  static Result<std::unique_ptr<Server>> listen_fd(int fd, Handler handler, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  // Waits (at most `timeout`) until no request is being handled or answered. A process that
  // exits right after a request changed its state (vessel-vmm when the guest ends at once) calls
  // this first, so the client still gets its answer.
  void drain(std::chrono::milliseconds timeout);
  Server& operator=(const Server&) = delete;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Client side.
struct ClientResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  bool reused_connection = false;  // sent on a connection kept open from an earlier request
};

class ConnectionPool;

struct ClientOptions {
  std::string unix_socket;  // when set, connect here instead of the URL's host
  std::chrono::milliseconds timeout{0};  // 0: none
  // https:// URLs: client certificate and key (PEM files), and how the server is trusted: a CA
  // file (verified with host name), or a pinned public key "sha256//BASE64" (then the pin is the
  // only check: self-signed server certificates work). One of the two is required.
  std::string client_cert, client_key, ca_file, pinned_public_key;
  // Called as the request body goes out (bytes sent so far, of the whole); for progress lines.
  std::function<void(uint64_t sent, uint64_t total)> upload_progress;
  // Extra request headers ("Name: value"): Authorization, Accept, Range (registry clients).
  std::vector<std::string> headers;
  // Redirects followed (http and https only); 0: none, the 3xx is the answer. Authorization is not
  // sent on to another host (libcurl's rule), so a registry's blob redirect does not leak tokens.
  long max_redirects = 0;
  // A transfer slower than 1 KiB/s for this long is aborted (a stalled peer); 0: never.
  std::chrono::seconds stall_timeout{0};
  // request_stream_headers: called with the final answer's status before its first body byte
  // (a resumed download learns whether the server honoured its Range: 206, or sent it all: 200).
  std::function<void(long status)> on_status;
  // The same with the answer's headers (names lower-cased): a proxy passes them on.
  std::function<void(long status, const std::map<std::string, std::string>& headers)> on_head;
  // Polled by libcurl about once a second (and as data moves); true aborts the transfer with an
  // ECANCELED error. A long stream (an etcd watch) is ended from another thread this way.
  std::function<bool()> cancelled;
  // Keep the connection open for later requests that name the same pool (connection_pool.h);
  // null: a connection of its own, closed after the answer. The pool outlives the request.
  ConnectionPool* pool = nullptr;
};

// A path segment or query value percent-encoded (all but letters, digits and - _ .).
std::string escape_segment(std::string_view s);

// method: GET/HEAD/PUT/PATCH/POST/DELETE; url like "http://localhost/vm".
Result<ClientResponse> request(const ClientOptions& options, const std::string& method,
                               const std::string& url, const std::string& body = {},
                               const std::string& content_type = "application/json");

// Streams the body to `on_data` as it arrives (GET /events, logs --follow); on_data returns false
// to stop.
Result<long> request_stream(const ClientOptions& options, const std::string& method,
                            const std::string& url, const std::function<bool(std::string_view)>& on_data);
// The same with a request body (a POST whose answer is streamed, e.g. image import progress).
Result<long> request_stream(const ClientOptions& options, const std::string& method,
                            const std::string& url, const std::string& body,
                            const std::function<bool(std::string_view)>& on_data);

// Streams the answer's body to `on_data` and returns its status and headers (names lower-cased);
// `body` is sent as `content_type` (a tar for PUT .../archive).
Result<ClientResponse> request_stream_headers(const ClientOptions& options, const std::string& method,
                                              const std::string& url, const std::string& body,
                                              const std::string& content_type,
                                              const std::function<bool(std::string_view)>& on_data);

}  // namespace vessel::http
