#include "daemon/shim/stdin_relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/unix_socket.h"

namespace vessel::shim {

Result<std::unique_ptr<StdinRelay>> StdinRelay::prepare(const std::string& serve) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return fail_errno("pipe for the container's stdin");
  return std::unique_ptr<StdinRelay>(new StdinRelay(serve, Fd(fds[0]), Fd(fds[1])));
}

StdinRelay::~StdinRelay() {
  if (input_ && input_->joinable()) input_->detach();
}

Result<void> StdinRelay::start() {
  read_end_.reset();  // the container has its own; ours would keep the pipe from ever ending
  ::unlink(serve_.c_str());
  listener_ = TRY_CTX(unix_socket::listen(serve_, {.backlog = 1}), "the stdin socket {}", serve_);
  input_.emplace([this] { serve_first_client(); });
  return {};
}

// The first client's bytes go into the pipe until its input ends or it goes; then the pipe is
// closed (the command reads EOF) and so is the socket: stdin is attached once.
void StdinRelay::serve_first_client() {
  Fd client;
  while (!client) {
    client = Fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client && errno != EINTR && errno != ECONNABORTED) return;  // finish() closed the listener
  }
  ::shutdown(listener_.get(), SHUT_RDWR);
  ::unlink(serve_.c_str());
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(client.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || !write_all(write_end_.get(), buf, static_cast<size_t>(n))) break;
  }
  write_end_.reset();
}

void StdinRelay::finish() {
  ::shutdown(listener_.get(), SHUT_RDWR);
  ::unlink(serve_.c_str());
}

}  // namespace vessel::shim
