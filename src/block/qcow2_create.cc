#include "block/qcow2_create.h"

#include "block/image_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/fd.h"

namespace vessel::block::qcow2 {

namespace {
uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

void set_refcount(std::vector<uint8_t>& blocks, uint64_t index, uint32_t order) {
  uint32_t bits = 1u << order;
  if (bits < 8) {
    uint64_t per_byte = 8 / bits;
    blocks[index / per_byte] |= static_cast<uint8_t>(1u << ((index % per_byte) * bits));
  } else {
    uint64_t bytes = bits / 8;
    blocks[index * bytes + bytes - 1] = 1;  // big-endian 1
  }
}
}  // namespace

Result<void> create(const std::string& path, const CreateOptions& o) {
  if (o.cluster_bits < kMinClusterBits || o.cluster_bits > kMaxClusterBits)
    return fail(EINVAL, "cluster size must be a power of two between 512 and 2M");
  if (o.version != 2 && o.version != 3) return fail(EINVAL, "compat must be 0.10 or 1.1");
  if (o.refcount_order > 6) return fail(EINVAL, "refcount_bits must be a power of two up to 64");
  if (o.version == 2 && o.refcount_order != 4)
    return fail(EINVAL, "compat=0.10 only supports refcount_bits=16");
  if (o.version == 2 && o.compression != Compression::Zlib)
    return fail(EINVAL, "compression_type=zstd needs compat=1.1");
  if (o.size > kMaxDiskSize) return fail(EFBIG, "size {} is too large", o.size);
  if (o.backing_file.size() > kMaxBackingNameBytes) return fail(ENAMETOOLONG, "backing file name is too long");

  uint64_t cs = 1ull << o.cluster_bits;
  uint64_t l1_entries = l1_entries_for(o.size, o.cluster_bits);
  if (l1_entries * 8 > kMaxL1Bytes) return fail(EFBIG, "size {} needs too large an L1 table", o.size);
  uint64_t l1_clusters = std::max<uint64_t>(1, div_up(l1_entries * 8, cs));
  uint64_t per_block = (cs * 8) >> o.refcount_order;
  uint64_t rt_clusters = 1, rb_count = 1;
  for (int i = 0; i < 8; ++i) {  // fixed point: the refcount structures count themselves
    uint64_t total = 1 + rt_clusters + rb_count + l1_clusters;
    rb_count = div_up(total, per_block);
    rt_clusters = std::max<uint64_t>(1, div_up(rb_count * 8, cs));
  }
  uint64_t total = 1 + rt_clusters + rb_count + l1_clusters;
  uint64_t rt_off = cs, rb_off = rt_off + rt_clusters * cs, l1_off = rb_off + rb_count * cs;

  std::vector<uint8_t> image(total * cs, 0);
  uint8_t* h = image.data();
  put_be32(h + field::kMagic, kMagic);
  put_be32(h + field::kVersion, o.version);
  put_be32(h + field::kClusterBits, o.cluster_bits);
  put_be64(h + field::kSize, o.size);
  put_be32(h + field::kL1Size, static_cast<uint32_t>(l1_entries));
  put_be64(h + field::kL1Offset, l1_off);
  put_be64(h + field::kRefTableOffset, rt_off);
  put_be32(h + field::kRefTableClusters, static_cast<uint32_t>(rt_clusters));
  uint64_t pos = kV2HeaderLength;
  if (o.version == 3) {
    uint64_t incompat = o.compression == Compression::Zstd ? kIncompatCompression : 0;
    put_be64(h + field::kIncompat, incompat);
    put_be32(h + field::kRefcountOrder, o.refcount_order);
    put_be32(h + field::kHeaderLength, 112);
    h[field::kCompressionType] = static_cast<uint8_t>(o.compression);
    pos = 112;
  }
  auto put_ext = [&](uint32_t type, const void* data, uint32_t len) -> Result<void> {
    uint64_t padded = (uint64_t{len} + 7) & ~7ull;
    if (pos + 8 + padded + 8 > cs) return fail(ENAMETOOLONG, "header extensions do not fit in a cluster");
    put_be32(h + pos, type);
    put_be32(h + pos + 4, len);
    memcpy(h + pos + 8, data, len);
    pos += 8 + padded;
    return {};
  };
  if (!o.backing_file.empty() && !o.backing_format.empty())
    TRY(put_ext(kExtBackingFormat, o.backing_format.data(), static_cast<uint32_t>(o.backing_format.size())));
  pos += 8;  // end-of-extensions marker (zeros)
  if (!o.backing_file.empty()) {
    if (pos + o.backing_file.size() > cs) return fail(ENAMETOOLONG, "backing file name does not fit in the header cluster");
    put_be64(h + field::kBackingOffset, pos);
    put_be32(h + field::kBackingSize, static_cast<uint32_t>(o.backing_file.size()));
    memcpy(h + pos, o.backing_file.data(), o.backing_file.size());
  }
  for (uint64_t i = 0; i < rb_count; ++i) put_be64(image.data() + rt_off + i * 8, rb_off + i * cs);
  std::vector<uint8_t> blocks(rb_count * cs, 0);
  for (uint64_t c = 0; c < total; ++c) set_refcount(blocks, c, o.refcount_order);
  memcpy(image.data() + rb_off, blocks.data(), blocks.size());

  // Locked before it is emptied: an image in use is not truncated under its user.
  Fd fd = TRY_CTX(Fd::open(path, O_RDWR | O_CREAT, 0644), "create {}", path);
  TRY(lock_image(fd.get(), path, LockMode::Writer));
  if (::ftruncate(fd.get(), 0) < 0) return fail_errno("truncate {}", path);
  TRY(pwrite_all(fd.get(), image.data(), image.size(), 0));
  if (::fdatasync(fd.get()) < 0) return fail_errno("fdatasync {}", path);
  return {};
}

}  // namespace vessel::block::qcow2
