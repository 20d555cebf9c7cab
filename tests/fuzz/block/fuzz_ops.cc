// Fuzz target: random operations (write, zero, compressed write, flush, reopen, read) on a fresh
// qcow2 image whose options come from the input, against a shadow raw buffer. Any difference
// between image and shadow, and any corruption or leak found by the checker, aborts.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "block/qcow2.h"
#include "block/qcow2_check.h"
#include "block/qcow2_create.h"
#include "memfd_image.h"

using namespace vessel::block;

namespace {
constexpr uint64_t kDisk = 1u << 20;

void must(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "fuzz_ops: %s\n", what);
    abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  fuzz::MemFile f(nullptr, 0);
  if (!f.ok()) return 0;
  qcow2::CreateOptions o;
  o.size = kDisk;
  o.cluster_bits = 9 + data[0] % 8;  // 512 B .. 64 KiB
  o.version = (data[0] & 0x80) ? 2 : 3;
  o.refcount_order = o.version == 2 ? 4 : data[1] % 7;
  o.compression = (o.version == 3 && (data[1] & 0x80)) ? qcow2::Compression::Zstd : qcow2::Compression::Zlib;
  must(static_cast<bool>(qcow2::create(f.path(), o)), "create");
  std::vector<uint8_t> shadow(kDisk, 0);
  auto img = Qcow2Backend::open(f.path(), {}, nullptr);
  must(static_cast<bool>(img), "open");
  uint64_t cs = (*img)->cluster_size();
  std::vector<uint8_t> buf;
  for (size_t p = 2; p + 6 <= size; p += 6) {
    uint8_t op = data[p] % 6;
    uint64_t off = ((uint64_t{data[p + 1]} << 16 | uint64_t{data[p + 2]} << 8 | data[p + 3]) * 7) % kDisk;
    uint64_t len = std::min<uint64_t>(kDisk - off, (uint64_t{data[p + 4]} << 8 | data[p + 5]) + 1);
    uint8_t fill = data[p + 5] | 1;
    switch (op) {
      case 0: {  // write (unaligned, scattered over two iovecs)
        buf.assign(len, fill);
        for (uint64_t i = 0; i < len; i += 97) buf[i] = static_cast<uint8_t>(i);
        iovec v[2] = {{buf.data(), len / 3}, {buf.data() + len / 3, len - len / 3}};
        must(static_cast<bool>((*img)->writev(off, v)), "write");
        memcpy(&shadow[off], buf.data(), len);
        break;
      }
      case 1:
        must(static_cast<bool>((*img)->discard(off, len, true)), "zero");
        memset(&shadow[off], 0, len);
        break;
      case 2: {
        uint64_t c = off & ~(cs - 1);
        if (c + cs > kDisk) break;
        buf.assign(cs, fill);
        memset(buf.data(), data[p + 4], cs / 3);
        must(static_cast<bool>((*img)->write_compressed(c, buf)), "compressed write");
        memcpy(&shadow[c], buf.data(), cs);
        break;
      }
      case 3:
        must(static_cast<bool>((*img)->flush()), "flush");
        break;
      case 4:
        img = vessel::Result<std::unique_ptr<Qcow2Backend>>();  // close (flushes)
        img = Qcow2Backend::open(f.path(), {}, nullptr);
        must(static_cast<bool>(img), "reopen");
        break;
      default: {
        buf.resize(len);
        iovec v{buf.data(), len};
        must(static_cast<bool>((*img)->readv(off, {&v, 1})), "read");
        must(memcmp(buf.data(), &shadow[off], len) == 0, "read differs from shadow");
      }
    }
  }
  buf.resize(kDisk);
  iovec v{buf.data(), kDisk};
  must(static_cast<bool>((*img)->readv(0, {&v, 1})), "final read");
  must(memcmp(buf.data(), shadow.data(), kDisk) == 0, "final image differs from shadow");
  img = vessel::Result<std::unique_ptr<Qcow2Backend>>();
  auto rep = qcow2::check(f.path(), qcow2::Repair::None);
  must(static_cast<bool>(rep), "check");
  must(rep->corruptions == 0 && rep->leaks == 0, "check found corruptions or leaks");
  return 0;
}
