// vessel-img resize: SIZE, +SIZE or -SIZE (shrinking only when asked).
#include "block/image.h"
#include "block/img_ops.h"
#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

Result<void> resize_image(const std::string& path, std::optional<Format> format, const std::string& size_text,
                          bool shrink, const Access& access) {
  Format f = format ? *format : TRY(probe_format(path));
  auto img = TRY(open_image(path, f, access.writing(), true));
  uint64_t cur = img->size(), want;
  if (!size_text.empty() && (size_text[0] == '+' || size_text[0] == '-')) {
    uint64_t delta = TRY(parse_size(size_text.substr(1)));
    if (size_text[0] == '+') {
      if (delta > UINT64_MAX - cur) return fail(ERANGE, "size overflows");
      want = cur + delta;
    } else {
      if (delta > cur) return fail(EINVAL, "cannot shrink below zero");
      want = cur - delta;
    }
  } else {
    want = TRY(parse_size(size_text));
  }
  if (want < cur && !shrink)
    return Unexpected(Error(EINVAL, "use the --shrink option to perform a shrink operation")
                          .with_hint("shrinking may lose data: back it up first"));
  if (auto* raw = dynamic_cast<RawBackend*>(img.get())) return raw->truncate(want);
  auto* q = dynamic_cast<Qcow2Backend*>(img.get());
  if (want % 512 != 0) return fail(EINVAL, "qcow2 sizes must be multiples of 512");
  return q->resize(want);
}

}  // namespace vessel::block
