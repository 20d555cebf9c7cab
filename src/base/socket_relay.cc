#include "base/socket_relay.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/unix_socket.h"

namespace vessel::unix_socket {

void relay_until_closed(int a, int b, const std::string& early) {
  if (!early.empty() && !send_all(b, early)) return;
  bool a_done = false;
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{a, static_cast<short>(a_done ? 0 : POLLIN), 0}, {b, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(b, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (!send_all(a, std::string_view(buf, static_cast<size_t>(n)))) return;
    }
    if ((p[0].revents & (POLLHUP | POLLERR)) && !(p[0].revents & POLLIN)) return;
    if (!a_done && (p[0].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(a, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if (n == 0) {
        a_done = true;
        ::shutdown(b, SHUT_WR);
        continue;
      }
      if (!send_all(b, std::string_view(buf, static_cast<size_t>(n)))) return;
    }
  }
}

}  // namespace vessel::unix_socket
