// Refcounts of an open qcow2 image and the allocation of its host clusters: the refcount table,
// a cache of its blocks, and the decrements that wait until nothing on disk points at a cluster.
#pragma once

#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "block/qcow2_format.h"

namespace vessel::block::qcow2 {

// One refcount of any width (refcount_order 0..6) in a refcount block's on-disk bytes.
uint64_t refcount_at(const std::vector<uint8_t>& block, uint64_t index, uint32_t order);
void set_refcount_at(std::vector<uint8_t>& block, uint64_t index, uint32_t order, uint64_t value);

// The image file as the metadata caches share it.
struct HostFile {
  int fd = -1;
  std::unordered_set<uint64_t> metadata;  // host cluster indexes holding metadata
  uint64_t next_free = 0;                 // allocations always append
  bool unsafe_cache = false;              // sync() does not wait for the disk (cache=unsafe)

  bool is_metadata(uint64_t host, const Header& h) const { return metadata.count(host >> h.cluster_bits) != 0; }
  void add_metadata(uint64_t host, uint64_t clusters, const Header& h) {
    for (uint64_t i = 0; i < clusters; ++i) metadata.insert((host >> h.cluster_bits) + i);
  }
  Result<void> sync() const;
};

class Refcounts {
 public:
  // `h` is the image's header: growing the table moves h.reftable_offset and reftable_clusters.
  Refcounts(HostFile& file, Header& h) : file_(file), h_(h) {}

  // Reads the table and marks it as metadata; check_blocks() then validates and marks its blocks.
  Result<void> read_table();
  Result<void> check_blocks(uint64_t file_size);
  // After a crash the last counted cluster may lie past the end of the file: never hand it out.
  Result<void> find_allocation_end();

  uint64_t max() const { return h_.refcount_order == 6 ? UINT64_MAX : (1ull << h_.refcount_bits()) - 1; }
  Result<uint64_t> get(uint64_t host_offset);
  Result<void> update(uint64_t host_offset, int64_t delta);
  // `n` new clusters at the end of the file, counted once.
  Result<uint64_t> alloc(uint64_t n);
  // A reference dropped: applied by release_pending(), once the new parents are on disk.
  void decref_later(uint64_t host_offset) { pending_decrefs_.push_back({host_offset, -1}); }

  // The steps of the crash-safe flush that concern refcounts (see Qcow2Backend::flush).
  Result<void> write_blocks();
  bool table_dirty() const { return table_dirty_; }
  Result<void> write_table();  // and the header fields when the table moved
  Result<void> release_pending();

 private:
  struct Block {
    std::vector<uint8_t> bytes;  // on-disk layout
    bool dirty = false;
  };
  Result<Block*> block(uint64_t table_index, bool allocate);
  Result<void> grow_table(uint64_t min_entries);

  HostFile& file_;
  Header& h_;
  std::vector<uint64_t> table_;
  bool table_dirty_ = false;
  bool table_moved_ = false;
  std::unordered_map<uint64_t, Block> blocks_;                 // by refcount block host offset
  std::vector<std::pair<uint64_t, int64_t>> pending_decrefs_;  // applied after parents are on disk
  std::vector<uint64_t> freed_;  // host clusters to punch after their refcount reached 0
};

}  // namespace vessel::block::qcow2
