#include "vmm/migration/channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace vessel::vmm::migration {

Result<void> FdChannel::wait(short events) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + timeout_;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) left = 0;
    pollfd fds[] = {{fd_.get(), events, 0}, {cancel_fd_, POLLIN, 0}};
    int n = ::poll(fds, cancel_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(left, 60'000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("poll the migration socket");
    if (cancel_fd_ >= 0 && (fds[1].revents & POLLIN)) return fail(ECANCELED, "stopped by a signal");
    if (fds[0].revents != 0) return {};  // ready, or an error/hang-up the next call reports
    if (Clock::now() >= deadline)
      return fail(ETIMEDOUT, "the peer did not {} for {} ms", (events & POLLIN) ? "send anything" : "take any data",
                  timeout_.count());
  }
}

Result<void> FdChannel::read(std::span<uint8_t> dst) {
  size_t done = 0;
  while (done < dst.size()) {
    TRY(wait(POLLIN));
    ssize_t n = ::read(fd_.get(), dst.data() + done, dst.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return fail_errno("read the migration socket");
    if (n == 0) return fail(ECONNRESET, "the peer closed the migration stream");
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void> FdChannel::write(std::span<const iovec> parts) {
  std::vector<iovec> left(parts.begin(), parts.end());
  size_t first = 0;
  while (first < left.size()) {
    if (left[first].iov_len == 0) {
      ++first;
      continue;
    }
    msghdr msg{};
    msg.msg_iov = left.data() + first;
    msg.msg_iovlen = std::min<size_t>(left.size() - first, IOV_MAX);
    ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      TRY(wait(POLLOUT));
      continue;
    }
    if (n < 0) return fail_errno("write the migration socket");
    auto sent = static_cast<size_t>(n);
    while (sent > 0 && first < left.size()) {
      size_t take = std::min(sent, left[first].iov_len);
      left[first].iov_base = static_cast<uint8_t*>(left[first].iov_base) + take;
      left[first].iov_len -= take;
      sent -= take;
      if (left[first].iov_len == 0) ++first;
    }
  }
  return {};
}

Result<void> BufferChannel::read(std::span<uint8_t> dst) {
  if (input_.size() - pos_ < dst.size()) {
    pos_ = input_.size();
    return fail(ECONNRESET, "the peer closed the migration stream");
  }
  if (!dst.empty()) std::memcpy(dst.data(), input_.data() + pos_, dst.size());
  pos_ += dst.size();
  return {};
}

Result<void> BufferChannel::write(std::span<const iovec> parts) {
  for (const auto& p : parts) {
    // Only the answers are kept (small); the fuzz target never writes pages.
    if (written_.size() + p.iov_len > (1u << 20)) return fail(ENOSPC, "buffer channel full");
    const auto* b = static_cast<const uint8_t*>(p.iov_base);
    written_.insert(written_.end(), b, b + p.iov_len);
  }
  return {};
}

}  // namespace vessel::vmm::migration
