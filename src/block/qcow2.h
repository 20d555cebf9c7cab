// The qcow2 backend: L1/L2 mapping with an L2 cache (qcow2_l2cache.h), refcounts of any width
// (qcow2_refcount.h), zero and compressed clusters, backing chains. This class is the I/O on top:
// qcow2.cc opens and flushes, qcow2_io.cc reads and writes, qcow2_compressed.cc,
// qcow2_resize.cc and qcow2_backing.cc do the rest. Metadata updates are cached and written at flush() in crash-safe
// order: new refcounts reach the disk before anything points at the clusters they count, tables
// reach the disk before their parents point at them, and refcount decrements come last. A crash
// therefore leaves an image that `qemu-img check` calls clean or leaky, never corrupt.
// All calls are safe from several threads at once (see mu_).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/fd.h"
#include "block/block_backend.h"
#include "block/iov_cursor.h"
#include "block/qcow2_format.h"
#include "block/qcow2_l2cache.h"
#include "block/qcow2_refcount.h"

namespace vessel::block {

// What one guest range maps to (vessel-img map, convert, commit).
struct Extent {
  enum class Kind { Data, Zero, Compressed, Unallocated };
  Kind kind;
  uint64_t offset;  // guest offset
  uint64_t length;
  uint64_t host = 0;  // host offset for Data
};

class Qcow2Backend final : public BlockBackend {
 public:
  // `backing` is the already-opened backing chain (nullptr for none); see open_image() in image.h.
  static Result<std::unique_ptr<Qcow2Backend>> open(const std::string& path, const OpenOptions& options,
                                                    std::unique_ptr<BlockBackend> backing,
                                                    bool allow_corrupt_read_only = true);
  // Parses just the header (for the chain opener and `info`).
  static Result<qcow2::Header> read_header(int fd);
  ~Qcow2Backend() override;

  uint64_t size() const override { return h_.size; }
  bool read_only() const override { return read_only_; }
  Result<void> readv(uint64_t offset, std::span<const iovec> iov) override;
  Result<void> writev(uint64_t offset, std::span<const iovec> iov) override;
  Result<void> flush() override;
  Result<void> discard(uint64_t offset, uint64_t len, bool zero) override;
  // The top image's own locks (a backing file is read-only: its reader locks share).
  Result<void> hand_over_lock(bool release) override;

  // Writes one whole guest cluster compressed (convert -c); stores it plain if it does not shrink.
  Result<void> write_compressed(uint64_t offset, std::span<const uint8_t> cluster);
  // The same with the compression already done (convert compresses on several threads):
  // `packed` is compress_cluster()'s result for `cluster`.
  Result<void> write_precompressed(uint64_t offset, std::span<const uint8_t> cluster,
                                   const std::optional<std::vector<uint8_t>>& packed);
  // Mapping of [offset, offset+len) in this layer only, merged into extents.
  Result<std::vector<Extent>> map(uint64_t offset, uint64_t len);
  // Grows (or, if nothing is mapped past the new end, shrinks) the virtual disk.
  Result<void> resize(uint64_t new_size);
  // Makes every cluster unallocated again (commit without -d).
  Result<void> make_empty();
  // Rewrites the backing file name and format in the header (rebase, commit).
  Result<void> set_backing(const std::string& file, const std::string& format);

  // cache=unsafe (qemu-img convert's default): flush() writes metadata in the same order but
  // never waits for the disk. Only for outputs that are worthless after a crash anyway.
  void set_unsafe_cache(bool unsafe) { file_.unsafe_cache = unsafe; }

  const qcow2::Header& header() const { return h_; }
  BlockBackend* backing() const { return backing_.get(); }
  uint64_t cluster_size() const { return h_.cluster_size(); }
  int fd() const { return fd_.get(); }

 private:
  Qcow2Backend(Fd fd, qcow2::Header h, bool read_only, std::unique_ptr<BlockBackend> backing);
  struct Segment {
    uint64_t host;
    std::vector<iovec> iov;
  };
  Result<void> load_tables(uint64_t file_size);

  // I/O (qcow2_io.cc).
  Result<void> writev_locked(uint64_t offset, std::span<const iovec> iov, std::vector<Segment>& segs);
  Result<void> write_new_clusters(uint64_t& offset, uint64_t& len, IovCursor& cur, uint64_t entry);
  Result<void> set_entry(uint64_t guest_cluster, uint64_t entry);
  Result<void> check_data_cluster(uint64_t host, uint64_t guest_cluster, uint64_t entry);
  Result<void> read_cluster_piece(uint64_t guest_cluster, uint64_t entry, uint64_t in_cluster,
                                  std::span<const iovec> iov);
  Result<void> release_entry(uint64_t entry);
  // Compressed clusters (qcow2_compressed.cc).
  Result<void> read_compressed(uint64_t entry, std::vector<uint8_t>& out);
  // The backing file (qcow2_backing.cc).
  Result<void> read_backing(uint64_t offset, std::span<const iovec> iov);

  // Header fields written in place.
  Result<void> write_header_field64(int field, uint64_t value);
  Result<void> mark_corrupt(const Error& why);

  // Guards all metadata. Data transfers to already-mapped clusters run outside it, so several
  // threads may call readv/writev at once and their data I/O proceeds in parallel.
  std::recursive_mutex mu_;
  Fd fd_;
  qcow2::Header h_;
  bool read_only_;
  std::unique_ptr<BlockBackend> backing_;
  std::string path_;  // as opened, with its options: its locks (hand_over_lock)
  OpenOptions options_;

  qcow2::HostFile file_;
  qcow2::Refcounts refs_;
  qcow2::L2Cache l2_;
  uint64_t compressed_cursor_ = 0;  // where the next compressed cluster may go (0: none)
  std::vector<uint8_t> zbuf_;       // last decompressed cluster
  uint64_t zbuf_entry_ = 0;
};

}  // namespace vessel::block
