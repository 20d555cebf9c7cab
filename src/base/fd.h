// Move-only RAII handles for kernel objects: file descriptors, memory mappings, eventfds.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace vessel {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

  // open(2) with O_CLOEXEC always added.
  static Result<Fd> open(const std::string& path, int flags, mode_t mode = 0);
  static Result<Fd> openat(int dirfd, const std::string& path, int flags, mode_t mode = 0);

 private:
  int fd_ = -1;
};

// Reads or writes exactly `size` bytes, retrying on EINTR and short transfers.
Result<void> write_all(int fd, const void* data, size_t size);
inline Result<void> write_all(int fd, std::string_view data) { return write_all(fd, data.data(), data.size()); }
Result<void> read_exact(int fd, void* data, size_t size);
Result<void> pread_exact(int fd, void* data, size_t size, uint64_t offset);
Result<void> pwrite_all(int fd, const void* data, size_t size, uint64_t offset);

Result<std::string> read_file(const std::string& path);
Result<void> write_file(const std::string& path, const std::string& content);

class Mmap {
 public:
  Mmap() = default;
  Mmap(void* addr, size_t size) : addr_(addr), size_(size) {}
  Mmap(const Mmap&) = delete;
  Mmap& operator=(const Mmap&) = delete;
  Mmap(Mmap&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mmap& operator=(Mmap&& other) noexcept;
  ~Mmap() { reset(); }

  // Anonymous private memory (MAP_NORESERVE: guest RAM is committed as it is touched).
  static Result<Mmap> anonymous(size_t size, int prot, int extra_flags = 0);
  static Result<Mmap> map(int fd, size_t size, int prot, int flags, off_t offset = 0);

  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
  size_t size() const { return size_; }
  bool valid() const { return addr_ != nullptr; }
  void reset();

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// An eventfd: the doorbell of the message queues between threads, and ioeventfd/irqfd for KVM.
class EventFd {
 public:
  static Result<EventFd> create(unsigned initial = 0, int flags = 0);
  int fd() const { return fd_.get(); }
  Result<void> signal(uint64_t value = 1) const;
  // Reads and clears the counter; with EFD_NONBLOCK returns 0 when nothing was signalled.
  Result<uint64_t> consume() const;

 private:
  explicit EventFd(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace vessel
