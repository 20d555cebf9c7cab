#include "block/qcow2_check.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <unordered_map>

#include "base/fd.h"
#include "block/qcow2.h"
#include "block/qcow2_format.h"

namespace vessel::block::qcow2 {

namespace {

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
    if (!b) return 0;
    uint64_t i = cluster % per();
    switch (h.refcount_order) {
      case 0: case 1: case 2: {
        uint32_t bits = 1u << h.refcount_order;
        uint64_t pb = 8 / bits;
        return ((*b)[i / pb] >> ((i % pb) * bits)) & ((1u << bits) - 1);
      }
      case 3: return (*b)[i];
      case 4: return be16(&(*b)[i * 2]);
      case 5: return be32(&(*b)[i * 4]);
      default: return be64(&(*b)[i * 8]);
    }
  }
  bool set(uint64_t cluster, uint64_t v) {
    auto* b = block(cluster / per());
    if (!b) return false;
    uint64_t i = cluster % per();
    switch (h.refcount_order) {
      case 0: case 1: case 2: {
        uint32_t bits = 1u << h.refcount_order;
        uint64_t pb = 8 / bits;
        uint32_t shift = static_cast<uint32_t>((i % pb) * bits);
        uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << shift);
        (*b)[i / pb] = static_cast<uint8_t>(((*b)[i / pb] & ~mask) | ((v << shift) & mask));
        break;
      }
      case 3: (*b)[i] = static_cast<uint8_t>(v); break;
      case 4: put_be16(&(*b)[i * 2], static_cast<uint16_t>(v)); break;
      case 5: put_be32(&(*b)[i * 4], static_cast<uint32_t>(v)); break;
      default: put_be64(&(*b)[i * 8], v); break;
    }
    dirty[table[cluster / per()] & ~0x1ffull] = true;
    return true;
  }
};

}  // namespace

