// The raw format: the disk is the file, byte for byte. Sparse files stay sparse; discard punches holes.
#pragma once

#include "base/fd.h"
#include "block/block_backend.h"

namespace vessel::block {

class RawBackend final : public BlockBackend {
 public:
  static Result<std::unique_ptr<RawBackend>> open(const std::string& path, const OpenOptions& options);
  // Wraps an already-open file (used by qcow2 for its data file and by tests).
  static Result<std::unique_ptr<RawBackend>> from_fd(Fd fd, bool read_only);

  uint64_t size() const override { return size_; }
  bool read_only() const override { return read_only_; }
  Result<void> readv(uint64_t offset, std::span<const iovec> iov) override;
  Result<void> writev(uint64_t offset, std::span<const iovec> iov) override;
  Result<void> flush() override;
  Result<void> discard(uint64_t offset, uint64_t len, bool zero) override;

  Result<void> hand_over_lock(bool release) override;

  int fd() const { return fd_.get(); }
  // Changes the file length (vessel-img resize).
  Result<void> truncate(uint64_t new_size);

 private:
  RawBackend(Fd fd, uint64_t size, bool read_only) : fd_(std::move(fd)), size_(size), read_only_(read_only) {}
  Fd fd_;
  uint64_t size_;
  bool read_only_;
  bool unsafe_cache_ = false;  // flush() does not wait for the disk
  std::string path_;           // as opened by open(), with its options: its locks (hand_over_lock)
  OpenOptions options_;
};

// Bounds check shared by the backends: [offset, offset+len) inside [0, size), overflow-safe.
Result<void> check_range(uint64_t offset, uint64_t len, uint64_t size);
uint64_t iov_length(std::span<const iovec> iov);

// preadv/pwritev until done, retrying short transfers and EINTR. Reads past EOF yield zeros.
// Large transfers are split over the I/O pool (io_pool.h); the _serial forms never are.
Result<void> preadv_serial(int fd, std::span<const iovec> iov, uint64_t offset);
Result<void> pwritev_serial(int fd, std::span<const iovec> iov, uint64_t offset);
Result<void> preadv_full(int fd, std::span<const iovec> iov, uint64_t offset);
Result<void> pwritev_full(int fd, std::span<const iovec> iov, uint64_t offset);

}  // namespace vessel::block
