#include "block/qcow2_check.h"

#include "block/image_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unordered_map>

#include "base/fd.h"
#include "block/qcow2.h"
#include "block/qcow2_format.h"
#include "block/qcow2_refcount.h"

namespace vessel::block::qcow2 {

namespace {

// The refcount blocks as stored, read on demand, with the repairs made to them.
struct Refblocks {
  const Header& h;
  int fd;
  std::vector<uint64_t> table;
  std::unordered_map<uint64_t, std::vector<uint8_t>> blocks;
  std::unordered_map<uint64_t, bool> dirty;

  uint64_t per() const { return h.refblock_entries(); }
  std::vector<uint8_t>* block(uint64_t ti) {
    if (ti >= table.size()) return nullptr;
    uint64_t off = table[ti] & ~0x1ffull;
    if (off == 0) return nullptr;
    auto it = blocks.find(off);
    if (it != blocks.end()) return &it->second;
    std::vector<uint8_t> b(h.cluster_size());
    if (!pread_exact(fd, b.data(), b.size(), off)) return nullptr;
    return &(blocks[off] = std::move(b));
  }
  uint64_t get(uint64_t cluster) {
    auto* b = block(cluster / per());
    return b ? refcount_at(*b, cluster % per(), h.refcount_order) : 0;
  }
  bool set(uint64_t cluster, uint64_t v) {
    auto* b = block(cluster / per());
    if (!b) return false;
    set_refcount_at(*b, cluster % per(), h.refcount_order, v);
    dirty[table[cluster / per()] & ~0x1ffull] = true;
    return true;
  }
  Result<void> read_table() {
    std::vector<uint8_t> buf(uint64_t{h.reftable_clusters} * h.cluster_size());
    TRY(pread_exact(fd, buf.data(), buf.size(), h.reftable_offset));
    table.resize(buf.size() / 8);
    for (uint64_t i = 0; i < table.size(); ++i) table[i] = be64(&buf[i * 8]);
    return {};
  }
  Result<void> write_dirty() {
    for (auto& [off, d] : dirty)
      if (d) TRY(pwrite_all(fd, blocks[off].data(), h.cluster_size(), off));
    return {};
  }
};

// The references found by walking the header and the tables, cluster by cluster.
struct Walk {
  const Header& h;
  uint64_t file_size;
  CheckReport& rep;
  uint64_t cs = h.cluster_size();
  uint64_t nclusters = (file_size + cs - 1) / cs;
  std::vector<uint64_t> refs = std::vector<uint64_t>(nclusters, 0);
  // Every L1 entry and uncompressed L2 entry with a host cluster: it must carry OFLAG_COPIED
  // exactly when that cluster's refcount is 1 (the writer may then write in place).
  struct Owner {
    uint64_t host;
    uint64_t entry_at;  // file offset of the table entry
    bool copied;
    bool l2_table;      // an L1 entry (pointing at an L2 table), else an L2 entry
  };
  std::vector<Owner> owners;
  uint64_t last_host = 0;

