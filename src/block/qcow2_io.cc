// Guest reads and writes of a qcow2 image: clusters already mapped are transferred outside the
// metadata lock; writes to unmapped or shared clusters allocate a run of new clusters, copy what
// the write does not cover from the old mapping, and point the L2 entries at them.
#include <algorithm>

#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Backend::set_entry(uint64_t guest_cluster, uint64_t entry) {
  TRY(l2_.set_entry(guest_cluster, entry));
  zbuf_entry_ = 0;
  return {};
}

Result<void> Qcow2Backend::check_data_cluster(uint64_t host, uint64_t guest_cluster, uint64_t entry) {
  uint64_t guest = guest_cluster << h_.cluster_bits;
  if (entry & kL2Reserved & ~kFlagZero)
    return fail(EUCLEAN, "L2 entry {:#x} for guest offset {:#x} has reserved bits set", entry, guest);
  if (host % h_.cluster_size() != 0)
    return fail(EUCLEAN, "L2 entry {:#x} for guest offset {:#x} has an unaligned host offset {:#x}", entry, guest, host);
  if (file_.is_metadata(host, h_))
    return fail(EUCLEAN, "L2 entry for guest offset {:#x} points into metadata at host offset {:#x}", guest, host);
  if (host >= file_.next_free)
    return fail(EUCLEAN, "L2 entry for guest offset {:#x} points past the end of the file (host offset {:#x})", guest, host);
  return {};
}

Result<void> Qcow2Backend::read_cluster_piece(uint64_t guest_cluster, uint64_t entry, uint64_t in_cluster,
                                              std::span<const iovec> iov) {
  uint64_t guest = (guest_cluster << h_.cluster_bits) + in_cluster;
  if (is_compressed(entry)) {
    std::vector<uint8_t> buf;
    TRY(read_compressed(entry, buf));
    copy_to_iov(iov, buf.data() + in_cluster);
    return {};
  }
  if (is_zero(entry)) {
    zero_iov(iov);
    return {};
  }
  uint64_t host = entry & kOffsetMask;
  if (host == 0) return read_backing(guest, iov);
  TRY(check_data_cluster(host, guest_cluster, entry));
  return preadv_full(fd_.get(), iov, host + in_cluster);
}

Result<void> Qcow2Backend::readv(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_length(iov);
  TRY(check_range(offset, len, h_.size));
  uint64_t cs = h_.cluster_size();
  IovCursor cur(iov);
  std::vector<Segment> segs;  // data reads, done after the metadata lock is dropped
  {
    std::lock_guard lock(mu_);
    while (len > 0) {
      uint64_t gc = offset >> h_.cluster_bits;
      uint64_t in = offset & (cs - 1);
      uint64_t n = std::min(cs - in, len);
      uint64_t e = TRY(l2_.entry(gc));
      if (is_data(e)) {
        uint64_t host = e & kOffsetMask;
        TRY(check_data_cluster(host, gc, e));
        // Extend over host-contiguous data clusters: one preadv for a long sequential read.
        while (n < len) {
          uint64_t e2 = TRY(l2_.entry(gc + 1));
          if (!is_data(e2) || (e2 & kOffsetMask) != host + ((gc + 1 - (offset >> h_.cluster_bits)) << h_.cluster_bits)) break;
          TRY(check_data_cluster(e2 & kOffsetMask, gc + 1, e2));
          ++gc;
          n += std::min(cs, len - n);
        }
        segs.push_back({host + in, {}});
        cur.take(n, segs.back().iov);
      } else {
        std::vector<iovec> piece;
        cur.take(n, piece);
        TRY(read_cluster_piece(gc, e, in, piece));
      }
      offset += n;
      len -= n;
    }
  }
  for (const auto& s : segs) TRY(preadv_full(fd_.get(), s.iov, s.host));
  return {};
}

Result<void> Qcow2Backend::release_entry(uint64_t entry) {
  if (is_compressed(entry)) {
    CompressedRef z = compressed_ref(entry, h_.cluster_bits);
    uint64_t host = z.host & ~511ull;
    uint64_t first = host >> h_.cluster_bits, last = (host + z.sectors * 512 - 1) >> h_.cluster_bits;
    for (uint64_t c = first; c <= last; ++c) refs_.decref_later(c << h_.cluster_bits);
    return {};
  }
  uint64_t host = entry & kOffsetMask;
  if (host != 0) refs_.decref_later(host);
  return {};
}

Result<void> Qcow2Backend::writev(uint64_t offset, std::span<const iovec> iov) {
  std::vector<Segment> segs;  // in-place data writes, done after the metadata lock is dropped
  {
    std::lock_guard lock(mu_);
    TRY(writev_locked(offset, iov, segs));
  }
  for (const auto& s : segs) TRY(pwritev_full(fd_.get(), s.iov, s.host));
  return {};
}

