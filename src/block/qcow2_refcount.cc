#include "block/qcow2_refcount.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>

#include "base/fd.h"

namespace vessel::block::qcow2 {

uint64_t refcount_at(const std::vector<uint8_t>& b, uint64_t i, uint32_t order) {
  switch (order) {
    case 0: case 1: case 2: {
      uint32_t bits = 1u << order;
      uint64_t per_byte = 8 / bits;
      return (b[i / per_byte] >> ((i % per_byte) * bits)) & ((1u << bits) - 1);
    }
    case 3: return b[i];
    case 4: return be16(&b[i * 2]);
    case 5: return be32(&b[i * 4]);
    default: return be64(&b[i * 8]);
  }
}

void set_refcount_at(std::vector<uint8_t>& b, uint64_t i, uint32_t order, uint64_t v) {
  switch (order) {
    case 0: case 1: case 2: {
      uint32_t bits = 1u << order;
      uint64_t per_byte = 8 / bits;
      uint32_t shift = static_cast<uint32_t>((i % per_byte) * bits);
      uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << shift);
      b[i / per_byte] = static_cast<uint8_t>((b[i / per_byte] & ~mask) | ((v << shift) & mask));
      return;
    }
    case 3: b[i] = static_cast<uint8_t>(v); return;
    case 4: put_be16(&b[i * 2], static_cast<uint16_t>(v)); return;
    case 5: put_be32(&b[i * 4], static_cast<uint32_t>(v)); return;
    default: put_be64(&b[i * 8], v); return;
  }
}

Result<void> HostFile::sync() const {
  if (unsafe_cache) return {};
  if (::fdatasync(fd) < 0) return fail_errno("fdatasync qcow2 image");
  return {};
}

Result<void> Refcounts::read_table() {
  std::vector<uint8_t> buf(uint64_t{h_.reftable_clusters} * h_.cluster_size());
  TRY_CTX(pread_exact(file_.fd, buf.data(), buf.size(), h_.reftable_offset), "read refcount table");
  table_.resize(buf.size() / 8);
  for (uint64_t i = 0; i < table_.size(); ++i) table_[i] = be64(buf.data() + i * 8);
  file_.add_metadata(h_.reftable_offset, h_.reftable_clusters, h_);
  return {};
}

Result<void> Refcounts::check_blocks(uint64_t file_size) {
  for (uint64_t i = 0; i < table_.size(); ++i) {
    uint64_t off = table_[i] & ~0x1ffull;
    if (off == 0) continue;
    uint64_t at = h_.reftable_offset + i * 8;
    if (off % h_.cluster_size() != 0)
      return fail(EUCLEAN, "refcount block offset {:#x} in refcount table entry {} (at {:#x}) is not cluster aligned", off, i, at);
    if (off >= file_size)
      return fail(EUCLEAN, "refcount block offset {:#x} in refcount table entry {} (at {:#x}) is past the end of the file", off, i, at);
    if (file_.is_metadata(off, h_))
      return fail(EUCLEAN, "refcount block offset {:#x} in refcount table entry {} (at {:#x}) overlaps other metadata", off, i, at);
    file_.add_metadata(off, 1, h_);
  }
  return {};
}

// The last cluster with a nonzero refcount ends the allocations. Each refcount block is scanned
// from its end as bytes (one nonzero byte holds a nonzero entry), not entry by entry: a block of a
// 2 MiB-cluster image with 1-bit refcounts holds 16 M entries. A block read only for this scan is
// not kept: a hostile table can name many blocks.
Result<void> Refcounts::find_allocation_end() {
  uint64_t per = h_.refblock_entries();
  std::vector<uint8_t> scratch;
  for (uint64_t ti = table_.size(); ti-- > 0;) {
    uint64_t off = table_[ti] & ~0x1ffull;
    if (off == 0) continue;
    const std::vector<uint8_t>* bytes = &scratch;
    if (auto it = blocks_.find(off); it != blocks_.end()) {
      bytes = &it->second.bytes;
    } else {
      scratch.resize(h_.cluster_size());
      TRY_CTX(pread_exact(file_.fd, scratch.data(), scratch.size(), off), "read refcount block at {:#x}", off);
    }
    auto last = std::find_if(bytes->rbegin(), bytes->rend(), [](uint8_t b) { return b != 0; });
    if (last == bytes->rend()) continue;
    uint64_t byte = static_cast<uint64_t>(bytes->rend() - last) - 1;
    // The entries that share this byte (several for refcounts under 8 bits): the highest nonzero one.
    for (uint64_t i = std::min(per - 1, ((byte + 1) * 8 - 1) >> h_.refcount_order);; --i) {
      if (refcount_at(*bytes, i, h_.refcount_order) != 0) {
        file_.next_free = std::max(file_.next_free, (ti * per + i + 1) << h_.cluster_bits);
        return {};
      }
      if (i == 0) break;
    }
  }
  return {};
}

