#include "block/qcow2_l2cache.h"

#include <algorithm>

#include "base/fd.h"

namespace vessel::block::qcow2 {

namespace {
constexpr size_t kL2CacheBytes = 32u << 20;
}  // namespace

Result<void> L2Cache::read_l1() {
  uint64_t cs = h_.cluster_size();
  capacity_ = std::max<size_t>(16, kL2CacheBytes / cs);
  std::vector<uint8_t> buf(uint64_t{h_.l1_size} * 8);
  TRY_CTX(pread_exact(file_.fd, buf.data(), buf.size(), h_.l1_offset), "read L1 table");
  l1_.resize(h_.l1_size);
  for (uint64_t i = 0; i < l1_.size(); ++i) l1_[i] = be64(buf.data() + i * 8);
  file_.add_metadata(h_.l1_offset, (buf.size() + cs - 1) / cs, h_);
  return {};
}

Result<void> L2Cache::check_tables(uint64_t file_size) {
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    uint64_t off = l1_[i] & kOffsetMask;
    if (off == 0) continue;
    uint64_t at = h_.l1_offset + i * 8;
    if (off % h_.cluster_size() != 0)
      return fail(EUCLEAN, "L2 table offset {:#x} in L1 entry {} (at {:#x}) is not cluster aligned", off, i, at);
    if (off >= file_size)
      return fail(EUCLEAN, "L2 table offset {:#x} in L1 entry {} (at {:#x}) is past the end of the file", off, i, at);
    if (file_.is_metadata(off, h_))
      return fail(EUCLEAN, "L2 table offset {:#x} in L1 entry {} (at {:#x}) overlaps other metadata", off, i, at);
    file_.add_metadata(off, 1, h_);
  }
  return {};
}

Result<void> L2Cache::evict_if_needed() {
  if (cache_.size() < capacity_) return {};
  auto victim = cache_.end();
  for (auto it = cache_.begin(); it != cache_.end(); ++it)
    if (!it->second.dirty && (victim == cache_.end() || it->second.last_use < victim->second.last_use))
      victim = it;
  if (victim == cache_.end()) {
    TRY(flush_all_());  // every table is dirty: write them out in order, then any may go
    victim = cache_.begin();
  }
  cache_.erase(victim);
  return {};
}

Result<L2Cache::Table*> L2Cache::table(uint64_t l1_index, bool allocate) {
  uint64_t off = l1_[l1_index] & kOffsetMask;
  if (off == 0) {
    if (!allocate) return nullptr;
    TRY(evict_if_needed());
    off = TRY(refs_.alloc(1));
    file_.add_metadata(off, 1, h_);
    Table& t = cache_[off];
    t.entries.assign(h_.l2_entries(), 0);
    t.dirty = true;
    t.last_use = ++use_clock_;
    l1_[l1_index] = off | kFlagCopied;
    l1_dirty_ = true;
    return &t;
  }
  if (auto it = cache_.find(off); it != cache_.end()) {
    it->second.last_use = ++use_clock_;
    return &it->second;
  }
  TRY(evict_if_needed());
  std::vector<uint8_t> buf(h_.cluster_size());
  TRY_CTX(pread_exact(file_.fd, buf.data(), buf.size(), off), "read L2 table at {:#x}", off);
  Table& t = cache_[off];
  t.entries.resize(h_.l2_entries());
  for (uint64_t i = 0; i < t.entries.size(); ++i) t.entries[i] = be64(buf.data() + i * 8);
  t.last_use = ++use_clock_;
  return &t;
}

Result<uint64_t> L2Cache::entry(uint64_t guest_cluster) {
  uint64_t l1i = guest_cluster >> (h_.cluster_bits - 3);
  if (l1i >= l1_.size()) return 0;
  Table* t = TRY(table(l1i, false));
  if (!t) return 0;
  uint64_t e = t->entries[guest_cluster & (h_.l2_entries() - 1)];
  if (h_.version == 2 && !(e & kFlagCompressed)) e &= ~kFlagZero;  // bit 0 is reserved in v2
  return e;
}

Result<void> L2Cache::set_entry(uint64_t guest_cluster, uint64_t entry) {
  uint64_t l1i = guest_cluster >> (h_.cluster_bits - 3);
  Table* t = TRY(table(l1i, true));
  t->entries[guest_cluster & (h_.l2_entries() - 1)] = entry;
  t->dirty = true;
  return {};
}

Result<bool> L2Cache::write_tables() {
  bool wrote = false;
  for (auto& [off, t] : cache_)
    if (t.dirty) {
      std::vector<uint8_t> buf(h_.cluster_size());
      for (uint64_t i = 0; i < t.entries.size(); ++i) put_be64(&buf[i * 8], t.entries[i]);
      TRY(pwrite_all(file_.fd, buf.data(), buf.size(), off));
      t.dirty = false;
      wrote = true;
    }
  return wrote;
}

Result<void> L2Cache::write_l1() {
  std::vector<uint8_t> buf(l1_.size() * 8);
  for (uint64_t i = 0; i < l1_.size(); ++i) put_be64(&buf[i * 8], l1_[i]);
  TRY(pwrite_all(file_.fd, buf.data(), buf.size(), h_.l1_offset));
  l1_dirty_ = false;
  return {};
}

}  // namespace vessel::block::qcow2
