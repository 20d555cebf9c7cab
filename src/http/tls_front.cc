#include "http/tls_front.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <system_error>
#include <cstring>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "http/gnutls_peer.h"
#include "http/gnutls_session.h"

namespace vessel::http {

namespace {
constexpr std::chrono::milliseconds kHandshakeTimeout{10000};
}

struct TlsFront::State {
  std::shared_ptr<TlsCredentials> credentials;
  Fd listener, wake;
  std::thread acceptor;
  std::mutex mutex;  // held while a connection is handed over: stop() waits for it
  std::condition_variable attached;
  MHD_Daemon* daemon = nullptr;
  bool stopping = false;
  std::mutex map_mutex;
  std::map<int, std::string> handed_over;  // libmicrohttpd's socket -> fingerprint, until it takes it
  unsigned max_connections = 0;
  std::atomic<unsigned> connections{0};  // handshaking or relaying
};

namespace {

// Waits for the daemon, then hands `plain` over with `fingerprint`; false when stopping or refused.
bool hand_over(TlsFront::State& st, Fd& plain, const std::string& fingerprint) {
  std::unique_lock lock(st.mutex);
  st.attached.wait(lock, [&] { return st.daemon != nullptr || st.stopping; });
  if (st.stopping) return false;
  int fd = plain.release();  // libmicrohttpd's from here, added or not (it closes what it refuses)
  {
    std::lock_guard map(st.map_mutex);
    st.handed_over[fd] = fingerprint;
  }
  sockaddr_un unix_addr{};
  unix_addr.sun_family = AF_UNIX;  // not IP: libmicrohttpd sets no TCP options on it
  MHD_Result added = MHD_add_connection(st.daemon, fd, reinterpret_cast<sockaddr*>(&unix_addr), sizeof(sa_family_t));
  if (added != MHD_YES) {
    std::lock_guard map(st.map_mutex);
    st.handed_over.erase(fd);
  }
  return added == MHD_YES;
}

// One connection: the handshake, the hand-over of its plaintext, then the relay until either ends.
void serve_connection(std::shared_ptr<TlsFront::State> st, Fd socket) {
  struct Counted {
    std::atomic<unsigned>& n;
    ~Counted() { --n; }
  } counted{st->connections};
  auto session = tls_accept(st->credentials, std::move(socket), false, kHandshakeTimeout);
  if (!session) return;  // not TLS, or too slow: closed
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return;
  Fd mine(pair[0]), theirs(pair[1]);
  if (!hand_over(*st, theirs, peer_certificate_sha256(session->s))) return;
  tls_relay(*session, mine.get(), -1);
}

void accept_loop(std::shared_ptr<TlsFront::State> st) {
  for (;;) {
    pollfd p[2] = {{st->listener.get(), POLLIN, 0}, {st->wake.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::warn("TLS listener: poll: {}", std::strerror(errno));
      return;
    }
    if (p[1].revents) return;
    Fd socket(::accept4(st->listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!socket) continue;  // the client went away, or out of fds for now
    if (st->connections >= st->max_connections) continue;  // closed: the limit is reached
    ++st->connections;
    try {
      std::thread(serve_connection, st, std::move(socket)).detach();
    } catch (const std::system_error& e) {  // no thread to be had: this client is closed
      --st->connections;
      log::warn("TLS listener: no thread for a connection: {}", e.what());
    }
  }
}

}  // namespace

Result<std::shared_ptr<TlsFront>> TlsFront::start(int listen_fd, const std::string& cert_pem, const std::string& key_pem,
                                                  unsigned max_connections) {
  auto st = std::make_shared<State>();
  st->max_connections = max_connections;
  st->listener = Fd(listen_fd);
  st->credentials = TRY(TlsCredentials::from_pem(cert_pem, key_pem));
  st->wake = Fd(::eventfd(0, EFD_CLOEXEC));
  if (!st->wake) return fail_errno("eventfd");
  st->acceptor = std::thread(accept_loop, st);
  return std::shared_ptr<TlsFront>(new TlsFront(st));
}

void TlsFront::attach(MHD_Daemon* daemon) {
  std::lock_guard lock(state_->mutex);
  state_->daemon = daemon;
  state_->attached.notify_all();
}

void TlsFront::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->attached.notify_all();
  }
  uint64_t one = 1;
  (void)!::write(state_->wake.get(), &one, sizeof one);
  if (state_->acceptor.joinable()) state_->acceptor.join();
}

TlsFront::~TlsFront() { stop(); }

void TlsFront::notify_connection(void* cls, MHD_Connection* connection, void** socket_context,
                                 MHD_ConnectionNotificationCode code) {
  auto* front = static_cast<TlsFront*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    delete static_cast<std::string*>(*socket_context);
    *socket_context = nullptr;
    return;
  }
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == nullptr) return;
  std::lock_guard lock(front->state_->map_mutex);
  auto it = front->state_->handed_over.find(info->connect_fd);
  if (it == front->state_->handed_over.end()) return;
  *socket_context = new std::string(std::move(it->second));
  front->state_->handed_over.erase(it);
}

std::string TlsFront::client_cert_sha256(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (info == nullptr || info->socket_context == nullptr) return {};
  return *static_cast<const std::string*>(info->socket_context);
}

}  // namespace vessel::http