Result<CheckReport> check(const std::string& path, Repair repair) {
  Fd fd = TRY_CTX(Fd::open(path, repair == Repair::None ? O_RDONLY : O_RDWR), "open {}", path);
  Header h = TRY_CTX(Qcow2Backend::read_header(fd.get()), "{}", path);
  if (h.nb_snapshots > 0) return fail(ENOTSUP, "checking images with internal snapshots is not supported");
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat {}", path);
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  uint64_t cs = h.cluster_size();
  uint64_t nclusters = (file_size + cs - 1) / cs;
  CheckReport rep;
  rep.total_clusters = (h.size + cs - 1) / cs;
  std::vector<uint64_t> refs(nclusters, 0);
  auto corrupt = [&](std::string msg) {
    rep.corruptions++;
    rep.messages.push_back("ERROR " + std::move(msg));
  };
  auto add = [&](uint64_t off, uint64_t len, const char* what) {
    if (len == 0) return;
    uint64_t first = off / cs, last = (off + len - 1) / cs;
    for (uint64_t c = first; c <= last; ++c) {
      if (c >= nclusters) {
        corrupt(fmt::format("{} at {:#x} lies past the end of the file", what, c * cs));
        return;
      }
      refs[c]++;
    }
  };

  add(0, cs, "header");
  add(h.l1_offset, uint64_t{h.l1_size} * 8, "L1 table");
  add(h.reftable_offset, uint64_t{h.reftable_clusters} * cs, "refcount table");

  Refblocks rb{h, fd.get(), {}, {}, {}};
  {
    std::vector<uint8_t> buf(uint64_t{h.reftable_clusters} * cs);
    TRY(pread_exact(fd.get(), buf.data(), buf.size(), h.reftable_offset));
    rb.table.resize(buf.size() / 8);
    for (uint64_t i = 0; i < rb.table.size(); ++i) rb.table[i] = be64(&buf[i * 8]);
  }
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

  std::vector<uint8_t> l1buf(uint64_t{h.l1_size} * 8);
  TRY(pread_exact(fd.get(), l1buf.data(), l1buf.size(), h.l1_offset));
  std::vector<uint8_t> l2buf(cs);
  uint32_t cshift = 62 - (h.cluster_bits - 8);
  uint64_t last_host = 0;
  struct CopiedCheck { uint64_t host; uint64_t entry_at; };
  std::vector<CopiedCheck> copied;  // entries flagged COPIED: their refcount must be exactly 1
  for (uint64_t i = 0; i < h.l1_size; ++i) {
    uint64_t l1e = be64(&l1buf[i * 8]);
    uint64_t l2off = l1e & kOffsetMask;
    if (l2off == 0) continue;
    if (l2off % cs || l2off >= file_size) {
      corrupt(fmt::format("L2 table offset {:#x} in L1 entry {} is unaligned or past the end of the file", l2off, i));
      continue;
    }
    add(l2off, cs, "L2 table");
    if (l1e & kFlagCopied) copied.push_back({l2off, h.l1_offset + i * 8});
    TRY(pread_exact(fd.get(), l2buf.data(), cs, l2off));
    for (uint64_t j = 0; j < h.l2_entries(); ++j) {
      uint64_t e = be64(&l2buf[j * 8]);
      uint64_t guest = ((i * h.l2_entries()) + j) * cs;
      if (e == 0 || guest >= h.size) continue;
      if (e & kFlagCompressed) {
        uint64_t host = e & ((1ull << cshift) - 1);
        uint64_t sectors = ((e >> cshift) & ((1ull << (h.cluster_bits - 8)) - 1)) + 1;
        add(host & ~511ull, sectors * 512, "compressed cluster");
        rep.allocated_clusters++;
        rep.compressed_clusters++;
        continue;
      }
      uint64_t host = e & kOffsetMask;
      bool zero = h.version == 3 && (e & kFlagZero);
      if (host == 0) {
        if (zero) rep.allocated_clusters++;
        continue;
      }
      if (host % cs) {
        corrupt(fmt::format("L2 entry for guest offset {:#x} has unaligned host offset {:#x}", guest, host));
        continue;
      }
      add(host, cs, "data cluster");
      if (e & kFlagCopied) copied.push_back({host, l2off + j * 8});
      rep.allocated_clusters++;
      if (last_host != 0 && host != last_host + cs) rep.fragmented_clusters++;
      last_host = host;
    }
  }

  // Compare references with the stored refcounts.
  uint64_t covered = rb.table.size() * rb.per();
  uint64_t limit = std::max<uint64_t>(nclusters, 0);
  for (uint64_t c = 0; c < limit; ++c) {
    uint64_t have = c < covered ? rb.get(c) : 0;
    uint64_t want = refs[c];
    if (have == want) continue;
    if (have < want) {
      corrupt(fmt::format("cluster {} refcount={} reference={}", c, have, want));
      if (repair == Repair::All && rb.set(c, want)) {
        rep.corruptions_fixed++;
      }
    } else {
      rep.leaks++;
      rep.messages.push_back(fmt::format("Leaked cluster {} refcount={} reference={}", c, have, want));
      if (repair != Repair::None && rb.set(c, want)) rep.leaks_fixed++;
    }
  }
  // Refcounts of clusters past the end of the file are not reported, as in qemu-img check.
  for (const auto& cc : copied) {
    uint64_t c = cc.host / cs;
    uint64_t have = rb.get(c);
    if (have != 1 && !(repair == Repair::All && have == 0)) {
      corrupt(fmt::format("OFLAG_COPIED entry at {:#x} for cluster at {:#x} has refcount {}", cc.entry_at, cc.host, have));
    }
  }

  for (auto& [off, d] : rb.dirty)
    if (d) TRY(pwrite_all(fd.get(), rb.blocks[off].data(), cs, off));
  if (repair == Repair::All && rep.corruptions == rep.corruptions_fixed &&
      (h.incompat & (kIncompatCorrupt | kIncompatDirty)) && h.version == 3) {
    uint8_t b[8];
    put_be64(b, h.incompat & ~(kIncompatCorrupt | kIncompatDirty));
    TRY(pwrite_all(fd.get(), b, 8, field::kIncompat));
  }
  if (repair != Repair::None && ::fdatasync(fd.get()) < 0) return fail_errno("fdatasync {}", path);
  rep.image_end_offset = file_size;
  return rep;
}

}  // namespace vessel::block::qcow2
