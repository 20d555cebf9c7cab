// vessel-img rebase: a new backing file; without -u the clusters that would read differently
// through it are copied into the image first.
#include <cstring>

#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2.h"

namespace vessel::block {

Result<void> rebase_image(const std::string& path, std::optional<Format> format, const std::string& backing,
                          std::optional<Format> backing_format, bool unsafe, const Access& access) {
  Format f = format ? *format : TRY(probe_format(path));
  if (f != Format::Qcow2) return fail(EINVAL, "only qcow2 images have a backing file");
  std::string bfmt;
  std::string bpath = resolve_backing(path, backing);
  if (!backing.empty()) {
    Format bf = backing_format ? *backing_format : TRY(probe_format(bpath));
    bfmt = format_name(bf);
  }
  if (unsafe) {
    auto q = TRY(Qcow2Backend::open(path, access.writing(), nullptr));
    return q->set_backing(backing, bfmt);
  }
  auto top = TRY(open_image(path, Format::Qcow2, access.writing()));
  auto* q = dynamic_cast<Qcow2Backend*>(top.get());
  std::unique_ptr<BlockBackend> nb;
  if (!backing.empty()) nb = TRY_CTX(open_image(bpath, TRY(parse_format(bfmt)), access.reading()), "open new backing file {}", bpath);
  uint64_t cs = q->cluster_size();
  std::vector<uint8_t> oldb(cs), newb(cs);
  auto ext = TRY(q->map(0, q->size()));
  for (const auto& x : ext) {
    if (x.kind != Extent::Kind::Unallocated) continue;
    for (uint64_t off = x.offset; off < x.offset + x.length; off += cs) {
      uint64_t n = std::min(cs, x.offset + x.length - off);
      iovec vo{oldb.data(), n};
      TRY(q->readv(off, {&vo, 1}));
      uint64_t nsize = nb ? nb->size() : 0;
      std::fill(newb.begin(), newb.end(), 0);
      if (off < nsize) {
        iovec vn{newb.data(), std::min(n, nsize - off)};
        TRY(nb->readv(off, {&vn, 1}));
      }
      if (memcmp(oldb.data(), newb.data(), n) != 0) TRY(q->writev(off, {&vo, 1}));
    }
  }
  TRY(q->flush());
  return q->set_backing(backing, bfmt);
}

}  // namespace vessel::block