  void corrupt(std::string msg) {
    rep.corruptions++;
    rep.messages.push_back("ERROR " + std::move(msg));
  }
  void add(uint64_t off, uint64_t len, const char* what) {
    if (len == 0) return;
    for (uint64_t c = off / cs, last = (off + len - 1) / cs; c <= last; ++c) {
      if (c >= nclusters) {
        corrupt(fmt::format("{} at {:#x} lies past the end of the file", what, c * cs));
        return;
      }
      refs[c]++;
    }
  }
  void count_refblocks(Refblocks& rb) {
    for (uint64_t i = 0; i < rb.table.size(); ++i) {
      uint64_t off = rb.table[i] & ~0x1ffull;
      if (off == 0) continue;
      if (off % cs || off >= file_size) {
        corrupt(fmt::format("refcount block {} at {:#x} is unaligned or past the end of the file", i, off));
        rb.table[i] = 0;
        continue;
      }
      add(off, cs, "refcount block");
    }
  }
  void count_l2_entry(uint64_t e, uint64_t guest, uint64_t entry_at) {
    if (e == 0 || guest >= h.size) return;
    if (e & kFlagCompressed) {
      CompressedRef z = compressed_ref(e, h.cluster_bits);
      add(z.host & ~511ull, z.sectors * 512, "compressed cluster");
      rep.allocated_clusters++;
      rep.compressed_clusters++;
      return;
    }
    uint64_t host = e & kOffsetMask;
    if (host == 0) {
      if (h.version == 3 && (e & kFlagZero)) rep.allocated_clusters++;
      return;
    }
    if (host % cs) return corrupt(fmt::format("L2 entry for guest offset {:#x} has unaligned host offset {:#x}", guest, host));
    add(host, cs, "data cluster");
    owners.push_back({host, entry_at, (e & kFlagCopied) != 0, false});
    rep.allocated_clusters++;
    if (last_host != 0 && host != last_host + cs) rep.fragmented_clusters++;
    last_host = host;
  }
  Result<void> count_tables(int fd) {
    std::vector<uint8_t> l1buf(uint64_t{h.l1_size} * 8);
    TRY(pread_exact(fd, l1buf.data(), l1buf.size(), h.l1_offset));
    std::vector<uint8_t> l2buf(cs);
    for (uint64_t i = 0; i < h.l1_size; ++i) {
      uint64_t l1e = be64(&l1buf[i * 8]);
      uint64_t l2off = l1e & kOffsetMask;
      if (l2off == 0) continue;
      if (l2off % cs || l2off >= file_size) {
        corrupt(fmt::format("L2 table offset {:#x} in L1 entry {} is unaligned or past the end of the file", l2off, i));
        continue;
      }
      add(l2off, cs, "L2 table");
      owners.push_back({l2off, h.l1_offset + i * 8, (l1e & kFlagCopied) != 0, true});
      TRY(pread_exact(fd, l2buf.data(), cs, l2off));
      for (uint64_t j = 0; j < h.l2_entries(); ++j)
        count_l2_entry(be64(&l2buf[j * 8]), ((i * h.l2_entries()) + j) * cs, l2off + j * 8);
    }
    return {};
  }
  // Refcounts of clusters past the end of the file are not reported, as in qemu-img check.
  // Then OFLAG_COPIED is compared with the (repaired) refcounts; -r all sets or clears it, as
  // qemu-img check -r all does (a cluster two entries share keeps refcount 2 and loses the flag,
  // so the next write to either copies it).
  Result<void> compare(Refblocks& rb, Repair repair, int fd) {
    uint64_t covered = rb.table.size() * rb.per();
    for (uint64_t c = 0; c < nclusters; ++c) {
      uint64_t have = c < covered ? rb.get(c) : 0;
      uint64_t want = refs[c];
      if (have == want) continue;
      if (have < want) {
        corrupt(fmt::format("cluster {} refcount={} reference={}", c, have, want));
        if (repair == Repair::All && rb.set(c, want)) rep.corruptions_fixed++;
      } else {
        rep.leaks++;
        rep.messages.push_back(fmt::format("Leaked cluster {} refcount={} reference={}", c, have, want));
        if (repair != Repair::None && rb.set(c, want)) rep.leaks_fixed++;
      }
    }
    for (const auto& o : owners) {
      uint64_t have = rb.get(o.host / cs);
      if ((have == 1) == o.copied) continue;
      if (have == 0 && repair == Repair::All) continue;  // no refcount block to hold it: reported above
      const char* what = o.l2_table ? "L2 cluster" : "data cluster";
      if (repair != Repair::All) {
        corrupt(fmt::format("OFLAG_COPIED {}: entry at {:#x} for cluster at {:#x} is {}flagged with refcount {}", what,
                            o.entry_at, o.host, o.copied ? "" : "not ", have));
        continue;
      }
      rep.corruptions++;
      uint8_t b[8];
      TRY(pread_exact(fd, b, 8, o.entry_at));
      uint64_t e = be64(b);
      e = have == 1 ? (e | kFlagCopied) : (e & ~kFlagCopied);
      put_be64(b, e);
      TRY(pwrite_all(fd, b, 8, o.entry_at));
      rep.corruptions_fixed++;
      rep.messages.push_back(fmt::format("Repairing OFLAG_COPIED {}: entry at {:#x} refcount={}", what, o.entry_at, have));
    }
    return {};
  }
};

}  // namespace

Result<CheckReport> check(const std::string& path, Repair repair, bool force_share) {
  Fd fd = TRY_CTX(Fd::open(path, repair == Repair::None ? O_RDONLY : O_RDWR), "open {}", path);
  if (force_share && repair != Repair::None) return fail(EINVAL, "-U (force-share) cannot be used with -r");
  TRY(lock_image(fd.get(), path, repair != Repair::None ? LockMode::Writer : force_share ? LockMode::ForceShare : LockMode::Reader));
  Header h = TRY_CTX(Qcow2Backend::read_header(fd.get()), "{}", path);
  if (h.nb_snapshots > 0) return fail(ENOTSUP, "checking images with internal snapshots is not supported");
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat {}", path);
  CheckReport rep;
  Walk w{h, static_cast<uint64_t>(st.st_size), rep};
  rep.total_clusters = (h.size + w.cs - 1) / w.cs;
  w.add(0, w.cs, "header");
  w.add(h.l1_offset, uint64_t{h.l1_size} * 8, "L1 table");
  w.add(h.reftable_offset, uint64_t{h.reftable_clusters} * w.cs, "refcount table");
  Refblocks rb{h, fd.get(), {}, {}, {}};
  TRY(rb.read_table());
  w.count_refblocks(rb);
  TRY(w.count_tables(fd.get()));
  TRY(w.compare(rb, repair, fd.get()));

  TRY(rb.write_dirty());
  if (repair == Repair::All && rep.corruptions == rep.corruptions_fixed &&
      (h.incompat & (kIncompatCorrupt | kIncompatDirty)) && h.version == 3) {
    uint8_t b[8];
    put_be64(b, h.incompat & ~(kIncompatCorrupt | kIncompatDirty));
    TRY(pwrite_all(fd.get(), b, 8, field::kIncompat));
  }
  if (repair != Repair::None && ::fdatasync(fd.get()) < 0) return fail_errno("fdatasync {}", path);
  rep.image_end_offset = w.file_size;
  return rep;
}

}  // namespace vessel::block::qcow2
