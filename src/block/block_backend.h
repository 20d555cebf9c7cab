// The interface between virtio-blk (src/vmm/devices/virtio/block) and the disk formats
// (raw, qcow2) of src/block. Offsets and lengths are in bytes; every call is bounds-checked by the
// backend against size(). Backends are used from one device thread; submit-style async I/O is an
// implementation detail behind these calls (io_uring or a thread pool).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/error.h"

namespace vessel::block {

enum class Format { Raw, Qcow2 };

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;
  virtual uint64_t size() const = 0;       // virtual disk size in bytes
  virtual bool read_only() const = 0;
  virtual Result<void> readv(uint64_t offset, std::span<const iovec> iov) = 0;
  virtual Result<void> writev(uint64_t offset, std::span<const iovec> iov) = 0;
  virtual Result<void> flush() = 0;
  // Deallocates a range (raw: punch hole; qcow2: zero/discard clusters). Reads then return zeros
  // when `zero` is true.
  virtual Result<void> discard(uint64_t offset, uint64_t len, bool zero) = 0;
};

struct OpenOptions {
  bool read_only = false;
};

// Opens an image of a known format (formats are never guessed for a writable disk).
Result<std::unique_ptr<BlockBackend>> open_backend(const std::string& path, Format format,
                                                   const OpenOptions& options);

}  // namespace vessel::block
