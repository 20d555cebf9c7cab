// Compressed clusters: read (with the last one decompressed kept) and written (convert -c), packed
// one after another into shared host clusters, as QEMU does.
#include <sys/stat.h>

#include <algorithm>

#include "block/compress.h"
#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Backend::read_compressed(uint64_t entry, std::vector<uint8_t>& out) {
  uint64_t cs = h_.cluster_size();
  out.resize(cs);
  if (zbuf_entry_ == entry && !zbuf_.empty()) {
    out = zbuf_;
    return {};
  }
  CompressedRef z = compressed_ref(entry, h_.cluster_bits);
  uint64_t host = z.host;
  uint64_t csize = z.sectors * 512 - (host & 511);
  uint64_t file_end = file_.next_free;
  struct stat st {};
  if (::fstat(fd_.get(), &st) == 0) file_end = static_cast<uint64_t>(st.st_size);
  if (host >= file_end)
    return fail(EUCLEAN, "compressed cluster at host offset {:#x} starts past the end of the file", host);
  if (file_.is_metadata(host, h_))
    return fail(EUCLEAN, "compressed cluster at host offset {:#x} lies in metadata", host);
  uint64_t avail = std::min(csize, file_end - host);
  std::vector<uint8_t> in(avail);
  TRY(pread_exact(fd_.get(), in.data(), in.size(), host));
  auto r = decompress_cluster(h_.compression, in, out);
  if (!r) {
    if (avail < csize && r.error().message().find("truncated") != std::string::npos)
      return fail(EUCLEAN, "compressed cluster at host offset {:#x} of {} bytes runs past the end of the file", host, csize);
    return Unexpected(std::move(r.error()).add_context(fmt::format("compressed cluster at host offset {:#x}", host)));
  }
  zbuf_ = out;
  zbuf_entry_ = entry;
  return {};
}

Result<void> Qcow2Backend::write_compressed(uint64_t offset, std::span<const uint8_t> cluster) {
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  uint64_t cs = h_.cluster_size();
  if (offset % cs != 0 || cluster.size() != cs || offset >= h_.size)
    return fail(EINVAL, "compressed writes take one whole cluster at a cluster boundary");
  return write_precompressed(offset, cluster, compress_cluster(h_.compression, cluster));
}

Result<void> Qcow2Backend::write_precompressed(uint64_t offset, std::span<const uint8_t> cluster,
                                               const std::optional<std::vector<uint8_t>>& packed) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  uint64_t cs = h_.cluster_size();
  if (offset % cs != 0 || cluster.size() != cs || offset >= h_.size)
    return fail(EINVAL, "compressed writes take one whole cluster at a cluster boundary");
  if (!packed) {
    iovec v{const_cast<uint8_t*>(cluster.data()), static_cast<size_t>(std::min(cs, h_.size - offset))};
    return writev(offset, {&v, 1});
  }
  uint64_t len = packed->size();
  uint64_t place = 0;
  if (compressed_cursor_ % cs != 0 && (compressed_cursor_ % cs) + len <= cs) {
    uint64_t c = compressed_cursor_ & ~(cs - 1);
    if (TRY(refs_.get(c)) < refs_.max()) {
      TRY(refs_.update(c, +1));
      place = compressed_cursor_;
    }
  }
  if (place == 0) place = TRY(refs_.alloc((len + cs - 1) / cs));
  compressed_cursor_ = place + len;
  TRY(pwrite_all(fd_.get(), packed->data(), len, place));
  uint64_t gc = offset >> h_.cluster_bits;
  uint64_t old = TRY(l2_.entry(gc));
  TRY(set_entry(gc, compressed_entry(place, len, h_.cluster_bits)));
  return release_entry(old);
}

}  // namespace vessel::block
