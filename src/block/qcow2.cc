#include "block/qcow2.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "block/compress.h"
#include "block/iov_cursor.h"
#include "block/raw.h"

namespace vessel::block {

using namespace qcow2;

namespace {
constexpr size_t kL2CacheBytes = 32u << 20;
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
}  // namespace

Result<Header> Qcow2Backend::read_header(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return fail_errno("stat qcow2 image");
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  std::vector<uint8_t> buf(std::min<uint64_t>(file_size, 1u << kMaxClusterBits));
  TRY(pread_exact(fd, buf.data(), buf.size(), 0));
  if (buf.size() >= kV2HeaderLength && be32(buf.data()) == kMagic) {
    uint32_t cb = be32(buf.data() + field::kClusterBits);
    if (cb >= kMinClusterBits && cb <= kMaxClusterBits && buf.size() > (1ull << cb))
      buf.resize(1ull << cb);
  }
  return parse_header(buf.data(), buf.size(), file_size);
}

Result<std::unique_ptr<Qcow2Backend>> Qcow2Backend::open(const std::string& path,
                                                         const OpenOptions& options,
                                                         std::unique_ptr<BlockBackend> backing,
                                                         bool allow_corrupt_read_only) {
  Fd fd = TRY_CTX(Fd::open(path, options.read_only ? O_RDONLY : O_RDWR), "open qcow2 image {}", path);
  Header h = TRY_CTX(read_header(fd.get()), "{}", path);
  if (h.incompat & kIncompatCorrupt) {
    if (!options.read_only || !allow_corrupt_read_only)
      return Unexpected(Error(EROFS, fmt::format("{} is marked corrupt (incompatible feature bit 1); it opens read-only only", path))
                            .with_hint("inspect it with 'vessel-img check', repair with 'vessel-img check -r all'"));
  }
  if (!options.read_only && (h.incompat & kIncompatDirty))
    return Unexpected(Error(EUCLEAN, fmt::format("{} has the dirty bit set (lazy refcounts not flushed)", path))
                          .with_hint("repair it with 'vessel-img check -r all' first"));
  if (!options.read_only && h.nb_snapshots > 0)
    return fail(ENOTSUP, "{} has {} internal snapshots; writing such images is not supported", path, h.nb_snapshots);
  struct stat st {};
  ::fstat(fd.get(), &st);
  std::unique_ptr<Qcow2Backend> q(new Qcow2Backend(std::move(fd), std::move(h), options.read_only, std::move(backing)));
  TRY_CTX(q->load_tables(static_cast<uint64_t>(st.st_size)), "{}", path);
  if (!q->read_only_ && q->h_.autoclear != 0) {
    // Autoclear features we do not maintain (bitmaps) must be cleared by any writer (qcow2 spec).
    q->h_.autoclear = 0;
    TRY(q->write_header_field64(field::kAutoclear, 0));
  }
  return q;
}

Result<void> Qcow2Backend::load_tables(uint64_t file_size) {
  uint64_t cs = h_.cluster_size();
  next_free_ = align_up(std::max<uint64_t>(file_size, cs), cs);
  l2_cache_capacity_ = std::max<size_t>(16, kL2CacheBytes / cs);
  metadata_.insert(0);

  std::vector<uint8_t> buf(uint64_t{h_.l1_size} * 8);
  TRY_CTX(pread_exact(fd_.get(), buf.data(), buf.size(), h_.l1_offset), "read L1 table");
  l1_.resize(h_.l1_size);
  for (uint64_t i = 0; i < l1_.size(); ++i) l1_[i] = be64(buf.data() + i * 8);
  for (uint64_t c = 0; c < align_up(buf.size(), cs) / cs; ++c) metadata_.insert((h_.l1_offset >> h_.cluster_bits) + c);

  buf.resize(uint64_t{h_.reftable_clusters} * cs);
  TRY_CTX(pread_exact(fd_.get(), buf.data(), buf.size(), h_.reftable_offset), "read refcount table");
  reftable_.resize(buf.size() / 8);
  for (uint64_t i = 0; i < reftable_.size(); ++i) reftable_[i] = be64(buf.data() + i * 8);
  for (uint64_t c = 0; c < h_.reftable_clusters; ++c) metadata_.insert((h_.reftable_offset >> h_.cluster_bits) + c);
  if (h_.nb_snapshots > 0) metadata_.insert(h_.snapshots_offset >> h_.cluster_bits);

  for (uint64_t i = 0; i < reftable_.size(); ++i) {
    uint64_t off = reftable_[i] & ~0x1ffull;
    if (off == 0) continue;
    uint64_t at = h_.reftable_offset + i * 8;
    if (off % cs != 0)
      return fail(EUCLEAN, "refcount block offset {:#x} in refcount table entry {} (at {:#x}) is not cluster aligned", off, i, at);
    if (off >= file_size)
      return fail(EUCLEAN, "refcount block offset {:#x} in refcount table entry {} (at {:#x}) is past the end of the file", off, i, at);
    if (off == 0 || metadata_.count(off >> h_.cluster_bits))
      return fail(EUCLEAN, "refcount block offset {:#x} in refcount table entry {} (at {:#x}) overlaps other metadata", off, i, at);
    metadata_.insert(off >> h_.cluster_bits);
  }
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    uint64_t off = l1_[i] & kOffsetMask;
    if (off == 0) continue;
    uint64_t at = h_.l1_offset + i * 8;
    if (off % cs != 0)
      return fail(EUCLEAN, "L2 table offset {:#x} in L1 entry {} (at {:#x}) is not cluster aligned", off, i, at);
    if (off >= file_size)
      return fail(EUCLEAN, "L2 table offset {:#x} in L1 entry {} (at {:#x}) is past the end of the file", off, i, at);
    if (metadata_.count(off >> h_.cluster_bits))
      return fail(EUCLEAN, "L2 table offset {:#x} in L1 entry {} (at {:#x}) overlaps other metadata", off, i, at);
    metadata_.insert(off >> h_.cluster_bits);
  }
  if (!read_only_) TRY(find_allocation_end());
  return {};
}

