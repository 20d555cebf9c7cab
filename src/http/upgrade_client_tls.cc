// The upgrade client over TLS, and a raw stream inside TLS (http/upgrade_client.h): libcurl makes the connection and the
// handshake (CURLOPT_CONNECT_ONLY, with the client certificate and the pinned key of a request),
// the request and the answer's head go through curl_easy_send/recv, and after a 101 a thread
// relays between the TLS connection and one end of a Unix socket pair, the caller getting the
// other end: callers splice plain sockets, whatever the transport.
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <thread>

#include "base/unix_socket.h"
#include "http/curl_tls.h"
#include "http/upgrade_client.h"

namespace vessel::http {

namespace {

constexpr int kIoTimeoutMs = 30000;  // a peer silent this long in the request or the head is gone

struct Connection {
  CURL* h = nullptr;
  curl_socket_t socket = CURL_SOCKET_BAD;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (h) curl_easy_cleanup(h);
  }
};

bool wait_socket(curl_socket_t s, short events, int timeout_ms) {
  pollfd p{s, events, 0};
  int r;
  do r = ::poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

Result<void> send_all(const Connection& c, std::string_view data) {
  while (!data.empty()) {
    size_t sent = 0;
    CURLcode rc = curl_easy_send(c.h, data.data(), data.size(), &sent);
    if (rc == CURLE_AGAIN) {
      if (!wait_socket(c.socket, POLLOUT, kIoTimeoutMs)) return fail(ETIMEDOUT, "TLS send: the peer takes nothing");
      continue;
    }
    if (rc != CURLE_OK) return fail(EIO, "TLS send: {}", curl_easy_strerror(rc));
    data.remove_prefix(sent);
  }
  return {};
}

// read(2)-like: some bytes, 0 when the peer closed, -1 (errno set) on an error or a long silence.
ssize_t receive(const Connection& c, char* buf, size_t n) {
  for (;;) {
    size_t got = 0;
    CURLcode rc = curl_easy_recv(c.h, buf, n, &got);
    if (rc == CURLE_OK) return static_cast<ssize_t>(got);
    if (rc != CURLE_AGAIN) {
      errno = EIO;
      return -1;
    }
    if (!wait_socket(c.socket, POLLIN, kIoTimeoutMs)) {
      errno = ETIMEDOUT;
      return -1;
    }
  }
}

// Passes on every byte the TLS layer holds now (decrypted bytes can wait there while the socket
// is quiet); false when the server closed or the local side is gone.
bool drain(const Connection& c, int local) {
  char buf[16384];
  for (;;) {
    size_t got = 0;
    CURLcode rc = curl_easy_recv(c.h, buf, sizeof buf, &got);
    if (rc == CURLE_AGAIN) return true;
    if (rc != CURLE_OK || got == 0) return false;
    if (!unix_socket::send_all(local, std::string_view(buf, got))) return false;
  }
}

// A local half-close passed on: TLS's close_notify, after which OpenSSL still reads (libcurl
// has no call for it; its session is OpenSSL's here, as Debian builds libcurl4-openssl).
void send_close_notify(const Connection& c) {
  curl_tlssessioninfo* info = nullptr;
  if (curl_easy_getinfo(c.h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == nullptr ||
      info->backend != CURLSSLBACKEND_OPENSSL || info->internals == nullptr)
    return;
  auto* ssl = static_cast<SSL*>(info->internals);
  for (int tries = 0; tries < 100; ++tries) {
    if (SSL_shutdown(ssl) >= 0) return;  // sent (0: the peer's has not come yet, as expected)
    int why = SSL_get_error(ssl, -1);
    if (why != SSL_ERROR_WANT_WRITE && why != SSL_ERROR_WANT_READ) return;
    wait_socket(c.socket, why == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, kIoTimeoutMs);
  }
}

// Until the server closes, or the local end is closed (a local half-close is passed on as TLS's
// close_notify, and the server's answer still flows).
void relay(std::unique_ptr<Connection> c, Fd local) {
  bool local_reading = true;
  char buf[16384];
  while (drain(*c, local.get())) {
    pollfd fds[2] = {{c->socket, POLLIN, 0}, {local.get(), static_cast<short>(local_reading ? POLLIN : 0), 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (!local_reading) {
      if (fds[1].revents & (POLLHUP | POLLERR)) return;
      continue;
    }
    if (!(fds[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = ::read(local.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return;
    if (n == 0) {
      local_reading = false;
      send_close_notify(*c);
      continue;
    }
    if (!send_all(*c, std::string_view(buf, static_cast<size_t>(n)))) return;
  }
}

Result<std::unique_ptr<Connection>> connect_tls(const ClientOptions& options, const std::string& base_url) {
  global_init();
  auto c = std::make_unique<Connection>();
  c->h = curl_easy_init();
  if (!c->h) return fail(ENOMEM, "curl_easy_init failed (out of memory)");
  curl_easy_setopt(c->h, CURLOPT_URL, base_url.c_str());
  curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  apply_tls_options(c->h, options);
  if (CURLcode rc = curl_easy_perform(c->h); rc != CURLE_OK)
    return fail(EHOSTUNREACH, "connect to {}: {}", base_url, curl_easy_strerror(rc));
  if (curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &c->socket) != CURLE_OK || c->socket == CURL_SOCKET_BAD)
    return fail(EIO, "connect to {}: libcurl gave no socket", base_url);
  return c;
}

}  // namespace

Result<Fd> open_tls_stream(const ClientOptions& options, const std::string& base_url) {
  auto c = TRY(connect_tls(options, base_url));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return fail_errno("socketpair");
  std::thread(relay, std::move(c), Fd(pair[1])).detach();
  return Fd(pair[0]);
}

Result<UpgradeAnswer> open_upgrade_tls(const ClientOptions& options, const std::string& base_url,
                                       const std::string& method, const std::string& target,
                                       const std::string& protocol, const std::string& body,
                                       const std::vector<std::string>& headers) {
  auto c = TRY(connect_tls(options, base_url));
  TRY_CTX(send_all(*c, upgrade_request(method, target, protocol, body, headers)), "send the request to {}", base_url);
  const Connection& conn = *c;
  auto answer = TRY(read_upgrade_answer([&conn](char* buf, size_t n) { return receive(conn, buf, n); }, base_url));
  if (answer.status != 101) return answer;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return fail_errno("socketpair");
  answer.fd = Fd(pair[0]);
  std::thread(relay, std::move(c), Fd(pair[1])).detach();
  return answer;
}

}  // namespace vessel::http
