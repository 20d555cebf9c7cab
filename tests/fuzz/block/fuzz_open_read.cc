// Fuzz target: open arbitrary bytes as a qcow2 image (read-only, backing files not followed),
// read and map what it claims to hold, and run the checker. Errors are fine; crashes, hangs and
// sanitizer reports are not.
#include <cstdint>
#include <vector>

#include "block/qcow2.h"
#include "block/qcow2_check.h"
#include "memfd_image.h"

using namespace vessel::block;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemFile f(data, size);
  if (!f.ok()) return 0;
  (void)qcow2::check(f.path(), qcow2::Repair::None);
  auto img = Qcow2Backend::open(f.path(), {.read_only = true}, nullptr);
  if (!img) return 0;
  auto& q = **img;
  const uint64_t span = std::min<uint64_t>(q.size(), 4u << 20);
  (void)q.map(0, span);
  std::vector<uint8_t> buf(64 * 1024);
  for (uint64_t off = 0; off < span; off += buf.size()) {
    iovec v{buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), span - off))};
    (void)q.readv(off, {&v, 1});
  }
  if (q.size() > span) {  // and the tail of a large disk
    iovec v{buf.data(), 4096};
    (void)q.readv((q.size() - 4096) & ~511ull, {&v, 1});
  }
  return 0;
}
