#include <curl/curl.h>

#include <cctype>
#include <map>
#include <mutex>

#include "http/connection_pool.h"
#include "http/curl_tls.h"
#include "http/http.h"

namespace vessel::http {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void apply_tls_options(CURL* h, const ClientOptions& options) {
  if (!options.client_cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, options.client_cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, options.client_key.c_str());
  }
  if (!options.pinned_public_key.empty()) {
    // The pin replaces chain and name checks (self-signed server certificates, Incus-style).
    curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, options.pinned_public_key.c_str());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!options.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
  }
}

namespace {

// A request's libcurl handle: one of the pool's (with its open connections), or a new one.
struct Easy {
  explicit Easy(ConnectionPool* from) : pool(from) {
    if (pool) h = static_cast<CURL*>(pool->take());
    if (!h) h = curl_easy_init();
  }
  ~Easy() {
    if (pool && h) pool->give(h);  // reset first: the header list is not referred to after
    else if (h) curl_easy_cleanup(h);
    if (headers) curl_slist_free_all(headers);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
  ConnectionPool* pool;
  CURL* h = nullptr;
  curl_slist* headers = nullptr;
};

size_t append_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t call_stream(char* data, size_t size, size_t n, void* user) {
  auto* fn = static_cast<const std::function<bool(std::string_view)>*>(user);
  if (!(*fn)(std::string_view(data, size * n))) return 0;  // aborts the transfer
  return size * n;
}

// One header line of the answer into the map (name lower-cased, value trimmed); a new status
// line (a 100 Continue before the answer) starts over.
size_t collect_response_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) headers->clear();
  auto colon = line.find(':');
  if (colon != std::string_view::npos && headers->size() < 256) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    (*headers)[name] = std::string(value.substr(0, 64 * 1024));
  }
  return size * n;
}

Result<void> setup(Easy& e, const ClientOptions& options, const std::string& method,
                   const std::string& url, const std::string* body, const std::string& content_type) {
  global_init();
  if (e.h == nullptr) return fail(ENOMEM, "curl_easy_init failed (out of memory)");
  curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  if (!options.unix_socket.empty())
    curl_easy_setopt(e.h, CURLOPT_UNIX_SOCKET_PATH, options.unix_socket.c_str());
  apply_tls_options(e.h, options);
  if (options.upload_progress || options.cancelled) {
    curl_easy_setopt(e.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e.h, CURLOPT_XFERINFODATA, &options);
    curl_easy_setopt(
        e.h, CURLOPT_XFERINFOFUNCTION,
        static_cast<int (*)(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t)>(
            [](void* user, curl_off_t, curl_off_t, curl_off_t total, curl_off_t sent) -> int {
              const auto& o = *static_cast<const ClientOptions*>(user);
              if (o.upload_progress) o.upload_progress(static_cast<uint64_t>(sent), static_cast<uint64_t>(total));
              return o.cancelled && o.cancelled() ? 1 : 0;  // non-zero: CURLE_ABORTED_BY_CALLBACK
            }));
  }
  if (options.timeout.count() > 0)
    curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  if (options.stall_timeout.count() > 0) {
    curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
  }
  if (options.max_redirects > 0) {
    curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e.h, CURLOPT_MAXREDIRS, options.max_redirects);
    curl_easy_setopt(e.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  }
  for (const auto& h : options.headers) e.headers = curl_slist_append(e.headers, h.c_str());
  curl_easy_setopt(e.h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(e.h, CURLOPT_NOBODY, 1L);
  if (body != nullptr && (!body->empty() || method != "GET")) {
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    e.headers = curl_slist_append(e.headers, ("Content-Type: " + content_type).c_str());
  }
  // A large body waits for the server's "100 Continue": a server that refuses it (413) answers
  // before reading it, and the body sent into a closed connection would lose that answer
  // ("Failed sending data to the peer"). Small bodies go at once, without the round trip.
  constexpr size_t kExpectContinueAbove = 64 << 10;
  bool large = body != nullptr && body->size() > kExpectContinueAbove;
  e.headers = curl_slist_append(e.headers, large ? "Expect: 100-continue" : "Expect:");
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  return {};
}

Result<long> perform(Easy& e, const ClientOptions& options, const std::string& url) {
  CURLcode rc = curl_easy_perform(e.h);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return fail(ECANCELED, "request to {} cancelled", url);
  if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
    int err = rc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO;
    std::string where = options.unix_socket.empty() ? url : options.unix_socket;
    std::string hint = err == ECONNREFUSED ? "is the server running?" : "";
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
      hint = "the server's public key is not the pinned one: check the fingerprint (vesseld prints it at start)";
    else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
      hint = "the server's certificate does not verify against the CA file";
    else if (url.starts_with("https://") &&
             (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING))
      hint = "TLS handshake failed: is it a TLS port, and are the client certificate and key valid?";
    else if (rc == CURLE_TOO_MANY_REDIRECTS)
      hint = fmt::format("the server redirected more than {} times (a redirect loop?)", options.max_redirects);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
      hint = "the server stopped sending; try again";
    else if (rc == CURLE_GOT_NOTHING)
      hint = "the server closed the connection without an answer (did it exit?)";
    else if (rc == CURLE_SSL_CERTPROBLEM)
      hint = "cannot use the client certificate or key (PEM files expected)";
    return Unexpected(Error(0, fmt::format("cannot reach {}: {}", where, curl_easy_strerror(rc))).with_hint(hint));
  }
  long status = 0;
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

bool reused(Easy& e) {
  long connects = 0;
  curl_easy_getinfo(e.h, CURLINFO_NUM_CONNECTS, &connects);
  return connects == 0;
}

}  // namespace

