#include "vmm/memory/userfaultfd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace vessel::vmm::uffd {
namespace {

// USERFAULTFD_IOC_NEW on /dev/userfaultfd (kernel 6.1): -1 with errno when there is none or it
// may not be opened.
int from_device(int flags) {
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) return -1;
  int fd = ::ioctl(dev, USERFAULTFD_IOC_NEW, flags);
  int saved = errno;
  ::close(dev);
  errno = saved;
  return fd;
}

Result<void> handshake(int fd) {
  uffdio_api api{};
  api.api = UFFD_API;
  if (::ioctl(fd, UFFDIO_API, &api) != 0) return fail_errno("userfaultfd: UFFDIO_API");
  if (!(api.ioctls & (1ull << _UFFDIO_REGISTER))) return fail(ENOTSUP, "userfaultfd: UFFDIO_REGISTER is not offered");
  return {};
}

// Waiters on a page someone else filled must still be woken.
Result<void> wake(int uffd, uint64_t dst, uint64_t len) {
  uffdio_range r{dst, len};
  if (::ioctl(uffd, UFFDIO_WAKE, &r) != 0) return fail_errno("UFFDIO_WAKE at {:#x}", dst);
  return {};
}

}  // namespace

Result<Fd> create() {
  int flags = O_CLOEXEC | O_NONBLOCK;
  int fd = from_device(flags);
  int device_errno = errno;
  if (fd < 0) fd = static_cast<int>(::syscall(SYS_userfaultfd, flags));
  if (fd < 0) {
    int sys_errno = errno;
    auto e = Error(sys_errno, fmt::format("create a userfaultfd (/dev/userfaultfd: {}; the system call: {})",
                                          strerror(device_errno), strerror(sys_errno)));
    if (sys_errno == EPERM)
      return Unexpected(std::move(e).with_hint(
          "give vessel-vmm read-write access to /dev/userfaultfd (Linux 6.1+; vessel-jailer makes the node for the "
          "jail's uid), or run it as root, or set sysctl vm.unprivileged_userfaultfd=1"));
    return Unexpected(std::move(e));
  }
  Fd out(fd);
  TRY(handshake(out.get()));
  return out;
}

Result<void> register_missing(int uffd, void* addr, uint64_t len) {
  uffdio_register r{};
  r.range.start = reinterpret_cast<uint64_t>(addr);
  r.range.len = len;
  r.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (::ioctl(uffd, UFFDIO_REGISTER, &r) != 0) return fail_errno("UFFDIO_REGISTER [{}, +{:#x})", addr, len);
  if (!(r.ioctls & (1ull << _UFFDIO_COPY))) return fail(ENOTSUP, "userfaultfd: UFFDIO_COPY is not offered for guest RAM");
  return {};
}

bool is_userfaultfd(int fd) {
  char link[64];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  return std::string_view(link, static_cast<size_t>(n)) == "anon_inode:[userfaultfd]";
}

Result<std::optional<Event>> read_event(int uffd) {
  uffd_msg msg{};
  ssize_t n;
  do n = ::read(uffd, &msg, sizeof msg);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return std::nullopt;
  if (n < 0) return fail_errno("read the userfaultfd");
  if (n != sizeof msg) return fail(EIO, "read the userfaultfd: {} bytes, an event has {}", n, sizeof msg);
  Event e;
  if (msg.event != UFFD_EVENT_PAGEFAULT) return e;
  e.pagefault = true;
  e.address = msg.arg.pagefault.address;
  e.write = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
  return e;
}

Result<void> copy(int uffd, uint64_t dst, const void* src, uint64_t len) {
  for (;;) {
    uffdio_copy c{};
    c.dst = dst;
    c.src = reinterpret_cast<uint64_t>(src);
    c.len = len;
    if (::ioctl(uffd, UFFDIO_COPY, &c) == 0) return {};
    if (errno == EEXIST) return wake(uffd, dst, len);
    if (errno == EAGAIN) {
      // A concurrent change of the mapping (or a partial copy): try the rest again.
      if (c.copy > 0) {
        dst += static_cast<uint64_t>(c.copy);
        src = static_cast<const uint8_t*>(src) + c.copy;
        len -= static_cast<uint64_t>(c.copy);
      }
      if (len == 0) return {};
      continue;
    }
    return fail_errno("UFFDIO_COPY to {:#x} (+{:#x})", dst, len);
  }
}

Result<void> zeropage(int uffd, uint64_t dst, uint64_t len) {
  for (;;) {
    uffdio_zeropage z{};
    z.range.start = dst;
    z.range.len = len;
    if (::ioctl(uffd, UFFDIO_ZEROPAGE, &z) == 0) return {};
    if (errno == EEXIST) return wake(uffd, dst, len);
    if (errno == EAGAIN) {
      if (z.zeropage > 0) {
        dst += static_cast<uint64_t>(z.zeropage);
        len -= static_cast<uint64_t>(z.zeropage);
      }
      if (len == 0) return {};
      continue;
    }
    return fail_errno("UFFDIO_ZEROPAGE at {:#x} (+{:#x})", dst, len);
  }
}

}  // namespace vessel::vmm::uffd
