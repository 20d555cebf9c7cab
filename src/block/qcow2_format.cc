#include "block/qcow2_format.h"

#include <endian.h>

#include <cstring>

namespace vessel::block::qcow2 {

uint16_t be16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
uint32_t be32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
uint64_t be64(const uint8_t* p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }
void put_be16(uint8_t* p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
void put_be32(uint8_t* p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
void put_be64(uint8_t* p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }

uint64_t l1_entries_for(uint64_t size, uint32_t cluster_bits) {
  uint64_t per_l2 = 1ull << (cluster_bits + cluster_bits - 3);
  return size / per_l2 + (size % per_l2 != 0);
}

namespace {

Result<void> check_table(const char* what, int field_offset, uint64_t offset, uint64_t bytes,
                         uint64_t cluster_size, uint64_t file_size) {
  if (offset % cluster_size != 0)
    return fail(EINVAL, "{} offset {:#x} (header offset {}) is not aligned to the cluster size {}",
                what, offset, field_offset, cluster_size);
  if (offset == 0 && bytes > 0)
    return fail(EINVAL, "{} (header offset {}) overlaps the header", what, field_offset);
  if (offset > file_size || bytes > file_size - offset)
    return fail(EINVAL, "{} at {:#x} of {} bytes (header offset {}) runs past the end of the file ({} bytes)",
                what, offset, bytes, field_offset, file_size);
  return {};
}

Result<void> parse_extensions(const uint8_t* buf, size_t len, Header& h) {
  uint64_t pos = h.header_length;
  uint64_t end = h.backing_offset != 0 ? std::min<uint64_t>(h.backing_offset, len) : len;
  for (int count = 0;; ++count) {
    if (count > 1024) return fail(EINVAL, "more than 1024 header extensions");
    if (pos + 8 > end) return {};  // no end marker before the backing name: tolerated as QEMU does
    uint32_t type = be32(buf + pos);
    uint32_t elen = be32(buf + pos + 4);
    if (type == kExtEnd) return {};
    if (elen > end - pos - 8)
      return fail(EINVAL, "header extension {:#x} at offset {} with length {} runs past the header cluster",
                  type, pos, elen);
    Extension e{type, pos + 8, std::string(reinterpret_cast<const char*>(buf + pos + 8), elen)};
    if (type == kExtBackingFormat) h.backing_format = e.data;
    h.extensions.push_back(std::move(e));
    pos += 8 + ((uint64_t{elen} + 7) & ~7ull);
  }
}

}  // namespace

Result<Header> parse_header(const uint8_t* buf, size_t len, uint64_t file_size) {
  if (len < kV2HeaderLength) return fail(EINVAL, "file of {} bytes is too small for a qcow2 header", len);
  Header h;
  uint32_t magic = be32(buf + field::kMagic);
  if (magic != kMagic) return fail(EINVAL, "bad magic {:#010x} at offset 0: not a qcow2 image", magic);
  h.version = be32(buf + field::kVersion);
  if (h.version != 2 && h.version != 3)
    return fail(ENOTSUP, "unsupported qcow2 version {} at offset {}", h.version, field::kVersion);
  h.backing_offset = be64(buf + field::kBackingOffset);
  h.backing_size = be32(buf + field::kBackingSize);
  h.cluster_bits = be32(buf + field::kClusterBits);
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits)
    return fail(EINVAL, "cluster_bits {} at offset {} is outside {}..{}", h.cluster_bits,
                field::kClusterBits, kMinClusterBits, kMaxClusterBits);
  uint64_t cs = h.cluster_size();
  h.size = be64(buf + field::kSize);
  if (h.size > kMaxDiskSize)
    return fail(EFBIG, "virtual size {} at offset {} is absurd (limit {})", h.size, field::kSize, kMaxDiskSize);
  uint32_t crypt = be32(buf + field::kCryptMethod);
  if (crypt != 0) return fail(ENOTSUP, "encrypted images (crypt_method {} at offset {}) are not supported", crypt, field::kCryptMethod);
  h.l1_size = be32(buf + field::kL1Size);
  h.l1_offset = be64(buf + field::kL1Offset);
  h.reftable_offset = be64(buf + field::kRefTableOffset);
  h.reftable_clusters = be32(buf + field::kRefTableClusters);
  h.nb_snapshots = be32(buf + field::kNbSnapshots);
  h.snapshots_offset = be64(buf + field::kSnapshotsOffset);

  if (h.version == 2) {
    h.refcount_order = 4;
    h.header_length = kV2HeaderLength;
  } else {
    if (len < kV3HeaderLength) return fail(EINVAL, "file too small for a version 3 header");
    h.incompat = be64(buf + field::kIncompat);
    h.compat = be64(buf + field::kCompat);
    h.autoclear = be64(buf + field::kAutoclear);
    h.refcount_order = be32(buf + field::kRefcountOrder);
    h.header_length = be32(buf + field::kHeaderLength);
    if (h.refcount_order > 6)
      return fail(EINVAL, "refcount_order {} at offset {} is above 6 (64-bit refcounts)", h.refcount_order, field::kRefcountOrder);
    if (h.header_length < kV3HeaderLength || h.header_length > cs || h.header_length % 8 != 0 ||
        h.header_length > len)
      return fail(EINVAL, "header_length {} at offset {} is invalid", h.header_length, field::kHeaderLength);
    if (h.incompat & kIncompatDataFile)
      return fail(ENOTSUP, "external data files (incompatible feature bit 2 at offset {}) are not supported", field::kIncompat);
    if (h.incompat & kIncompatExtendedL2)
      return fail(ENOTSUP, "extended L2 entries (incompatible feature bit 4 at offset {}) are not supported", field::kIncompat);
    if (uint64_t unknown = h.incompat & ~kIncompatKnown)
      return fail(ENOTSUP, "unknown incompatible feature bits {:#x} at offset {}", unknown, field::kIncompat);
    if (h.header_length > field::kCompressionType) {
      uint8_t t = buf[field::kCompressionType];
      if (t > 1) return fail(ENOTSUP, "unknown compression type {} at offset {}", t, field::kCompressionType);
      h.compression = static_cast<Compression>(t);
    }
    if ((h.compression != Compression::Zlib) != ((h.incompat & kIncompatCompression) != 0))
      return fail(EINVAL, "compression type {} at offset {} disagrees with incompatible feature bit 3",
                  static_cast<int>(h.compression), field::kCompressionType);
  }

  // Tables: aligned, inside the file, of sane sizes.
  uint64_t need_l1 = l1_entries_for(h.size, h.cluster_bits);
  if (uint64_t{h.l1_size} * 8 > kMaxL1Bytes)
    return fail(EFBIG, "L1 table of {} entries at offset {} is too large", h.l1_size, field::kL1Size);
  if (h.l1_size < need_l1)
    return fail(EINVAL, "L1 table of {} entries (offset {}) is too small for a disk of {} bytes (needs {})",
                h.l1_size, field::kL1Size, h.size, need_l1);
  TRY(check_table("L1 table", field::kL1Offset, h.l1_offset, uint64_t{h.l1_size} * 8, cs, file_size));
  if (h.reftable_clusters == 0)
    return fail(EINVAL, "refcount table of 0 clusters (offset {})", field::kRefTableClusters);
  if (uint64_t{h.reftable_clusters} * cs > kMaxRefTableBytes)
    return fail(EFBIG, "refcount table of {} clusters at offset {} is too large", h.reftable_clusters, field::kRefTableClusters);
  TRY(check_table("refcount table", field::kRefTableOffset, h.reftable_offset,
                  uint64_t{h.reftable_clusters} * cs, cs, file_size));
  if (h.nb_snapshots > 65536)
    return fail(EINVAL, "{} snapshots at offset {} is absurd", h.nb_snapshots, field::kNbSnapshots);
  if (h.nb_snapshots > 0 && h.snapshots_offset % cs != 0)
    return fail(EINVAL, "snapshot table offset {:#x} at offset {} is not cluster aligned", h.snapshots_offset, field::kSnapshotsOffset);

  if (h.backing_offset != 0) {
    if (h.backing_size > kMaxBackingNameBytes || h.backing_size == 0)
      return fail(EINVAL, "backing file name length {} at offset {} is invalid", h.backing_size, field::kBackingSize);
    if (h.backing_offset > std::min<uint64_t>(cs, len) ||
        h.backing_size > std::min<uint64_t>(cs, len) - h.backing_offset)
      return fail(EINVAL, "backing file name at {} (header offset {}) lies outside the header cluster",
                  h.backing_offset, field::kBackingOffset);
    if (h.backing_offset < h.header_length)
      return fail(EINVAL, "backing file name at {} (header offset {}) overlaps the header", h.backing_offset, field::kBackingOffset);
    h.backing_file.assign(reinterpret_cast<const char*>(buf + h.backing_offset), h.backing_size);
    if (h.backing_file.find('\0') != std::string::npos)
      return fail(EINVAL, "backing file name at {} contains a NUL byte", h.backing_offset);
  }
  TRY(parse_extensions(buf, std::min<size_t>(len, cs), h));
  if (h.backing_format && *h.backing_format != "raw" && *h.backing_format != "qcow2")
    return fail(ENOTSUP, "backing format '{}' is not supported (raw or qcow2)", *h.backing_format);
  return h;
}

CompressedRef compressed_ref(uint64_t entry, uint32_t cluster_bits) {
  uint32_t shift = 62 - (cluster_bits - 8);
  return {entry & ((1ull << shift) - 1), ((entry >> shift) & ((1ull << (cluster_bits - 8)) - 1)) + 1};
}

uint64_t compressed_entry(uint64_t host, uint64_t len, uint32_t cluster_bits) {
  uint32_t shift = 62 - (cluster_bits - 8);
  uint64_t sectors = ((host + len - 1) >> 9) - (host >> 9);
  return kFlagCompressed | (sectors << shift) | host;
}

}  // namespace vessel::block::qcow2