std::string escape_segment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

Result<ClientResponse> request(const ClientOptions& options, const std::string& method,
                               const std::string& url, const std::string& body,
                               const std::string& content_type) {
  Easy e(options.pool);
  TRY(setup(e, options, method, url, &body, content_type));
  ClientResponse out;
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(e.h, CURLOPT_HEADERFUNCTION, collect_response_header);
  curl_easy_setopt(e.h, CURLOPT_HEADERDATA, &out.headers);
  out.status = TRY(perform(e, options, url));
  out.reused_connection = reused(e);
  return out;
}

Result<ClientResponse> request_stream_headers(const ClientOptions& options, const std::string& method,
                                              const std::string& url, const std::string& body,
                                              const std::string& content_type,
                                              const std::function<bool(std::string_view)>& on_data) {
  Easy e(options.pool);
  TRY(setup(e, options, method, url, &body, content_type));
  ClientResponse out;
  // An error answer (status 400 and up) is kept in out.body (its first 64 KiB), not streamed.
  struct Sink {
    CURL* h;
    ClientResponse* out;
    const std::function<bool(std::string_view)>* on_data;
    const std::function<void(long)>* on_status;
    const ClientOptions* options;
    bool started = false;
  } sink{e.h, &out, &on_data, &options.on_status, &options};
  auto write = [](char* data, size_t size, size_t n, void* user) -> size_t {
    auto* s = static_cast<Sink*>(user);
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (!s->started && *s->on_status) (*s->on_status)(status);
    if (!s->started && s->options->on_head) s->options->on_head(status, s->out->headers);
    s->started = true;
    std::string_view chunk(data, size * n);
    if (status >= 400) {
      if (s->out->body.size() < 65536) s->out->body.append(chunk.substr(0, 65536 - s->out->body.size()));
      return size * n;
    }
    return (*s->on_data)(chunk) ? size * n : 0;
  };
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, static_cast<size_t (*)(char*, size_t, size_t, void*)>(write));
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(e.h, CURLOPT_HEADERFUNCTION, collect_response_header);
  curl_easy_setopt(e.h, CURLOPT_HEADERDATA, &out.headers);
  out.status = TRY(perform(e, options, url));
  out.reused_connection = reused(e);
  return out;
}

Result<long> request_stream(const ClientOptions& options, const std::string& method,
                            const std::string& url,
                            const std::function<bool(std::string_view)>& on_data) {
  Easy e(options.pool);
  TRY(setup(e, options, method, url, nullptr, {}));
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, call_stream);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &on_data);
  return perform(e, options, url);
}

Result<long> request_stream(const ClientOptions& options, const std::string& method,
                            const std::string& url, const std::string& body,
                            const std::function<bool(std::string_view)>& on_data) {
  Easy e(options.pool);
  TRY(setup(e, options, method, url, &body, "application/json"));
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, call_stream);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &on_data);
  return perform(e, options, url);
}

}  // namespace vessel::http