Result<void> Qcow2Backend::writev_locked(uint64_t offset, std::span<const iovec> iov, std::vector<Segment>& segs) {
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  uint64_t len = iov_length(iov);
  TRY(check_range(offset, len, h_.size));
  uint64_t cs = h_.cluster_size();
  IovCursor cur(iov);
  while (len > 0) {
    uint64_t gc = offset >> h_.cluster_bits;
    uint64_t in = offset & (cs - 1);
    uint64_t e = TRY(l2_.entry(gc));
    bool in_place = is_data(e) && (e & kFlagCopied);
    if (is_data(e) && !in_place && TRY(refs_.get(e & kOffsetMask)) == 1) {
      TRY(set_entry(gc, e | kFlagCopied));
      in_place = true;
    }
    if (!in_place) {
      TRY(write_new_clusters(offset, len, cur, e));
      continue;
    }
    uint64_t host = e & kOffsetMask;
    auto bad = check_data_cluster(host, gc, e);
    if (!bad) {
      (void)mark_corrupt(bad.error());
      return Unexpected(std::move(bad.error()));
    }
    uint64_t n = std::min(cs - in, len);
    while (n < len) {
      uint64_t e2 = TRY(l2_.entry(gc + 1));
      uint64_t want = host + ((gc + 1 - (offset >> h_.cluster_bits)) << h_.cluster_bits);
      if (!is_data(e2) || !(e2 & kFlagCopied) || (e2 & kOffsetMask) != want) break;
      auto bad2 = check_data_cluster(want, gc + 1, e2);
      if (!bad2) break;  // the next round reports it
      ++gc;
      n += std::min(cs, len - n);
    }
    segs.push_back({host + in, {}});
    cur.take(n, segs.back().iov);
    offset += n;
    len -= n;
  }
  return {};
}

// Allocates a run of clusters that all need new space (the first maps to `entry` now), then
// writes data plus the old contents around it at once.
Result<void> Qcow2Backend::write_new_clusters(uint64_t& offset, uint64_t& len, IovCursor& cur, uint64_t entry) {
  uint64_t cs = h_.cluster_size();
  uint64_t first = offset >> h_.cluster_bits;
  uint64_t in = offset & (cs - 1);
  uint64_t k = 1;
  std::vector<uint64_t> old{entry};
  while (k * cs - in < len) {
    uint64_t e2 = TRY(l2_.entry(first + k));
    if (is_data(e2) && (e2 & kFlagCopied)) break;
    old.push_back(e2);
    ++k;
  }
  uint64_t n = std::min(len, k * cs - in);
  uint64_t end_in_last = (in + n) - (k - 1) * cs;  // bytes of the last cluster covered (from its start)
  std::vector<uint8_t> head(in), tail(cs - end_in_last);
  if (!head.empty()) {
    iovec hv{head.data(), head.size()};
    TRY(read_cluster_piece(first, old[0], 0, {&hv, 1}));
  }
  if (!tail.empty()) {
    uint64_t last = first + k - 1;
    uint64_t cluster_start = last << h_.cluster_bits;
    uint64_t valid_end = std::min(cs, h_.size - cluster_start);  // beyond the disk: zeros
    if (valid_end > end_in_last) {
      iovec tv{tail.data(), valid_end - end_in_last};
      TRY(read_cluster_piece(last, old[k - 1], end_in_last, {&tv, 1}));
    }
  }
  uint64_t host = TRY(refs_.alloc(k));
  std::vector<iovec> all, piece;
  if (!head.empty()) all.push_back({head.data(), head.size()});
  cur.take(n, piece);
  all.insert(all.end(), piece.begin(), piece.end());
  if (!tail.empty()) all.push_back({tail.data(), tail.size()});
  TRY(pwritev_full(fd_.get(), all, host));
  for (uint64_t i = 0; i < k; ++i) {
    TRY(set_entry(first + i, (host + i * cs) | kFlagCopied));
    TRY(release_entry(old[i]));
  }
  offset += n;
  len -= n;
  return {};
}

Result<void> Qcow2Backend::discard(uint64_t offset, uint64_t len, bool zero) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  TRY(check_range(offset, len, h_.size));
  uint64_t cs = h_.cluster_size();
  auto write_zeros = [&](uint64_t at, uint64_t n) -> Result<void> {
    std::vector<uint8_t> zeros(n, 0);
    iovec v{zeros.data(), zeros.size()};
    return writev(at, {&v, 1});
  };
  while (len > 0) {
    uint64_t gc = offset >> h_.cluster_bits;
    uint64_t in = offset & (cs - 1);
    uint64_t n = std::min(cs - in, len);
    uint64_t cluster_end = std::min(cs, h_.size - (gc << h_.cluster_bits));
    uint64_t e = TRY(l2_.entry(gc));
    bool whole = in == 0 && n == cluster_end;
    bool reads_zero = is_zero(e) || (e == 0 && !backing_);
    uint64_t want = h_.version == 3 ? (backing_ ? kFlagZero : 0) : 0;
    if (whole && !(h_.version == 2 && backing_)) {
      if (e != want) {
        TRY(set_entry(gc, want));
        TRY(release_entry(e));
      }
    } else if (zero && !reads_zero) {
      TRY(write_zeros(offset, n));
    }
    offset += n;
    len -= n;
  }
  return {};
}

Result<std::vector<Extent>> Qcow2Backend::map(uint64_t offset, uint64_t len) {
  std::lock_guard lock(mu_);
  TRY(check_range(offset, len, h_.size));
  std::vector<Extent> out;
  uint64_t cs = h_.cluster_size();
  while (len > 0) {
    uint64_t gc = offset >> h_.cluster_bits;
    uint64_t n = std::min(cs - (offset & (cs - 1)), len);
    uint64_t e = TRY(l2_.entry(gc));
    Extent x{Extent::Kind::Unallocated, offset, n, 0};
    if (is_compressed(e)) x.kind = Extent::Kind::Compressed;
    else if (is_zero(e)) x.kind = Extent::Kind::Zero;
    else if (is_data(e)) {
      x.kind = Extent::Kind::Data;
      x.host = (e & kOffsetMask) + (offset & (cs - 1));
      TRY(check_data_cluster(e & kOffsetMask, gc, e));
    }
    if (!out.empty() && out.back().kind == x.kind && out.back().offset + out.back().length == offset &&
        (x.kind != Extent::Kind::Data || out.back().host + out.back().length == x.host))
      out.back().length += n;
    else
      out.push_back(x);
    offset += n;
    len -= n;
  }
  return out;
}

}  // namespace vessel::block
