// vessel-img convert: copies the non-zero data of an image into a new one (possibly compressed),
// reading the next chunk on a helper thread while this one is written.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "block/compress.h"
#include "block/image.h"
#include "block/img_ops.h"
#include "block/ops/status.h"
#include "block/qcow2.h"

namespace vessel::block {

namespace {

bool all_zero(const uint8_t* p, size_t n) {
  if (n == 0) return true;
  return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

// Compresses the non-zero clusters of a chunk on every core, then appends them in order.
Result<void> write_compressed_chunk(Qcow2Backend& q, uint64_t off, const uint8_t* data, uint64_t n) {
  uint64_t cs = q.cluster_size();
  std::vector<std::vector<uint8_t>> clusters;
  std::vector<uint64_t> offsets;
  for (uint64_t u = 0; u < n; u += cs) {
    uint64_t un = std::min(cs, n - u);
    if (all_zero(data + u, un)) continue;
    std::vector<uint8_t> c(cs, 0);
    memcpy(c.data(), data + u, un);
    clusters.push_back(std::move(c));
    offsets.push_back(off + u);
  }
  std::vector<std::optional<std::vector<uint8_t>>> packed(clusters.size());
  // At least four, as QEMU's qcow2 compression threads: a busy host shares CPU per thread.
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 4u, 8u);
  std::vector<std::thread> pool;
  auto type = q.header().compression;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = t; i < clusters.size(); i += threads) packed[i] = qcow2::compress_cluster(type, clusters[i]);
    });
  for (auto& th : pool) th.join();
  for (size_t i = 0; i < clusters.size(); ++i) TRY(q.write_precompressed(offsets[i], clusters[i], packed[i]));
  return {};
}

// Creating the destination truncates it: when it is the source, or a layer of the source's backing
// chain, the data being copied is destroyed before it is read (qemu-img refuses through its locks).
Result<void> refuse_destination_in_source(const ConvertRequest& r, Format source_format) {
  struct stat dst;
  if (::stat(r.dst.c_str(), &dst) != 0) return {};  // a new file
  auto layers = TRY(image_info(r.src, source_format, true, r.access));
  for (const auto& layer : layers) {
    std::string path = layer.value("filename", "");
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && st.st_dev == dst.st_dev && st.st_ino == dst.st_ino)
      return fail(EINVAL, "convert: the destination {} is {}; converting would destroy it: write to another file",
                  r.dst, path == r.src ? "the source image itself" : fmt::format("a backing file of the source ({})", path));
  }
  return {};
}

}  // namespace

Result<void> convert_image(const ConvertRequest& r) {
  Format sf = r.src_format ? *r.src_format : TRY(probe_format(r.src));
  TRY(refuse_destination_in_source(r, sf));
  auto src = TRY_CTX(open_image(r.src, sf, r.access.reading()), "open source {}", r.src);
  uint64_t size = src->size();
  if (r.compress && r.dst_format != Format::Qcow2) return fail(ENOTSUP, "compression needs -O qcow2");
  CreateRequest cr{r.dst_format, r.dst, size, "", std::nullopt, r.options};
  TRY_CTX(create_image(cr), "create {}", r.dst);
  auto dst = TRY_CTX(open_image(r.dst, r.dst_format, r.access.writing(), true), "open {}", r.dst);
  auto* qdst = dynamic_cast<Qcow2Backend*>(dst.get());
  if (qdst && r.unsafe_cache) qdst->set_unsafe_cache(true);
  uint64_t unit = qdst ? qdst->cluster_size() : 4096;          // zero-detection granularity
  uint64_t chunk = std::max<uint64_t>(unit, (r.compress ? 8u : 2u) << 20);  // read size
  // Two buffers: the next chunk is read on a helper thread while this one is written.
  struct Chunk {
    uint64_t off = 0, n = 0;
    bool zero = false;
    std::vector<uint8_t> buf;
    Result<void> status;
  };
  auto load = [&](Chunk& c, uint64_t off) {
    c.off = off;
    c.n = std::min(chunk, size - off);
    c.buf.resize(chunk);
    auto z = known_zero(src.get(), off, c.n);
    if (!z) {
      c.status = Unexpected(std::move(z.error()));
      return;
    }
    c.zero = *z;
    if (c.zero) return;
    iovec v{c.buf.data(), c.n};
    c.status = src->readv(off, {&v, 1});
    if (!c.status) c.status.error().add_context(fmt::format("read {} at offset {}", r.src, off));
  };
  Chunk chunks[2];
  if (size > 0) load(chunks[0], 0);
  int cur = 0;
  for (uint64_t off = 0; off < size; off += chunk, cur ^= 1) {
    std::thread prefetch;
    if (off + chunk < size) prefetch = std::thread(load, std::ref(chunks[cur ^ 1]), off + chunk);
    auto join = [&] {
      if (prefetch.joinable()) prefetch.join();
    };
    Chunk& c = chunks[cur];
    if (r.progress) r.progress(static_cast<double>(off) / static_cast<double>(size));
    auto step = [&]() -> Result<void> {
      TRY(std::move(c.status));
      if (c.zero) return {};
      if (r.compress) return write_compressed_chunk(*qdst, off, c.buf.data(), c.n);
      for (uint64_t u = 0; u < c.n;) {
        uint64_t un = std::min(unit, c.n - u);
        if (all_zero(c.buf.data() + u, un)) {
          u += un;
          continue;
        }
        uint64_t run = un;  // extend over non-zero units: one write
        while (u + run < c.n) {
          uint64_t next = std::min(unit, c.n - u - run);
          if (all_zero(c.buf.data() + u + run, next)) break;
          run += next;
        }
        iovec w{c.buf.data() + u, run};
        TRY_CTX(dst->writev(off + u, {&w, 1}), "write {} at offset {}", r.dst, off + u);
        u += run;
      }
      return {};
    }();
    join();
    TRY(std::move(step));
  }
  if (qdst || !r.unsafe_cache) TRY(dst->flush());  // qcow2 metadata must be written either way
  if (r.progress) r.progress(1.0);
  return {};
}

}  // namespace vessel::block
