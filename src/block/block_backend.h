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
#include <vector>

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
  // A live migration's hand-over (docs/vmm/migration.md): `release` drops this image's own
  // locks (the sender, paused, so that the receiving process can open the image); otherwise
  // takes them again (the migration failed). Only a writable image's locks keep others out.
  virtual Result<void> hand_over_lock(bool release) {
    (void)release;
    return {};
  }
};

// Which backing files a qcow2 image may bring in: its backing file name is bytes of the image,
// and whoever wrote the image chose it (docs/block/README.md, "Backing files").
enum class BackingPolicy {
  // Only relative names that stay inside the naming image's folder: no absolute name, no '..'
  // component, no symbolic link leading out of the folder. The default.
  Inside,
  // qemu-img's rule: absolute names as they are, relative ones from the naming image's folder,
  // '..' included. For the administrator's own images (vessel-img's default).
  Follow,
  // Only the files listed in OpenOptions::allowed_backing (compared after resolving symbolic
  // links), whatever the name; an image naming any other file does not open (vessel-vmm).
  Listed,
  // An image that names a backing file does not open.
  Refuse,
};

struct OpenOptions {
  bool read_only = false;
  BackingPolicy backing = BackingPolicy::Inside;
  std::vector<std::string> allowed_backing;  // for BackingPolicy::Listed
  // A backing file whose format the image does not record is probed (qemu-img does); vessel-vmm
  // refuses such chains instead.
  bool probe_backing_format = true;
  // Image locks (image_lock.h): a read-only open takes a reader's locks, a read-write open a
  // writer's. `force_share` (qemu-img -U, read-only opens only) tolerates writers.
  bool lock = true;
  bool force_share = false;
  // cache=unsafe: flush() writes the metadata (qcow2) but never waits for the disk.
  bool unsafe_cache = false;
};

// Opens an image of a known format (formats are never guessed for a writable disk).
Result<std::unique_ptr<BlockBackend>> open_backend(const std::string& path, Format format,
                                                   const OpenOptions& options);

}  // namespace vessel::block
