// vessel-img bench: qemu-img bench's access pattern through the block layer, on `depth` threads.
#include <stdlib.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "block/image.h"
#include "block/img_ops.h"

namespace vessel::block {

namespace {
struct FreeDeleter {
  void operator()(uint8_t* p) const { free(p); }
};
std::unique_ptr<uint8_t, FreeDeleter> aligned_buffer(uint64_t size) {
  const uint64_t align = 2u << 20;
  uint64_t rounded = (size + align - 1) & ~(align - 1);
  void* p = aligned_alloc(align, rounded);
  if (p) madvise(p, rounded, MADV_HUGEPAGE);
  return std::unique_ptr<uint8_t, FreeDeleter>(static_cast<uint8_t*>(p));
}
}  // namespace

Result<BenchResult> bench_image(const BenchRequest& r) {
  Format f = r.format ? *r.format : TRY(probe_format(r.path));
  auto img = TRY(open_image(r.path, f, r.write ? r.access.writing() : r.access.reading()));
  uint64_t size = img->size();
  if (r.buffer_size == 0 || r.buffer_size > size) return fail(EINVAL, "buffer size must be between 1 and the image size");
  uint64_t step = r.step ? r.step : r.buffer_size;
  std::vector<uint64_t> offsets(r.count);
  for (uint64_t i = 0, off = r.offset; i < r.count; ++i, off += step) {
    if (off + r.buffer_size > size) off = size > r.buffer_size ? off % (size - r.buffer_size) : 0;
    offsets[i] = off;
  }
  // `depth` requests in flight: one thread per slot, all sharing the backend (which is safe
  // for concurrent calls), each taking every depth-th request.
  unsigned depth = static_cast<unsigned>(std::clamp<uint64_t>(r.depth, 1, 64));
  std::vector<Result<void>> results(depth);
  auto start = std::chrono::steady_clock::now();
  auto worker = [&](unsigned t) {
    // Buffers as QEMU allocates them: 2 MiB aligned, huge pages allowed (fewer TLB misses
    // while the kernel copies, which matters a lot under nested paging).
    auto buf = aligned_buffer(r.buffer_size);
    if (!buf) {
      results[t] = fail(ENOMEM, "allocate a {} byte buffer", r.buffer_size);
      return;
    }
    memset(buf.get(), r.pattern, r.buffer_size);
    iovec v{buf.get(), r.buffer_size};
    for (uint64_t i = t; i < r.count; i += depth) {
      auto res = r.write ? img->writev(offsets[i], {&v, 1}) : img->readv(offsets[i], {&v, 1});
      if (!res) {
        results[t] = std::move(res);
        return;
      }
      if (r.flush_interval && (i + 1) % r.flush_interval == 0) {
        if (auto f = img->flush(); !f) {
          results[t] = std::move(f);
          return;
        }
      }
    }
  };
  if (depth == 1) {
    worker(0);
  } else {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < depth; ++t) threads.emplace_back(worker, t);
    for (auto& th : threads) th.join();
  }
  for (auto& res : results) TRY(std::move(res));
  // Timed like qemu-img bench: until the last request completes; the flush at close is not.
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  if (r.write) TRY(img->flush());
  return BenchResult{d.count()};
}

}  // namespace vessel::block
