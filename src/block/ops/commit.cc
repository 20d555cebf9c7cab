// vessel-img commit: the overlay's data written into its backing file, the overlay emptied after.
#include <fcntl.h>

#include "base/fd.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

Result<void> commit_image(const std::string& path, std::optional<Format> format, bool keep_top,
                          const Access& access) {
  Format f = format ? *format : TRY(probe_format(path));
  if (f != Format::Qcow2) return fail(EINVAL, "{} has no backing file to commit to", path);
  std::string bpath;
  Format bf;
  {
    Fd fd = TRY_CTX(Fd::open(path, O_RDONLY), "open {}", path);
    qcow2::Header h = TRY(Qcow2Backend::read_header(fd.get()));
    if (h.backing_file.empty()) return fail(EINVAL, "{} has no backing file to commit to", path);
    bpath = TRY(backing_path(path, h.backing_file, access.writing()));
    bf = h.backing_format ? TRY(parse_format(*h.backing_format)) : TRY(probe_format(bpath));
  }
  auto top = TRY(Qcow2Backend::open(path, access.reading(), nullptr));
  auto base = TRY_CTX(open_image(bpath, bf, access.writing()), "open backing file {}", bpath);
  if (top->size() > base->size()) {
    if (auto* raw = dynamic_cast<RawBackend*>(base.get())) TRY(raw->truncate(top->size()));
    else TRY(dynamic_cast<Qcow2Backend*>(base.get())->resize(top->size()));
  }
  auto ext = TRY(top->map(0, top->size()));
  std::vector<uint8_t> buf;
  for (const auto& x : ext) {
    if (x.kind == Extent::Kind::Unallocated) continue;
    if (x.kind == Extent::Kind::Zero) {
      TRY(base->discard(x.offset, x.length, true));
      continue;
    }
    for (uint64_t off = x.offset; off < x.offset + x.length;) {
      uint64_t n = std::min<uint64_t>(2u << 20, x.offset + x.length - off);
      buf.resize(n);
      iovec v{buf.data(), n};
      TRY(top->readv(off, {&v, 1}));
      TRY(base->writev(off, {&v, 1}));
      off += n;
    }
  }
  TRY(base->flush());
  if (keep_top) return {};
  top.reset();
  auto rw = TRY(Qcow2Backend::open(path, access.writing(), nullptr));
  return rw->make_empty();
}

}  // namespace vessel::block