// Allocation appends past the last cluster that has a refcount, which after a crash may lie past
// the end of the file (a table counted but never written): never hand out a counted cluster.
Result<void> Qcow2Backend::find_allocation_end() {
  uint64_t per = h_.refblock_entries();
  for (uint64_t ti = reftable_.size(); ti-- > 0;) {
    if ((reftable_[ti] & ~0x1ffull) == 0) continue;
    for (uint64_t i = per; i-- > 0;) {
      uint64_t c = ti * per + i;
      if (TRY(get_refcount(c << h_.cluster_bits)) != 0) {
        next_free_ = std::max(next_free_, (c + 1) << h_.cluster_bits);
        return {};
      }
    }
  }
  return {};
}

Qcow2Backend::~Qcow2Backend() {
  if (!read_only_) (void)flush();
}

// ---- mapping ----------------------------------------------------------------------------------

Result<void> Qcow2Backend::evict_if_needed() {
  if (l2_cache_.size() < l2_cache_capacity_) return {};
  auto victim = l2_cache_.end();
  for (auto it = l2_cache_.begin(); it != l2_cache_.end(); ++it)
    if (!it->second.dirty && (victim == l2_cache_.end() || it->second.last_use < victim->second.last_use))
      victim = it;
  if (victim == l2_cache_.end()) {
    TRY(flush());  // every table is dirty: write them out in order, then any may go
    victim = l2_cache_.begin();
  }
  l2_cache_.erase(victim);
  return {};
}

Result<Qcow2Backend::Table*> Qcow2Backend::l2_table(uint64_t l1_index, bool allocate) {
  uint64_t off = l1_[l1_index] & kOffsetMask;
  if (off == 0) {
    if (!allocate) return nullptr;
    TRY(evict_if_needed());
    off = TRY(alloc_clusters(1));
    metadata_.insert(off >> h_.cluster_bits);
    Table& t = l2_cache_[off];
    t.entries.assign(h_.l2_entries(), 0);
    t.dirty = true;
    t.last_use = ++use_clock_;
    l1_[l1_index] = off | kFlagCopied;
    l1_dirty_ = true;
    return &t;
  }
  if (auto it = l2_cache_.find(off); it != l2_cache_.end()) {
    it->second.last_use = ++use_clock_;
    return &it->second;
  }
  TRY(evict_if_needed());
  std::vector<uint8_t> buf(h_.cluster_size());
  TRY_CTX(pread_exact(fd_.get(), buf.data(), buf.size(), off), "read L2 table at {:#x}", off);
  Table& t = l2_cache_[off];
  t.entries.resize(h_.l2_entries());
  for (uint64_t i = 0; i < t.entries.size(); ++i) t.entries[i] = be64(buf.data() + i * 8);
  t.last_use = ++use_clock_;
  return &t;
}

