#include "daemon/shim/tty_relay.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "base/log_stamp.h"
#include "base/unix_socket.h"

namespace vessel::shim {

namespace {

constexpr size_t kMaxPending = 64 << 10;

// Waits up to `ms` for `fd` to be readable.
bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

// Has the peer of `sock` gone entirely (not merely stopped sending)?
bool readable_hangup(int sock) {
  pollfd p{sock, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

}  // namespace

Result<std::unique_ptr<TtyRelay>> TtyRelay::prepare(const std::string& handoff, const std::string& serve) {
  ::unlink(handoff.c_str());
  Fd listener = TRY_CTX(unix_socket::listen(handoff, {.backlog = 1}), "the console socket {}", handoff);
  return std::unique_ptr<TtyRelay>(new TtyRelay(handoff, serve, std::move(listener)));
}

TtyRelay::~TtyRelay() {
  if (output_ && output_->joinable()) output_->detach();
  if (input_ && input_->joinable()) input_->detach();
}

Result<void> TtyRelay::start(RotatingLog* log) {
  if (!readable(handoff_listener_.get(), 10000)) return fail(ETIMEDOUT, "the runtime handed over no terminal within 10 s");
  Fd conn(::accept4(handoff_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return fail_errno("accept on {}", handoff_);
  master_ = TRY_CTX(unix_socket::recv_fd(conn.get()), "the terminal from the runtime");
  handoff_listener_.reset();
  ::unlink(handoff_.c_str());
  ::unlink(serve_.c_str());
  serve_listener_ = TRY_CTX(unix_socket::listen(serve_, {.backlog = 4}), "the console socket {}", serve_);
  output_.emplace([this, log] { copy_output(log); });
  input_.emplace([this] { serve_clients(); });
  return {};
}

// Master -> the log and the attached client, until the container's side of the terminal is
// closed (read gives EIO). A client that cannot keep up is dropped, never waited for.
void TtyRelay::copy_output(RotatingLog* log) {
  LineStamper stamper;  // the log's lines carry their time, as the pipe relay's (base/log_stamp.h)
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(master_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view out(buf, static_cast<size_t>(n));
    if (log) (void)log->write(stamper.stamp(out, unix_now_ns()));
    std::lock_guard lock(client_mutex_);
    int client = client_.load();
    if (client >= 0 && ::send(client, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != n) ::shutdown(client, SHUT_RDWR);
    if (client < 0 && !first_attached_) {
      pending_.append(out);
      if (pending_.size() > kMaxPending) pending_.erase(0, pending_.size() - kMaxPending);
    }
  }
  output_done_ = true;
}

// One client at a time: its bytes go to the terminal; a second one waits for the first to leave.
void TtyRelay::serve_clients() {
  for (;;) {
    Fd client(::accept4(serve_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // finish() closed the listener
    }
    {
      std::lock_guard lock(client_mutex_);
      if (!first_attached_ && !pending_.empty()) (void)unix_socket::send_all(client.get(), pending_);
      first_attached_ = true;
      pending_.clear();
      client_ = client.get();
    }
    char buf[4096];
    ssize_t n;
    for (;;) {
      n = ::read(client.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !write_all(master_.get(), buf, static_cast<size_t>(n))) break;
    }
    // Its input ended (a pipe at EOF), not the client: it still gets the output until the end.
    while (n == 0 && !output_done_ && !readable_hangup(client.get())) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(client_mutex_);
    client_ = -1;
  }
}

void TtyRelay::finish() {
  for (int i = 0; i < 200 && !output_done_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (int client = client_.load(); client >= 0) ::shutdown(client, SHUT_RDWR);  // the attached client sees the end
  ::shutdown(serve_listener_.get(), SHUT_RDWR);
  ::unlink(serve_.c_str());
}

}  // namespace vessel::shim
