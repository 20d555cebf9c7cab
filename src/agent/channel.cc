#include "agent/channel.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

namespace vessel::agent {

bool Channel::read_some() {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    parser_.feed({buf, size_t(n)});
    return true;
  }
}

std::optional<Frame> Channel::buffered_frame() {
  auto f = parser_.next();
  if (!f) {
    error_ = f.error();
    return std::nullopt;
  }
  return *f;
}

std::optional<Frame> Channel::read_frame() {
  for (;;) {
    auto f = parser_.next();
    if (!f) {
      error_ = f.error();
      return std::nullopt;
    }
    if (*f) return *f;
    if (!read_some()) return std::nullopt;
  }
}

bool Channel::write_frame(FrameKind kind, uint8_t stream, std::string_view payload) {
  std::string bytes = encode_frame(kind, stream, payload);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += size_t(n);
  }
  return true;
}

}  // namespace vessel::agent