Result<uint64_t> Qcow2Backend::l2_entry(uint64_t guest_cluster) {
  uint64_t l1i = guest_cluster >> (h_.cluster_bits - 3);
  if (l1i >= l1_.size()) return 0;
  Table* t = TRY(l2_table(l1i, false));
  if (!t) return 0;
  uint64_t e = t->entries[guest_cluster & (h_.l2_entries() - 1)];
  if (h_.version == 2 && !(e & kFlagCompressed)) e &= ~kFlagZero;  // bit 0 is reserved in v2
  return e;
}

Result<void> Qcow2Backend::set_l2_entry(uint64_t guest_cluster, uint64_t entry) {
  uint64_t l1i = guest_cluster >> (h_.cluster_bits - 3);
  Table* t = TRY(l2_table(l1i, true));
  t->entries[guest_cluster & (h_.l2_entries() - 1)] = entry;
  t->dirty = true;
  zbuf_entry_ = 0;
  return {};
}

namespace {
bool is_compressed(uint64_t e) { return (e & kFlagCompressed) != 0; }
bool is_zero(uint64_t e) { return !is_compressed(e) && (e & kFlagZero); }
bool is_data(uint64_t e) { return !is_compressed(e) && !is_zero(e) && (e & kOffsetMask) != 0; }
}  // namespace

Result<void> Qcow2Backend::check_data_cluster(uint64_t host, uint64_t guest_cluster, uint64_t entry) {
  uint64_t guest = guest_cluster << h_.cluster_bits;
  if (entry & kL2Reserved & ~kFlagZero)
    return fail(EUCLEAN, "L2 entry {:#x} for guest offset {:#x} has reserved bits set", entry, guest);
  if (host % h_.cluster_size() != 0)
    return fail(EUCLEAN, "L2 entry {:#x} for guest offset {:#x} has an unaligned host offset {:#x}", entry, guest, host);
  if (metadata_.count(host >> h_.cluster_bits))
    return fail(EUCLEAN, "L2 entry for guest offset {:#x} points into metadata at host offset {:#x}", guest, host);
  if (host >= next_free_)
    return fail(EUCLEAN, "L2 entry for guest offset {:#x} points past the end of the file (host offset {:#x})", guest, host);
  return {};
}

Result<void> Qcow2Backend::read_backing(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_length(iov);
  uint64_t bsize = backing_ ? backing_->size() : 0;
  if (!backing_ || offset >= bsize) {
    zero_iov(iov);
    return {};
  }
  if (len <= bsize - offset) return backing_->readv(offset, iov);
  IovCursor cur(iov);
  std::vector<iovec> in, out;
  cur.take(bsize - offset, in);
  cur.take(len - (bsize - offset), out);
  TRY(backing_->readv(offset, in));
  zero_iov(out);
  return {};
}

Result<void> Qcow2Backend::read_compressed(uint64_t entry, std::vector<uint8_t>& out) {
  uint64_t cs = h_.cluster_size();
  out.resize(cs);
  if (zbuf_entry_ == entry && !zbuf_.empty()) {
    out = zbuf_;
    return {};
  }
  uint32_t shift = 62 - (h_.cluster_bits - 8);
  uint64_t host = entry & ((1ull << shift) - 1);
  uint64_t sectors = ((entry >> shift) & ((1ull << (h_.cluster_bits - 8)) - 1)) + 1;
  uint64_t csize = sectors * 512 - (host & 511);
  uint64_t file_end = next_free_;
  struct stat st {};
  if (::fstat(fd_.get(), &st) == 0) file_end = static_cast<uint64_t>(st.st_size);
  if (host >= file_end)
    return fail(EUCLEAN, "compressed cluster at host offset {:#x} starts past the end of the file", host);
  if (metadata_.count(host >> h_.cluster_bits))
    return fail(EUCLEAN, "compressed cluster at host offset {:#x} lies in metadata", host);
  uint64_t avail = std::min(csize, file_end - host);
  std::vector<uint8_t> in(avail);
  TRY(pread_exact(fd_.get(), in.data(), in.size(), host));
  auto r = decompress_cluster(h_.compression, in, out);
  if (!r) {
    if (avail < csize && r.error().message().find("truncated") != std::string::npos)
      return fail(EUCLEAN, "compressed cluster at host offset {:#x} of {} bytes runs past the end of the file", host, csize);
    return Unexpected(std::move(r.error()).add_context(fmt::format("compressed cluster at host offset {:#x}", host)));
  }
  zbuf_ = out;
  zbuf_entry_ = entry;
  return {};
}

