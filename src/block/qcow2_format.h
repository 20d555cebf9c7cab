// The qcow2 on-disk format (docs/interop/qcow2.txt in QEMU): header fields, feature bits, L1/L2
// entry layout, and the validating header parser. Everything here is pure: bytes in, values out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace vessel::block::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 21;
inline constexpr uint64_t kMaxL1Bytes = 32u << 20;        // QEMU's QCOW_MAX_L1_SIZE
inline constexpr uint64_t kMaxRefTableBytes = 8u << 20;   // QEMU's QCOW_MAX_REFTABLE_SIZE
inline constexpr uint64_t kMaxDiskSize = 1ull << 61;      // far beyond any real disk; rejects absurd sizes
inline constexpr uint32_t kMaxBackingNameBytes = 1023;
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3HeaderLength = 104;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1ull << 0;
inline constexpr uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kIncompatDataFile = 1ull << 2;
inline constexpr uint64_t kIncompatCompression = 1ull << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1ull << 4;
inline constexpr uint64_t kIncompatKnown = kIncompatDirty | kIncompatCorrupt | kIncompatCompression;
inline constexpr uint64_t kCompatLazyRefcounts = 1ull << 0;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xE2792ACA;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;

// L1/L2 entries.
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9..55
inline constexpr uint64_t kFlagCopied = 1ull << 63;
inline constexpr uint64_t kFlagCompressed = 1ull << 62;
inline constexpr uint64_t kFlagZero = 1ull << 0;
inline constexpr uint64_t kL1Reserved = 0x7f000000000001ffull;
inline constexpr uint64_t kL2Reserved = 0x3f000000000001feull;

// What an L2 entry maps (a version 2 entry must be read with bit 0 cleared: see L2Cache::entry).
inline bool is_compressed(uint64_t e) { return (e & kFlagCompressed) != 0; }
inline bool is_zero(uint64_t e) { return !is_compressed(e) && (e & kFlagZero); }
inline bool is_data(uint64_t e) { return !is_compressed(e) && !is_zero(e) && (e & kOffsetMask) != 0; }

// A compressed cluster's descriptor: where its bytes start and how many 512-byte sectors
// (counted from the one holding `host`) they touch.
struct CompressedRef {
  uint64_t host;
  uint64_t sectors;
};
CompressedRef compressed_ref(uint64_t entry, uint32_t cluster_bits);
// The L2 entry of `len` compressed bytes stored at `host`.
uint64_t compressed_entry(uint64_t host, uint64_t len, uint32_t cluster_bits);

// Header field offsets, named in error messages.
namespace field {
inline constexpr int kMagic = 0, kVersion = 4, kBackingOffset = 8, kBackingSize = 16,
                     kClusterBits = 20, kSize = 24, kCryptMethod = 32, kL1Size = 36,
                     kL1Offset = 40, kRefTableOffset = 48, kRefTableClusters = 56,
                     kNbSnapshots = 60, kSnapshotsOffset = 64, kIncompat = 72, kCompat = 80,
                     kAutoclear = 88, kRefcountOrder = 96, kHeaderLength = 100,
                     kCompressionType = 104;
}

enum class Compression : uint8_t { Zlib = 0, Zstd = 1 };

struct Extension {
  uint32_t type;
  uint64_t offset;  // of the extension's data in the file
  std::string data;
};

struct Header {
  uint32_t version = 3;
  uint64_t backing_offset = 0;
  uint32_t backing_size = 0;
  uint32_t cluster_bits = 16;
  uint64_t size = 0;
  uint32_t l1_size = 0;
  uint64_t l1_offset = 0;
  uint64_t reftable_offset = 0;
  uint32_t reftable_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompat = 0;
  uint64_t compat = 0;
  uint64_t autoclear = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = kV3HeaderLength;
  Compression compression = Compression::Zlib;

  std::vector<Extension> extensions;
  std::string backing_file;
  std::optional<std::string> backing_format;

  uint64_t cluster_size() const { return 1ull << cluster_bits; }
  uint64_t l2_entries() const { return cluster_size() / 8; }
  uint32_t refcount_bits() const { return 1u << refcount_order; }
  // Refcount entries per refcount block.
  uint64_t refblock_entries() const { return (cluster_size() * 8) >> refcount_order; }
};

// Parses and validates the header cluster. `file_size` bounds every table offset.
Result<Header> parse_header(const uint8_t* buf, size_t len, uint64_t file_size);

// L1 entries needed to map `size` bytes with these cluster bits.
uint64_t l1_entries_for(uint64_t size, uint32_t cluster_bits);

// Big-endian accessors.
uint16_t be16(const uint8_t* p);
uint32_t be32(const uint8_t* p);
uint64_t be64(const uint8_t* p);
void put_be16(uint8_t* p, uint16_t v);
void put_be32(uint8_t* p, uint32_t v);
void put_be64(uint8_t* p, uint64_t v);

}  // namespace vessel::block::qcow2
