// The byte stream a migration runs over: a connected socket (FdChannel), or, in the fuzz target
// and the unit tests, a buffer. Reads and writes are whole: a short stream is an error, never a
// partial message.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm::migration {

class Channel {
 public:
  virtual ~Channel() = default;
  // Exactly dst.size() bytes; the peer closing first is an error.
  virtual Result<void> read(std::span<uint8_t> dst) = 0;
  // All of `parts`, in order.
  virtual Result<void> write(std::span<const iovec> parts) = 0;
  // How long a read or write may wait for the peer before it fails.
  virtual void set_timeout(std::chrono::milliseconds timeout) = 0;

  Result<void> write(std::span<const uint8_t> bytes) {
    iovec v{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    return write(std::span<const iovec>(&v, 1));
  }
};

// A connected stream socket. Writes use sendmsg(MSG_NOSIGNAL): a vanished peer is EPIPE, not
// SIGPIPE. Each wait polls the socket and, when given, `cancel_fd` (the VMM's signal mailbox):
// readable, it ends the wait with ECANCELED.
class FdChannel : public Channel {
 public:
  FdChannel(Fd fd, std::chrono::milliseconds timeout, int cancel_fd = -1)
      : fd_(std::move(fd)), timeout_(timeout), cancel_fd_(cancel_fd) {}
  Result<void> read(std::span<uint8_t> dst) override;
  Result<void> write(std::span<const iovec> parts) override;
  using Channel::write;
  void set_timeout(std::chrono::milliseconds timeout) override { timeout_ = timeout; }
  int fd() const { return fd_.get(); }

 private:
  Result<void> wait(short events);
  Fd fd_;
  std::chrono::milliseconds timeout_;
  int cancel_fd_;
};

// Reads from a fixed buffer, drops writes (the fuzz target; tests of the receiver).
class BufferChannel : public Channel {
 public:
  explicit BufferChannel(std::span<const uint8_t> input) : input_(input) {}
  Result<void> read(std::span<uint8_t> dst) override;
  Result<void> write(std::span<const iovec> parts) override;
  using Channel::write;
  void set_timeout(std::chrono::milliseconds) override {}
  const std::vector<uint8_t>& written() const { return written_; }

 private:
  std::span<const uint8_t> input_;
  size_t pos_ = 0;
  std::vector<uint8_t> written_;
};

}  // namespace vessel::vmm::migration