Result<void> Qcow2Backend::read_cluster_piece(uint64_t guest_cluster, uint64_t entry, uint64_t in_cluster,
                                              std::span<const iovec> iov, uint64_t len) {
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
  (void)len;
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
      uint64_t e = TRY(l2_entry(gc));
      if (is_data(e)) {
        uint64_t host = e & kOffsetMask;
        TRY(check_data_cluster(host, gc, e));
        // Extend over host-contiguous data clusters: one preadv for a long sequential read.
        while (n < len) {
          uint64_t e2 = TRY(l2_entry(gc + 1));
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
        TRY(read_cluster_piece(gc, e, in, piece, n));
      }
      offset += n;
      len -= n;
    }
  }
  for (const auto& s : segs) TRY(preadv_full(fd_.get(), s.iov, s.host));
  return {};
}

// ---- writing ----------------------------------------------------------------------------------

Result<void> Qcow2Backend::release_entry(uint64_t entry) {
  if (is_compressed(entry)) {
    uint32_t shift = 62 - (h_.cluster_bits - 8);
    uint64_t host = entry & ((1ull << shift) - 1) & ~511ull;
    uint64_t sectors = ((entry >> shift) & ((1ull << (h_.cluster_bits - 8)) - 1)) + 1;
    uint64_t first = host >> h_.cluster_bits, last = (host + sectors * 512 - 1) >> h_.cluster_bits;
    for (uint64_t c = first; c <= last; ++c) pending_decrefs_.push_back({c << h_.cluster_bits, -1});
    return {};
  }
  uint64_t host = entry & kOffsetMask;
  if (host != 0) pending_decrefs_.push_back({host, -1});
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
  std::vector<iovec> piece;
  while (len > 0) {
    uint64_t gc = offset >> h_.cluster_bits;
    uint64_t in = offset & (cs - 1);
    uint64_t e = TRY(l2_entry(gc));
    bool in_place = is_data(e) && (e & kFlagCopied);
    if (is_data(e) && !in_place) {
      uint64_t rc = TRY(get_refcount(e & kOffsetMask));
      if (rc == 1) {
        TRY(set_l2_entry(gc, e | kFlagCopied));
        in_place = true;
      }
    }
    if (in_place) {
      uint64_t host = e & kOffsetMask;
      auto bad = check_data_cluster(host, gc, e);
      if (!bad) {
        (void)mark_corrupt(bad.error());
        return Unexpected(std::move(bad.error()));
      }
      uint64_t n = std::min(cs - in, len);
      while (n < len) {
        uint64_t e2 = TRY(l2_entry(gc + 1));
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
      continue;
    }
    // Allocate a run of clusters that all need new space, then write data plus padding at once.
    uint64_t first = gc;
    uint64_t k = 1;
    std::vector<uint64_t> old{e};
    while (k * cs - in < len) {
      uint64_t e2 = TRY(l2_entry(first + k));
      if (is_data(e2) && (e2 & kFlagCopied)) break;
      old.push_back(e2);
      ++k;
    }
    uint64_t n = std::min(len, k * cs - in);
    uint64_t end_in_last = (in + n) - (k - 1) * cs;  // bytes of the last cluster covered (from its start)
    std::vector<uint8_t> head(in), tail(cs - end_in_last);
    if (!head.empty()) {
      iovec hv{head.data(), head.size()};
      TRY(read_cluster_piece(first, old[0], 0, {&hv, 1}, head.size()));
    }
    if (!tail.empty()) {
      uint64_t last = first + k - 1;
      uint64_t cluster_start = last << h_.cluster_bits;
      uint64_t valid_end = std::min(cs, h_.size - cluster_start);  // beyond the disk: zeros
      if (valid_end > end_in_last) {
        iovec tv{tail.data(), valid_end - end_in_last};
        TRY(read_cluster_piece(last, old[k - 1], end_in_last, {&tv, 1}, tv.iov_len));
      }
    }
    uint64_t host = TRY(alloc_clusters(k));
    std::vector<iovec> all;
    if (!head.empty()) all.push_back({head.data(), head.size()});
    cur.take(n, piece);
    all.insert(all.end(), piece.begin(), piece.end());
    if (!tail.empty()) all.push_back({tail.data(), tail.size()});
    TRY(pwritev_full(fd_.get(), all, host));
    for (uint64_t i = 0; i < k; ++i) {
      TRY(set_l2_entry(first + i, (host + i * cs) | kFlagCopied));
      TRY(release_entry(old[i]));
    }
    offset += n;
    len -= n;
  }
  return {};
}

Result<void> Qcow2Backend::write_compressed(uint64_t offset, std::span<const uint8_t> cluster) {
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  uint64_t cs = h_.cluster_size();
  if (offset % cs != 0 || cluster.size() != cs || offset >= h_.size)
    return fail(EINVAL, "compressed writes take one whole cluster at a cluster boundary");
  return write_precompressed(offset, cluster, compress_cluster(h_.compression, cluster));
}

Result<void> Qcow2Backend::write_precompressed(uint64_t offset, std::span<const uint8_t> cluster,
                                               const std::optional<std::vector<uint8_t>>& packed) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  uint64_t cs = h_.cluster_size();
  if (offset % cs != 0 || cluster.size() != cs || offset >= h_.size)
    return fail(EINVAL, "compressed writes take one whole cluster at a cluster boundary");
  if (!packed) {
    iovec v{const_cast<uint8_t*>(cluster.data()), static_cast<size_t>(std::min(cs, h_.size - offset))};
    return writev(offset, {&v, 1});
  }
  uint64_t len = packed->size();
  uint64_t place = 0;
  uint64_t max_ref = h_.refcount_order == 6 ? UINT64_MAX : (1ull << h_.refcount_bits()) - 1;
  if (compressed_cursor_ % cs != 0 && (compressed_cursor_ % cs) + len <= cs) {
    uint64_t c = compressed_cursor_ & ~(cs - 1);
    if (TRY(get_refcount(c)) < max_ref) {
      TRY(update_refcount(c, +1));
      place = compressed_cursor_;
    }
  }
  if (place == 0) place = TRY(alloc_clusters((len + cs - 1) / cs));
  compressed_cursor_ = place + len;
  TRY(pwrite_all(fd_.get(), packed->data(), len, place));
  uint32_t shift = 62 - (h_.cluster_bits - 8);
  uint64_t sectors = ((place + len - 1) >> 9) - (place >> 9);
  uint64_t gc = offset >> h_.cluster_bits;
  uint64_t old = TRY(l2_entry(gc));
  TRY(set_l2_entry(gc, kFlagCompressed | (sectors << shift) | place));
  return release_entry(old);
}

