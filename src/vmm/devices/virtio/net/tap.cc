#include "vmm/devices/virtio/net/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "vmm/devices/virtio/net/net_frame.h"

namespace vessel::vmm::virtio::net {
namespace {

Result<Fd> set_iff(const std::string& name, short extra_flags) {
  Fd fd = TRY(Fd::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | extra_flags);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return fail_errno("TUNSETIFF {}", name);
  return fd;
}

}  // namespace

Result<Tap> Tap::open(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return fail(EINVAL, "tap name '{}' must be 1..{} characters", name, IFNAMSIZ - 1);
  // Does it exist? IFF_TUN_EXCL refuses an existing device with EBUSY before any capability
  // check; without CAP_NET_ADMIN a missing one is EPERM; with it, we just made a transient one,
  // which closing the fd removes again. We attach only to taps someone created for this VM.
  auto probe = set_iff(name, IFF_TUN_EXCL);
  if (probe || probe.error().errnum() == EPERM)
    return fail(ENODEV,
                "tap '{}' does not exist (create it first: ip tuntap add {} mode tap user <uid>)",
                name, name);
  if (probe.error().errnum() != EBUSY) return tl::unexpected(probe.error());
  Fd fd = TRY_CTX(set_iff(name, 0), "attach to tap '{}' (is it a tap owned by this user?)", name);
  int size = kHeaderSize;
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) < 0)
    return fail_errno("TUNSETVNETHDRSZ {} on {}", size, name);
  // No offloads until the driver says which it accepts (activate).
  if (::ioctl(fd.get(), TUNSETOFFLOAD, 0u) < 0) return fail_errno("TUNSETOFFLOAD 0 on {}", name);
  return Tap(std::move(fd), name, true);
}

Result<void> Tap::set_offload(unsigned flags) {
  if (!is_tap_) return {};
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, flags) < 0)
    return fail_errno("TUNSETOFFLOAD {:#x} on {}", flags, name_);
  return {};
}

Result<std::optional<size_t>> Tap::read(std::span<uint8_t> buffer) {
  for (;;) {
    ssize_t n = ::read(fd_.get(), buffer.data(), buffer.size());
    if (n >= 0) return std::optional<size_t>(static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return std::optional<size_t>();
    return fail_errno("read from tap {}", name_);
  }
}

Result<std::optional<size_t>> Tap::write(std::span<const iovec> frame) {
  for (;;) {
    ssize_t n = ::writev(fd_.get(), frame.data(), static_cast<int>(frame.size()));
    if (n >= 0) return std::optional<size_t>(static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return std::optional<size_t>();
    return fail_errno("write to tap {}", name_);
  }
}

}  // namespace vessel::vmm::virtio::net
