// Internal to vessel_http: TLS for the HTTP server (Server with ServerOptions::tls_*). GnuTLS
// terminates each connection on a thread of its own and hands its plaintext to libmicrohttpd
// (MHD_add_connection) through a socket pair, with the client certificate's fingerprint kept as
// the connection's context. Not libmicrohttpd's own TLS: in 0.9.75 (Debian 12) it relays an
// upgraded connection (exec, console, attach over TLS) 4 bytes per system call, its relay
// buffers being what its connection's memory pool has left, and can hold the last bytes back.
// Here an upgraded session gets its end of the socket pair, and this relay moves 64 KiB at a time.
#pragma once

#include <microhttpd.h>

#include <memory>
#include <string>

#include "base/error.h"

namespace vessel::http {

class TlsFront {
 public:
  // Accepts on `listen_fd` (taken) with the PEM key and certificate; connections wait until
  // attach() names the daemon they go to. At most `max_connections` at once, handshakes
  // included: more are closed at once (a thread each: silent clients must not exhaust them).
  static Result<std::shared_ptr<TlsFront>> start(int listen_fd, const std::string& cert_pem, const std::string& key_pem,
                                                 unsigned max_connections);
  ~TlsFront();
  void attach(MHD_Daemon* daemon);
  // No connection is accepted or handed over after this (call before MHD_stop_daemon).
  void stop();

  // MHD_OPTION_NOTIFY_CONNECTION: keeps a handed-over connection's client certificate
  // fingerprint as its socket context (cls: this TlsFront).
  static void notify_connection(void* cls, MHD_Connection* connection, void** socket_context,
                                MHD_ConnectionNotificationCode code);
  // The client certificate's SHA-256 (hex) of `connection`, "" without one.
  static std::string client_cert_sha256(MHD_Connection* connection);

  struct State;

 private:
  explicit TlsFront(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace vessel::http