Result<void> Qcow2Backend::discard(uint64_t offset, uint64_t len, bool zero) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  TRY(check_range(offset, len, h_.size));
  uint64_t cs = h_.cluster_size();
  while (len > 0) {
    uint64_t gc = offset >> h_.cluster_bits;
    uint64_t in = offset & (cs - 1);
    uint64_t n = std::min(cs - in, len);
    uint64_t cluster_end = std::min(cs, h_.size - (gc << h_.cluster_bits));
    uint64_t e = TRY(l2_entry(gc));
    bool whole = in == 0 && n == cluster_end;
    bool reads_zero = is_zero(e) || (e == 0 && !backing_);
    if (whole) {
      uint64_t want = h_.version == 3 ? (backing_ ? kFlagZero : 0) : 0;
      if (h_.version == 2 && backing_) {
        if (zero && !reads_zero) {
          std::vector<uint8_t> zeros(n, 0);
          iovec v{zeros.data(), zeros.size()};
          TRY(writev(offset, {&v, 1}));
        }
      } else if (e != want) {
        TRY(set_l2_entry(gc, want));
        TRY(release_entry(e));
      }
    } else if (zero && !reads_zero) {
      std::vector<uint8_t> zeros(n, 0);
      iovec v{zeros.data(), zeros.size()};
      TRY(writev(offset, {&v, 1}));
    }
    offset += n;
    len -= n;
  }
  return {};
}

// ---- refcounts --------------------------------------------------------------------------------

