#include "vmm/devices/legacy/console_socket.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "base/unix_socket.h"
#include "vmm/sandbox/seccomp.h"

namespace vessel::vmm {


Result<std::unique_ptr<ConsoleSocket>> ConsoleSocket::listen(const std::string& path, InputSink input) {
  Fd fd = TRY_CTX(unix_socket::listen(path, {.backlog = 16, .nonblocking = true}), "console socket");
  auto wake = TRY(EventFd::create(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::unique_ptr<ConsoleSocket> c(new ConsoleSocket(path, std::move(fd), std::move(wake), std::move(input)));
  c->thread_ = std::thread([p = c.get()] { p->run(); });
  return c;
}

ConsoleSocket::ConsoleSocket(std::string path, Fd listener, EventFd wake, InputSink input)
    : path_(std::move(path)), listener_(std::move(listener)), wake_(std::move(wake)), input_(std::move(input)) {}

ConsoleSocket::~ConsoleSocket() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  (void)wake_.signal();
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

void ConsoleSocket::output(std::string_view bytes) {
  if (clients_.load(std::memory_order_relaxed) == 0) return;  // nobody listens: nothing to keep
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    was_empty = pending_.empty();
    size_t room = kMaxPendingBytes - std::min(kMaxPendingBytes, pending_.size());
    size_t n = std::min(room, bytes.size());
    pending_.append(bytes.data(), n);
    if (n < bytes.size()) dropped_ += bytes.size() - n;
  }
  if (was_empty) (void)wake_.signal();  // the thread drains everything, so one wake-up suffices
}

// The VM's last words (a panic, "bye" before power-off) are written just before the VMM ends:
// hand them to every client before closing, waiting at most kFlushDeadline for slow readers.
void ConsoleSocket::flush_before_close(std::vector<Client>& clients) {
  std::string out;
  {
    std::lock_guard lock(mu_);
    out.swap(pending_);
  }
  for (auto& c : clients) c.out.append(out);
  auto deadline = std::chrono::steady_clock::now() + kFlushDeadline;
  for (auto& c : clients) {
    while (!c.out.empty() && std::chrono::steady_clock::now() < deadline) {
      pollfd p{c.fd.get(), POLLOUT, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) c.out.erase(0, static_cast<size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    }
  }
}

void ConsoleSocket::run() {
  pthread_setname_np(pthread_self(), "console");
  sandbox::enter(sandbox::ThreadKind::Console);
  std::vector<Client> clients;
  std::string input;  // client bytes the guest's FIFO has not taken yet
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({listener_.get(), static_cast<short>(clients.size() < kMaxClients ? POLLIN : 0), 0});
    fds.push_back({wake_.fd(), POLLIN, 0});
    for (const auto& c : clients) {
      short ev = 0;
      if (!c.input_done && input.empty()) ev |= POLLIN;
      if (!c.out.empty()) ev |= POLLOUT;
      fds.push_back({c.fd.get(), ev, 0});
    }
    // While input waits for room in the FIFO, retry every 10 ms.
    int r = ::poll(fds.data(), fds.size(), input.empty() ? -1 : 10);
    if (r < 0 && errno != EINTR) {
      log::error("console socket: poll: {}", strerror(errno));
      return;
    }
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stop_;
    }
    if (stopping) {
      flush_before_close(clients);
      return;
    }
    if (!input.empty()) input.erase(0, input_(input));
    if (fds[1].revents & POLLIN) {
      (void)wake_.consume();
      std::string out;
      {
        std::lock_guard lock(mu_);
        out.swap(pending_);
      }
      for (auto& c : clients) {
        size_t room = kMaxPendingBytes - std::min(kMaxPendingBytes, c.out.size());
        c.out.append(out, 0, std::min(room, out.size()));
        if (out.size() > room) dropped_ += out.size() - room;
      }
    }
    if (fds[0].revents & POLLIN) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        clients.push_back(Client{Fd(fd), {}, false});
        clients_ = clients.size();
      }
    }
    for (size_t i = 0; i < clients.size() && i + 2 < fds.size(); ++i) {
      Client& c = clients[i];
      short rev = fds[i + 2].revents;
      bool gone = (rev & (POLLERR | POLLNVAL)) != 0;
      if (!gone && (rev & (POLLIN | POLLHUP)) && !c.input_done && input.empty()) {
        char buf[4096];
        ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
        if (n > 0) {
          input.assign(buf, static_cast<size_t>(n));
          input.erase(0, input_(input));
        } else if (n == 0) {
          c.input_done = true;  // keep sending it output until it closes
        } else if (errno != EAGAIN && errno != EINTR) {
          gone = true;
        }
      }
      if (!gone && (rev & POLLOUT) && !c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) c.out.erase(0, static_cast<size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EINTR) gone = true;
      }
      if (!gone && (rev & POLLHUP) && c.input_done) gone = true;
      if (gone) c.fd.reset();
    }
    std::erase_if(clients, [](const Client& c) { return !c.fd; });
    clients_ = clients.size();
  }
}

}  // namespace vessel::vmm
