#include "base/fd.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

namespace vessel {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<Fd> Fd::open(const std::string& path, int flags, mode_t mode) {
  return openat(AT_FDCWD, path, flags, mode);
}

Result<Fd> Fd::openat(int dirfd, const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail_errno("cannot open {}", path);
  return Fd(fd);
}

Result<void> write_all(int fd, const void* data, size_t size) {
  auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> read_exact(int fd, void* data, size_t size) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read");
    }
    if (n == 0) return fail(EIO, "unexpected end of file");
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> pread_exact(int fd, void* data, size_t size, uint64_t offset) {
  auto* p = static_cast<uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("pread at offset {}", offset);
    }
    if (n == 0) return fail(EIO, "unexpected end of file at offset {}", offset);
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Result<void> pwrite_all(int fd, const void* data, size_t size, uint64_t offset) {
  auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("pwrite at offset {}", offset);
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Result<std::string> read_file(const std::string& path) {
  Fd fd = TRY(Fd::open(path, O_RDONLY));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("cannot read {}", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<void> write_file(const std::string& path, const std::string& content) {
  Fd fd = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  return write_all(fd.get(), content.data(), content.size())
      .map_error([&](Error e) { return std::move(e).add_context("cannot write " + path); });
}

Mmap& Mmap::operator=(Mmap&& other) noexcept {
  if (this != &other) {
    reset();
    addr_ = std::exchange(other.addr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void Mmap::reset() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
}

Result<Mmap> Mmap::anonymous(size_t size, int prot, int extra_flags) {
  void* p = ::mmap(nullptr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra_flags,
                   -1, 0);
  if (p == MAP_FAILED) return fail_errno("cannot map {} bytes of anonymous memory", size);
  return Mmap(p, size);
}

Result<Mmap> Mmap::map(int fd, size_t size, int prot, int flags, off_t offset) {
  void* p = ::mmap(nullptr, size, prot, flags, fd, offset);
  if (p == MAP_FAILED) return fail_errno("cannot map {} bytes", size);
  return Mmap(p, size);
}

Result<EventFd> EventFd::create(unsigned initial, int flags) {
  int fd = ::eventfd(initial, flags | EFD_CLOEXEC);
  if (fd < 0) return fail_errno("eventfd");
  return EventFd(Fd(fd));
}

Result<void> EventFd::signal(uint64_t value) const {
  return write_all(fd_.get(), &value, sizeof value);
}

Result<uint64_t> EventFd::consume() const {
  uint64_t value = 0;
  for (;;) {
    ssize_t n = ::read(fd_.get(), &value, sizeof value);
    if (n == sizeof value) return value;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    return fail_errno("eventfd read");
  }
}

}  // namespace vessel