namespace {
uint64_t get_ref(const std::vector<uint8_t>& b, uint64_t i, uint32_t order) {
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
void set_ref(std::vector<uint8_t>& b, uint64_t i, uint32_t order, uint64_t v) {
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
}  // namespace

Result<Qcow2Backend::RefBlock*> Qcow2Backend::refblock(uint64_t table_index, bool allocate) {
  if (table_index >= reftable_.size()) {
    if (!allocate) return nullptr;
    TRY(grow_reftable(table_index + 1));
  }
  uint64_t off = reftable_[table_index] & ~0x1ffull;
  if (off == 0) {
    if (!allocate) return nullptr;
    off = next_free_;
    next_free_ += h_.cluster_size();
    RefBlock& b = refblocks_[off];
    b.bytes.assign(h_.cluster_size(), 0);
    b.dirty = true;
    metadata_.insert(off >> h_.cluster_bits);
    reftable_[table_index] = off;
    reftable_dirty_ = true;
    TRY(update_refcount(off, +1));
    return &refblocks_[off];
  }
  if (auto it = refblocks_.find(off); it != refblocks_.end()) return &it->second;
  RefBlock& b = refblocks_[off];
  b.bytes.resize(h_.cluster_size());
  auto r = pread_exact(fd_.get(), b.bytes.data(), b.bytes.size(), off);
  if (!r) {
    refblocks_.erase(off);
    return Unexpected(std::move(r.error()).add_context(fmt::format("read refcount block at {:#x}", off)));
  }
  return &b;
}

Result<uint64_t> Qcow2Backend::get_refcount(uint64_t host_offset) {
  uint64_t cluster = host_offset >> h_.cluster_bits;
  uint64_t per = h_.refblock_entries();
  RefBlock* b = TRY(refblock(cluster / per, false));
  if (!b) return 0;
  return get_ref(b->bytes, cluster % per, h_.refcount_order);
}

Result<void> Qcow2Backend::update_refcount(uint64_t host_offset, int64_t delta) {
  uint64_t cluster = host_offset >> h_.cluster_bits;
  uint64_t per = h_.refblock_entries();
  RefBlock* b = TRY(refblock(cluster / per, delta > 0));
  if (!b) return fail(EUCLEAN, "refcount of cluster at {:#x} would drop below zero (no refcount block)", host_offset);
  uint64_t old = get_ref(b->bytes, cluster % per, h_.refcount_order);
  uint64_t max = h_.refcount_order == 6 ? UINT64_MAX : (1ull << h_.refcount_bits()) - 1;
  if (delta > 0 && old > max - static_cast<uint64_t>(delta))
    return fail(ERANGE, "refcount of cluster at {:#x} would overflow {} bits", host_offset, h_.refcount_bits());
  if (delta < 0 && old < static_cast<uint64_t>(-delta))
    return fail(EUCLEAN, "refcount of cluster at {:#x} would drop below zero", host_offset);
  uint64_t now = old + static_cast<uint64_t>(delta);
  set_ref(b->bytes, cluster % per, h_.refcount_order, now);
  b->dirty = true;
  if (now == 0) freed_.push_back(cluster << h_.cluster_bits);
  return {};
}

Result<uint64_t> Qcow2Backend::alloc_clusters(uint64_t n) {
  uint64_t off = next_free_;
  next_free_ += n * h_.cluster_size();
  for (uint64_t i = 0; i < n; ++i) TRY(update_refcount(off + i * h_.cluster_size(), +1));
  return off;
}

Result<void> Qcow2Backend::grow_reftable(uint64_t min_entries) {
  uint64_t cs = h_.cluster_size();
  uint64_t per_cluster = cs / 8;
  uint64_t want = std::max<uint64_t>(min_entries, reftable_.size() * 2);
  uint64_t clusters = (want + per_cluster - 1) / per_cluster;
  if (clusters * cs > kMaxRefTableBytes)
    return fail(EFBIG, "refcount table would exceed {} bytes", kMaxRefTableBytes);
  uint64_t off = next_free_;
  next_free_ += clusters * cs;
  uint64_t old_off = h_.reftable_offset, old_clusters = h_.reftable_clusters;
  reftable_.resize(clusters * per_cluster, 0);
  h_.reftable_offset = off;
  h_.reftable_clusters = static_cast<uint32_t>(clusters);
  reftable_dirty_ = reftable_moved_ = true;
  for (uint64_t i = 0; i < clusters; ++i) metadata_.insert((off >> h_.cluster_bits) + i);
  for (uint64_t i = 0; i < clusters; ++i) TRY(update_refcount(off + i * cs, +1));
  for (uint64_t i = 0; i < old_clusters; ++i) pending_decrefs_.push_back({old_off + i * cs, -1});
  return {};
}

// ---- flush: the crash-safe write order ---------------------------------------------------------

Result<void> Qcow2Backend::sync() {
  if (unsafe_cache_) return {};
  if (::fdatasync(fd_.get()) < 0) return fail_errno("fdatasync qcow2 image");
  return {};
}

Result<void> Qcow2Backend::flush() {
  std::lock_guard lock(mu_);
  if (read_only_) return {};
  uint64_t cs = h_.cluster_size();
  auto write_refblocks = [&]() -> Result<void> {
    for (auto& [off, b] : refblocks_)
      if (b.dirty) {
        TRY(pwrite_all(fd_.get(), b.bytes.data(), b.bytes.size(), off));
        b.dirty = false;
      }
    return {};
  };
  // 1. Refcounts (and the table that finds them) before anything refers to the clusters.
  TRY(write_refblocks());
  if (reftable_dirty_) {
    TRY(sync());
    std::vector<uint8_t> buf(reftable_.size() * 8);
    for (uint64_t i = 0; i < reftable_.size(); ++i) put_be64(&buf[i * 8], reftable_[i]);
    TRY(pwrite_all(fd_.get(), buf.data(), buf.size(), h_.reftable_offset));
    if (reftable_moved_) {
      TRY(sync());
      uint8_t f[12];
      put_be64(f, h_.reftable_offset);
      put_be32(f + 8, h_.reftable_clusters);
      TRY(pwrite_all(fd_.get(), f, sizeof f, field::kRefTableOffset));
      reftable_moved_ = false;
    }
    reftable_dirty_ = false;
  }
  TRY(sync());  // data and refcounts are durable
  // 2. L2 tables, then the L1 entries that point at them.
  bool wrote_l2 = false;
  for (auto& [off, t] : l2_cache_)
    if (t.dirty) {
      std::vector<uint8_t> buf(cs);
      for (uint64_t i = 0; i < t.entries.size(); ++i) put_be64(&buf[i * 8], t.entries[i]);
      TRY(pwrite_all(fd_.get(), buf.data(), buf.size(), off));
      t.dirty = false;
      wrote_l2 = true;
    }
  if (l1_dirty_) {
    if (wrote_l2) TRY(sync());
    std::vector<uint8_t> buf(l1_.size() * 8);
    for (uint64_t i = 0; i < l1_.size(); ++i) put_be64(&buf[i * 8], l1_[i]);
    TRY(pwrite_all(fd_.get(), buf.data(), buf.size(), h_.l1_offset));
    l1_dirty_ = false;
    wrote_l2 = true;
  }
  if (wrote_l2) TRY(sync());
  // 3. Only now may clusters that nothing points at any more lose their references.
  if (!pending_decrefs_.empty()) {
    auto decrefs = std::move(pending_decrefs_);
    pending_decrefs_.clear();
    for (auto [off, delta] : decrefs) TRY(update_refcount(off, delta));
    TRY(write_refblocks());
    for (uint64_t off : freed_)
      (void)::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                        static_cast<off_t>(cs));
    freed_.clear();
  }
  return {};
}

// ---- header edits -----------------------------------------------------------------------------

Result<void> Qcow2Backend::write_header_field64(int f, uint64_t value) {
  uint8_t b[8];
  put_be64(b, value);
  return pwrite_all(fd_.get(), b, 8, static_cast<uint64_t>(f));
}

Result<void> Qcow2Backend::write_header_field32(int f, uint32_t value) {
  uint8_t b[4];
  put_be32(b, value);
  return pwrite_all(fd_.get(), b, 4, static_cast<uint64_t>(f));
}

Result<void> Qcow2Backend::mark_corrupt(const Error&) {
  if (read_only_ || h_.version < 3) {
    read_only_ = true;
    return {};
  }
  h_.incompat |= kIncompatCorrupt;
  auto r = write_header_field64(field::kIncompat, h_.incompat);
  read_only_ = true;  // no further writes: they could land on metadata
  if (r) (void)::fdatasync(fd_.get());
  return r;
}

Result<std::vector<Extent>> Qcow2Backend::map(uint64_t offset, uint64_t len) {
  std::lock_guard lock(mu_);
  TRY(check_range(offset, len, h_.size));
  std::vector<Extent> out;
  uint64_t cs = h_.cluster_size();
  while (len > 0) {
    uint64_t gc = offset >> h_.cluster_bits;
    uint64_t n = std::min(cs - (offset & (cs - 1)), len);
    uint64_t e = TRY(l2_entry(gc));
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

Result<void> Qcow2Backend::resize(uint64_t new_size) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  if (new_size > kMaxDiskSize) return fail(EFBIG, "size {} is too large", new_size);
  uint64_t cs = h_.cluster_size();
  if (new_size < h_.size) {
    uint64_t from = align_up(new_size, cs);
    if (from < h_.size) {
      auto ext = TRY(map(from, h_.size - from));
      for (const auto& x : ext)
        if (x.kind != Extent::Kind::Unallocated)
          return fail(ENOTSUP, "shrinking would drop data mapped at guest offset {:#x}", x.offset);
    }
  }
  uint64_t need = l1_entries_for(new_size, h_.cluster_bits);
  if (need > l1_.size()) {
    if (need * 8 > kMaxL1Bytes) return fail(EFBIG, "an L1 table for {} bytes would be too large", new_size);
    TRY(flush());
    uint64_t clusters = (need * 8 + cs - 1) / cs;
    uint64_t off = TRY(alloc_clusters(clusters));
    for (uint64_t i = 0; i < clusters; ++i) metadata_.insert((off >> h_.cluster_bits) + i);
    std::vector<uint8_t> buf(clusters * cs, 0);
    for (uint64_t i = 0; i < l1_.size(); ++i) put_be64(&buf[i * 8], l1_[i]);
    TRY(pwrite_all(fd_.get(), buf.data(), buf.size(), off));
    TRY(flush());  // the new table and its refcounts are durable before the header points at it
    uint64_t old_off = h_.l1_offset, old_clusters = (l1_.size() * 8 + cs - 1) / cs;
    uint8_t f[12];
    put_be32(f, static_cast<uint32_t>(need));
    put_be64(f + 4, off);
    TRY(pwrite_all(fd_.get(), f, sizeof f, field::kL1Size));
    TRY(sync());
    l1_.resize(need, 0);
    h_.l1_size = static_cast<uint32_t>(need);
    h_.l1_offset = off;
    for (uint64_t i = 0; i < old_clusters && old_off != 0; ++i) pending_decrefs_.push_back({old_off + i * cs, -1});
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
    if ((l1_[l1i] & kOffsetMask) == 0) {
      gc = ((l1i + 1) << (h_.cluster_bits - 3)) - 1;  // skip a whole unmapped L2 range
      continue;
    }
    uint64_t e = TRY(l2_entry(gc));
    if (e == 0) continue;
    TRY(set_l2_entry(gc, 0));
    TRY(release_entry(e));
  }
  return flush();
}

Result<void> Qcow2Backend::set_backing(const std::string& file, const std::string& format) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  TRY(flush());
  uint64_t cs = h_.cluster_size();
  std::vector<uint8_t> hdr(cs);
  TRY(pread_exact(fd_.get(), hdr.data(), hdr.size(), 0));
  std::vector<uint8_t> tail;
  auto put_ext = [&](uint32_t type, const std::string& data) {
    size_t at = tail.size();
    tail.resize(at + 8 + ((data.size() + 7) & ~size_t{7}), 0);
    put_be32(&tail[at], type);
    put_be32(&tail[at + 4], static_cast<uint32_t>(data.size()));
    memcpy(&tail[at + 8], data.data(), data.size());
  };
  for (const auto& e : h_.extensions)
    if (e.type != kExtBackingFormat) put_ext(e.type, e.data);
  if (!file.empty() && !format.empty()) put_ext(kExtBackingFormat, format);
  tail.resize(tail.size() + 8, 0);  // end marker
  uint64_t name_at = h_.header_length + tail.size();
  if (file.size() > kMaxBackingNameBytes || name_at + file.size() > cs)
    return fail(ENAMETOOLONG, "backing file name does not fit in the header cluster");
  std::fill(hdr.begin() + h_.header_length, hdr.end(), 0);
  memcpy(&hdr[h_.header_length], tail.data(), tail.size());
  memcpy(&hdr[name_at], file.data(), file.size());
  put_be64(&hdr[field::kBackingOffset], file.empty() ? 0 : name_at);
  put_be32(&hdr[field::kBackingSize], static_cast<uint32_t>(file.size()));
  TRY(pwrite_all(fd_.get(), hdr.data(), hdr.size(), 0));
  TRY(sync());
  struct stat st {};
  ::fstat(fd_.get(), &st);
  h_ = TRY(parse_header(hdr.data(), hdr.size(), static_cast<uint64_t>(st.st_size)));
  return {};
}

}  // namespace vessel::block
