// Changing a qcow2 image's virtual size (growing L1 when needed), and emptying it (commit).
#include <algorithm>

#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Backend::resize(uint64_t new_size) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  if (new_size > kMaxDiskSize) return fail(EFBIG, "size {} is too large", new_size);
  uint64_t cs = h_.cluster_size();
  if (new_size < h_.size) {
    uint64_t from = (new_size + cs - 1) & ~(cs - 1);
    if (from < h_.size) {
      auto ext = TRY(map(from, h_.size - from));
      for (const auto& x : ext)
        if (x.kind != Extent::Kind::Unallocated)
          return fail(ENOTSUP, "shrinking would drop data mapped at guest offset {:#x}", x.offset);
    }
  }
  uint64_t need = l1_entries_for(new_size, h_.cluster_bits);
  if (need > l2_.l1().size()) {
    if (need * 8 > kMaxL1Bytes) return fail(EFBIG, "an L1 table for {} bytes would be too large", new_size);
    TRY(flush());
    const auto& l1 = l2_.l1();
    uint64_t clusters = (need * 8 + cs - 1) / cs;
    uint64_t off = TRY(refs_.alloc(clusters));
    file_.add_metadata(off, clusters, h_);
    std::vector<uint8_t> buf(clusters * cs, 0);
    for (uint64_t i = 0; i < l1.size(); ++i) put_be64(&buf[i * 8], l1[i]);
    TRY(pwrite_all(fd_.get(), buf.data(), buf.size(), off));
    TRY(flush());  // the new table and its refcounts are durable before the header points at it
    uint64_t old_off = h_.l1_offset, old_clusters = (l1.size() * 8 + cs - 1) / cs;
    uint8_t f[12];
    put_be32(f, static_cast<uint32_t>(need));
    put_be64(f + 4, off);
    TRY(pwrite_all(fd_.get(), f, sizeof f, field::kL1Size));
    TRY(file_.sync());
    l2_.grow_l1(need);
    h_.l1_size = static_cast<uint32_t>(need);
    h_.l1_offset = off;
    for (uint64_t i = 0; i < old_clusters && old_off != 0; ++i) refs_.decref_later(old_off + i * cs);
  }
  TRY(write_header_field64(field::kSize, new_size));
  h_.size = new_size;
  return flush();
}

Result<void> Qcow2Backend::make_empty() {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  uint64_t clusters = (h_.size + h_.cluster_size() - 1) >> h_.cluster_bits;
  for (uint64_t gc = 0; gc < clusters; ++gc) {
    uint64_t l1i = gc >> (h_.cluster_bits - 3);
    if (!l2_.has_table(l1i)) {
      gc = ((l1i + 1) << (h_.cluster_bits - 3)) - 1;  // skip a whole unmapped L2 range
      continue;
    }
    uint64_t e = TRY(l2_.entry(gc));
    if (e == 0) continue;
    TRY(set_entry(gc, 0));
    TRY(release_entry(e));
  }
  return flush();
}

}  // namespace vessel::block
