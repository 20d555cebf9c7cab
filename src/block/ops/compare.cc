// vessel-img compare: the first differing sector of two images, ranges known to be zero skipped.
#include <cstring>

#include "block/image.h"
#include "block/img_ops.h"
#include "block/ops/status.h"

namespace vessel::block {

Result<std::optional<uint64_t>> compare_images(const std::string& a, std::optional<Format> fa,
                                               const std::string& b, std::optional<Format> fb,
                                               bool strict_size, std::string* warning, const Access& access) {
  Format ffa = fa ? *fa : TRY(probe_format(a));
  Format ffb = fb ? *fb : TRY(probe_format(b));
  auto ia = TRY(open_image(a, ffa, access.reading()));
  auto ib = TRY(open_image(b, ffb, access.reading()));
  uint64_t sa = ia->size(), sb = ib->size();
  if (sa != sb) {
    if (strict_size) return fail(EINVAL, "Strict mode: Image size mismatch!");
    if (warning) *warning = "Warning: Image size mismatch!";
  }
  const uint64_t chunk = 2u << 20;
  std::vector<uint8_t> ba(chunk), bb(chunk);
  uint64_t common = std::min(sa, sb);
  for (uint64_t off = 0; off < common; off += chunk) {
    uint64_t n = std::min(chunk, common - off);
    bool za = TRY(known_zero(ia.get(), off, n)), zb = TRY(known_zero(ib.get(), off, n));
    if (za && zb) continue;
    iovec va{ba.data(), n}, vb{bb.data(), n};
    TRY(ia->readv(off, {&va, 1}));
    TRY(ib->readv(off, {&vb, 1}));
    if (memcmp(ba.data(), bb.data(), n) != 0) {
      uint64_t i = 0;
      while (ba[i] == bb[i]) ++i;
      return std::optional<uint64_t>((off + i) & ~511ull);
    }
  }
  BlockBackend* longer = sa > sb ? ia.get() : ib.get();
  for (uint64_t off = common; off < std::max(sa, sb); off += chunk) {
    uint64_t n = std::min(chunk, std::max(sa, sb) - off);
    if (TRY(known_zero(longer, off, n))) continue;
    iovec v{ba.data(), n};
    TRY(longer->readv(off, {&v, 1}));
    for (uint64_t i = 0; i < n; ++i)
      if (ba[i]) return std::optional<uint64_t>((off + i) & ~511ull);
  }
  return std::optional<uint64_t>();
}

}  // namespace vessel::block