Result<Refcounts::Block*> Refcounts::block(uint64_t table_index, bool allocate) {
  if (table_index >= table_.size()) {
    if (!allocate) return nullptr;
    TRY(grow_table(table_index + 1));
  }
  uint64_t off = table_[table_index] & ~0x1ffull;
  if (off == 0) {
    if (!allocate) return nullptr;
    off = file_.next_free;
    file_.next_free += h_.cluster_size();
    Block& b = blocks_[off];
    b.bytes.assign(h_.cluster_size(), 0);
    b.dirty = true;
    file_.add_metadata(off, 1, h_);
    table_[table_index] = off;
    table_dirty_ = true;
    TRY(update(off, +1));
    return &blocks_[off];
  }
  if (auto it = blocks_.find(off); it != blocks_.end()) return &it->second;
  Block& b = blocks_[off];
  b.bytes.resize(h_.cluster_size());
  auto r = pread_exact(file_.fd, b.bytes.data(), b.bytes.size(), off);
  if (!r) {
    blocks_.erase(off);
    return Unexpected(std::move(r.error()).add_context(fmt::format("read refcount block at {:#x}", off)));
  }
  return &b;
}

Result<uint64_t> Refcounts::get(uint64_t host_offset) {
  uint64_t cluster = host_offset >> h_.cluster_bits;
  uint64_t per = h_.refblock_entries();
  Block* b = TRY(block(cluster / per, false));
  if (!b) return 0;
  return refcount_at(b->bytes, cluster % per, h_.refcount_order);
}

Result<void> Refcounts::update(uint64_t host_offset, int64_t delta) {
  uint64_t cluster = host_offset >> h_.cluster_bits;
  uint64_t per = h_.refblock_entries();
  Block* b = TRY(block(cluster / per, delta > 0));
  if (!b) return fail(EUCLEAN, "refcount of cluster at {:#x} would drop below zero (no refcount block)", host_offset);
  uint64_t old = refcount_at(b->bytes, cluster % per, h_.refcount_order);
  if (delta > 0 && old > max() - static_cast<uint64_t>(delta))
    return fail(ERANGE, "refcount of cluster at {:#x} would overflow {} bits", host_offset, h_.refcount_bits());
  if (delta < 0 && old < static_cast<uint64_t>(-delta))
    return fail(EUCLEAN, "refcount of cluster at {:#x} would drop below zero", host_offset);
  uint64_t now = old + static_cast<uint64_t>(delta);
  set_refcount_at(b->bytes, cluster % per, h_.refcount_order, now);
  b->dirty = true;
  if (now == 0) freed_.push_back(cluster << h_.cluster_bits);
  return {};
}

Result<uint64_t> Refcounts::alloc(uint64_t n) {
  uint64_t off = file_.next_free;
  file_.next_free += n * h_.cluster_size();
  for (uint64_t i = 0; i < n; ++i) TRY(update(off + i * h_.cluster_size(), +1));
  return off;
}

Result<void> Refcounts::grow_table(uint64_t min_entries) {
  uint64_t cs = h_.cluster_size();
  uint64_t per_cluster = cs / 8;
  uint64_t want = std::max<uint64_t>(min_entries, table_.size() * 2);
  uint64_t clusters = (want + per_cluster - 1) / per_cluster;
  if (clusters * cs > kMaxRefTableBytes)
    return fail(EFBIG, "refcount table would exceed {} bytes", kMaxRefTableBytes);
  uint64_t off = file_.next_free;
  file_.next_free += clusters * cs;
  uint64_t old_off = h_.reftable_offset, old_clusters = h_.reftable_clusters;
  table_.resize(clusters * per_cluster, 0);
  h_.reftable_offset = off;
  h_.reftable_clusters = static_cast<uint32_t>(clusters);
  table_dirty_ = table_moved_ = true;
  file_.add_metadata(off, clusters, h_);
  for (uint64_t i = 0; i < clusters; ++i) TRY(update(off + i * cs, +1));
  for (uint64_t i = 0; i < old_clusters; ++i) pending_decrefs_.push_back({old_off + i * cs, -1});
  return {};
}

Result<void> Refcounts::write_blocks() {
  for (auto& [off, b] : blocks_)
    if (b.dirty) {
      TRY(pwrite_all(file_.fd, b.bytes.data(), b.bytes.size(), off));
      b.dirty = false;
    }
  return {};
}

Result<void> Refcounts::write_table() {
  std::vector<uint8_t> buf(table_.size() * 8);
  for (uint64_t i = 0; i < table_.size(); ++i) put_be64(&buf[i * 8], table_[i]);
  TRY(pwrite_all(file_.fd, buf.data(), buf.size(), h_.reftable_offset));
  if (table_moved_) {
    TRY(file_.sync());
    uint8_t f[12];
    put_be64(f, h_.reftable_offset);
    put_be32(f + 8, h_.reftable_clusters);
    TRY(pwrite_all(file_.fd, f, sizeof f, field::kRefTableOffset));
    table_moved_ = false;
  }
  table_dirty_ = false;
  return {};
}

Result<void> Refcounts::release_pending() {
  if (pending_decrefs_.empty()) return {};
  auto decrefs = std::move(pending_decrefs_);
  pending_decrefs_.clear();
  for (auto [off, delta] : decrefs) TRY(update(off, delta));
  TRY(write_blocks());
  for (uint64_t off : freed_)
    (void)::fallocate(file_.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                      static_cast<off_t>(h_.cluster_size()));
  freed_.clear();
  return {};
}

}  // namespace vessel::block::qcow2
