// virtio-blk requests (virtio 1.2, section 5.2.6): parse, then process. parse_request() turns a
// validated descriptor chain into a BlkRequest whose every field has been checked (framing,
// directions, lengths multiple of 512, sector range against the capacity, overflow); only then
// does the device touch the backend. Pure function of guest memory: the fuzz target calls it.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmm/devices/virtio/queue/virtqueue.h"

namespace vessel::vmm::virtio::blk {

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint32_t kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES
inline constexpr uint32_t kMaxDiscardSectors = 1u << 22;  // 2 GiB per discard/write-zeroes

enum class RequestType : uint32_t {
  In = 0,
  Out = 1,
  Flush = 4,
  GetId = 8,
  Discard = 11,
  WriteZeroes = 13,
};

enum Status : uint8_t { kOk = 0, kIoErr = 1, kUnsupp = 2 };

// Why a request was refused; names are metric keys.
enum class RequestErrorKind : uint8_t {
  NoStatusByte,     // no device-writable byte at the end: the request cannot even be answered
  ShortHeader,      // fewer than 16 device-readable bytes
  Framing,          // data in the wrong direction for the request type
  UnalignedLength,  // data length not a multiple of 512
  SectorRange,      // past the end of the disk (or overflowing)
  ReadOnly,         // write, discard or write-zeroes on a read-only disk
  Unsupported,      // unknown type, or a feature the driver did not negotiate
  BadSegment,       // discard/write-zeroes segment count or flags
  Count
};
const char* request_error_name(RequestErrorKind kind);

struct BlkRequest {
  RequestType type = RequestType::In;
  uint64_t sector = 0;
  std::vector<iovec> data;  // host views of guest buffers (checked ranges of guest RAM)
  uint64_t data_len = 0;
  GuestAddress status_addr = 0;
  // Discard / write-zeroes range, in sectors.
  uint64_t range_sector = 0;
  uint32_t range_sectors = 0;
  bool unmap = false;
  // Bytes the device writes into the chain on success (data for reads, the id, plus status).
  uint32_t used_len() const;
};

struct RequestError {
  RequestErrorKind kind;
  std::optional<GuestAddress> status_addr;  // where to write the failure status, if anywhere
  Status status;                            // kIoErr or kUnsupp
  std::string message;
};

struct DiskGeometry {
  uint64_t capacity_sectors = 0;
  bool read_only = false;
  bool discard = false;       // VIRTIO_BLK_F_DISCARD negotiated
  bool write_zeroes = false;  // VIRTIO_BLK_F_WRITE_ZEROES negotiated
};

tl::expected<BlkRequest, RequestError> parse_request(const GuestMemory& memory,
                                                     const DescriptorChain& chain,
                                                     const DiskGeometry& disk);

}  // namespace vessel::vmm::virtio::blk
