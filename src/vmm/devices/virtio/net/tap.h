// The host end of a virtio-net device: a tap (/dev/net/tun, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
// 12-byte vnet header, non-blocking), or in unit tests any datagram fd that keeps frame
// boundaries (a SOCK_SEQPACKET socketpair) standing in for it.
//
// Attaching needs no CAP_NET_ADMIN when the tap already exists and belongs to our uid (the
// jailed vessel-vmm's case): TUNSETIFF on an existing tap only checks its owner. A tap that does
// not exist is an error, never created behind the caller's back.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm::virtio::net {

class Tap {
 public:
  // Attaches to the existing tap `name`.
  static Result<Tap> open(const std::string& name);
  // Any fd that reads and writes one frame per call (tests); offloads are then a no-op.
  static Tap adopt(Fd fd, std::string name) { return Tap(std::move(fd), std::move(name), false); }

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  // TUNSETOFFLOAD with TUN_F_* flags: which offloaded frames the tap may hand us.
  Result<void> set_offload(unsigned flags);
  // One frame (vnet header first); std::nullopt when the call would block (EAGAIN). A read of
  // 0 bytes is the other end gone (a test's socketpair; a tap never does it).
  Result<std::optional<size_t>> read(std::span<uint8_t> buffer);
  Result<std::optional<size_t>> write(std::span<const iovec> frame);

 private:
  Tap(Fd fd, std::string name, bool is_tap)
      : fd_(std::move(fd)), name_(std::move(name)), is_tap_(is_tap) {}
  Fd fd_;
  std::string name_;
  bool is_tap_;
};

}  // namespace vessel::vmm::virtio::net
