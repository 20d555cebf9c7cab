// The guest-to-host mapping of an open qcow2 image: the L1 table, held whole, and a cache of L2
// tables, least recently used first out. Dirty tables stay until the backend's flush writes them.
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "block/qcow2_refcount.h"

namespace vessel::block::qcow2 {

class L2Cache {
 public:
  // `flush_all` writes every dirty table in the crash-safe order: eviction calls it when every
  // cached table is dirty.
  L2Cache(HostFile& file, const Header& h, Refcounts& refs, std::function<Result<void>()> flush_all)
      : file_(file), h_(h), refs_(refs), flush_all_(std::move(flush_all)) {}

  // Reads L1 and marks it as metadata; check_tables() then validates and marks the L2 tables.
  Result<void> read_l1();
  Result<void> check_tables(uint64_t file_size);

  // The L2 entry of a guest cluster (0: unallocated). Version 2 entries come with bit 0 cleared.
  Result<uint64_t> entry(uint64_t guest_cluster);
  // Allocates the L2 table when needed.
  Result<void> set_entry(uint64_t guest_cluster, uint64_t entry);
  // Whether L1 entry `l1_index` has an L2 table.
  bool has_table(uint64_t l1_index) const { return (l1_[l1_index] & kOffsetMask) != 0; }

  const std::vector<uint64_t>& l1() const { return l1_; }
  // After resize wrote a larger copy of L1 and pointed the header at it.
  void grow_l1(uint64_t entries) { l1_.resize(entries, 0); }

  // The steps of the crash-safe flush that concern the mapping (see Qcow2Backend::flush).
  Result<bool> write_tables();  // whether any table was written
  bool l1_dirty() const { return l1_dirty_; }
  Result<void> write_l1();

 private:
  struct Table {
    std::vector<uint64_t> entries;  // host byte order
    bool dirty = false;
    uint64_t last_use = 0;
  };
  Result<Table*> table(uint64_t l1_index, bool allocate);
  Result<void> evict_if_needed();

  HostFile& file_;
  const Header& h_;
  Refcounts& refs_;
  std::function<Result<void>()> flush_all_;
  std::vector<uint64_t> l1_;
  bool l1_dirty_ = false;
  std::unordered_map<uint64_t, Table> cache_;  // by L2 table host offset
  uint64_t use_clock_ = 0;
  size_t capacity_ = 0;
};

}  // namespace vessel::block::qcow2
