// Fuzz target: qcow2 *writes* on a hostile image. The input is an image (any bytes) followed by
// 16 operations of 6 bytes; the image is opened read-write (backing files not followed) and gets
// writes, zero writes, discards, compressed writes, resizes, flushes, reopens and reads. Errors
// are fine (the image is hostile); crashes, hangs and sanitizer reports are not, and neither is a
// write anywhere but the image file: a canary file beside it must keep its bytes, and the image
// may take only the space the operations could need. (Its apparent size may jump: new clusters go
// after the last one the image's own refcounts count, which a hostile image may put far past its
// end; the file stays sparse. Found by the first campaign, and as designed: docs/block/README.md.)
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "block/qcow2.h"
#include "block/qcow2_check.h"
#include "memfd_image.h"

using namespace vessel::block;

namespace {

constexpr size_t kOps = 16, kOpBytes = 6;

void must(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "fuzz_write: %s\n", what);
    abort();
  }
}

// The space the file takes (memfd pages), not its apparent size.
uint64_t file_space(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

OpenOptions writable() {
  OpenOptions o;
  o.backing = BackingPolicy::Refuse;
  o.lock = false;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kOps * kOpBytes + 72) return 0;
  const size_t image_size = size - kOps * kOpBytes;
  const uint8_t* ops = data + image_size;
  fuzz::MemFile f(data, image_size);
  static const std::vector<uint8_t> canary_bytes(8192, 0xc5);
  fuzz::MemFile canary(canary_bytes.data(), canary_bytes.size());
  if (!f.ok() || !canary.ok()) return 0;
  auto img = Qcow2Backend::open(f.path(), writable(), nullptr);
  if (!img) return 0;
  const uint64_t start_size = file_space(f.path());
  uint64_t cs = (*img)->cluster_size();
  // What the operations may add: each writes at most 64 KiB of data, which may need a data cluster,
  // an L2 table, a refcount block and a larger refcount table per cluster, plus a larger L1 on resize.
  uint64_t budget = 0;
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < kOps && img; ++i) {
    const uint8_t* p = ops + i * kOpBytes;
    uint64_t disk = (*img)->size();
    uint64_t off = disk ? ((uint64_t{p[1]} << 16 | uint64_t{p[2]} << 8 | p[3]) * 4099) % disk : 0;
    uint64_t len = std::min<uint64_t>(disk - off, (uint64_t{p[4]} << 8 | p[5]) + 1);
    budget += 4 * (len + 2 * cs) + 4 * cs;
    switch (p[0] % 9) {
      case 0: {
        buf.assign(len, p[5]);
        iovec v[2] = {{buf.data(), len / 2}, {buf.data() + len / 2, len - len / 2}};
        (void)(*img)->writev(off, v);
        break;
      }
      case 1:
        (void)(*img)->discard(off, len, true);
        break;
      case 2:
        (void)(*img)->discard(off, len, false);
        break;
      case 3: {
        uint64_t c = off & ~(cs - 1);
        if (c + cs > disk) break;
        buf.assign(cs, p[4]);
        (void)(*img)->write_compressed(c, buf);
        break;
      }
      case 4: {  // grow or shrink by up to 16 clusters (512-byte multiples)
        uint64_t delta = (p[1] % 16 + 1) * cs;
        uint64_t want = (p[2] & 1) ? disk + delta : (disk > delta ? disk - delta : disk);
        want &= ~uint64_t{511};
        uint64_t l1_bytes = (want / (cs * (cs / 8)) + 1) * 8;  // the new L1 table
        budget += 2 * (l1_bytes + cs) + 4 * cs;
        (void)(*img)->resize(want);
        break;
      }
      case 5:
        (void)(*img)->flush();
        break;
      case 6:
        img = vessel::Result<std::unique_ptr<Qcow2Backend>>();  // close (flushes)
        img = Qcow2Backend::open(f.path(), writable(), nullptr);
        if (img) cs = (*img)->cluster_size();
        break;
      default: {
        buf.resize(len);
        iovec v{buf.data(), len};
        (void)(*img)->readv(off, {&v, 1});
        break;
      }
    }
  }
  img = vessel::Result<std::unique_ptr<Qcow2Backend>>();
  (void)qcow2::check(f.path(), qcow2::Repair::None);
  std::vector<uint8_t> after(canary_bytes.size());
  FILE* c = fopen(canary.path().c_str(), "rb");
  must(c && fread(after.data(), 1, after.size(), c) == after.size() && fgetc(c) == EOF, "read the canary");
  fclose(c);
  must(after == canary_bytes, "a write reached the canary file beside the image");
  uint64_t end = file_space(f.path());
  if (end > start_size + budget + (1u << 20)) {
    fprintf(stderr, "fuzz_write: the image's space grew from %llu to %llu bytes\n", (unsigned long long)start_size,
            (unsigned long long)end);
    abort();
  }
  return 0;
}
