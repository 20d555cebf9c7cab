#include "block/compress.h"

#include <zlib.h>
#include <zstd.h>

namespace vessel::block::qcow2 {

namespace {

std::optional<std::vector<uint8_t>> deflate_cluster(std::span<const uint8_t> in) {
  z_stream s{};
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  std::vector<uint8_t> out(in.size() - 1);
  s.next_in = const_cast<uint8_t*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  int ret = deflate(&s, Z_FINISH);
  size_t produced = out.size() - s.avail_out;
  deflateEnd(&s);
  if (ret != Z_STREAM_END) return std::nullopt;  // did not fit: store uncompressed
  out.resize(produced);
  return out;
}

std::optional<std::vector<uint8_t>> zstd_cluster(std::span<const uint8_t> in) {
  std::vector<uint8_t> out(in.size() - 1);
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 1);
  if (ZSTD_isError(n)) return std::nullopt;
  out.resize(n);
  return out;
}

Result<void> inflate_cluster(std::span<const uint8_t> in, std::span<uint8_t> out) {
  z_stream s{};
  if (inflateInit2(&s, -12) != Z_OK) return fail(ENOMEM, "inflateInit2 failed (out of memory)");
  s.next_in = const_cast<uint8_t*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  int ret = inflate(&s, Z_FINISH);
  bool full = s.avail_out == 0;
  bool beyond = false;
  if (full && ret != Z_STREAM_END && s.avail_in > 0) {
    uint8_t extra;
    s.next_out = &extra;
    s.avail_out = 1;
    int r2 = inflate(&s, Z_SYNC_FLUSH);
    beyond = (r2 == Z_OK || r2 == Z_STREAM_END) && s.avail_out == 0;
  }
  inflateEnd(&s);
  if (beyond) return fail(EUCLEAN, "compressed data inflates beyond its cluster of {} bytes", out.size());
  if (!full) return fail(EUCLEAN, "compressed data is truncated or corrupt (inflated {} of {} bytes)",
                         out.size() - s.avail_out, out.size());
  return {};
}

Result<void> unzstd_cluster(std::span<const uint8_t> in, std::span<uint8_t> out) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (!ctx) return fail(ENOMEM, "ZSTD_createDCtx failed (out of memory)");
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  size_t ret = 1;
  bool error = false;
  while (ob.pos < ob.size) {
    ret = ZSTD_decompressStream(ctx, &ob, &ib);
    if (ZSTD_isError(ret)) { error = true; break; }
    if (ret == 0 || ib.pos == ib.size) break;  // frame ended or input exhausted
  }
  bool beyond = false;
  if (!error && ob.pos == ob.size && ret != 0 && ib.pos < ib.size) {
    uint8_t extra;
    ZSTD_outBuffer eb{&extra, 1, 0};
    size_t r2 = ZSTD_decompressStream(ctx, &eb, &ib);
    beyond = !ZSTD_isError(r2) && eb.pos > 0;
  }
  ZSTD_freeDCtx(ctx);
  if (beyond) return fail(EUCLEAN, "zstd data inflates beyond its cluster of {} bytes", out.size());
  if (error || ob.pos != ob.size)
    return fail(EUCLEAN, "zstd data is truncated or corrupt (produced {} of {} bytes)", ob.pos, out.size());
  return {};
}

}  // namespace

std::optional<std::vector<uint8_t>> compress_cluster(Compression type, std::span<const uint8_t> in) {
  return type == Compression::Zstd ? zstd_cluster(in) : deflate_cluster(in);
}

Result<void> decompress_cluster(Compression type, std::span<const uint8_t> in, std::span<uint8_t> out) {
  return type == Compression::Zstd ? unzstd_cluster(in, out) : inflate_cluster(in, out);
}

}  // namespace vessel::block::qcow2
