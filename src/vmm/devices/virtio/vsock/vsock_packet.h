// virtio-vsock packets (virtio 1.2, section 5.10.6): the 44-byte little-endian header, and the
// parser that turns a guest tx chain into a validated packet before the device acts on it
// (parse, then process). Also the view of an rx chain the device writes packets into. Pure
// functions of guest memory: the fuzz target calls them.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/error.h"
#include "vmm/devices/virtio/queue/virtqueue.h"

namespace vessel::vmm::virtio::vsock {

inline constexpr uint64_t kHostCid = 2;            // VMADDR_CID_HOST
inline constexpr size_t kHeaderSize = 44;
inline constexpr uint32_t kMaxPayload = 64 * 1024;  // Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE
inline constexpr uint16_t kTypeStream = 1;
inline constexpr uint32_t kShutdownRcv = 1, kShutdownSend = 2;

enum class Op : uint16_t {
  Request = 1,
  Response = 2,
  Rst = 3,
  Shutdown = 4,
  Rw = 5,
  CreditUpdate = 6,
  CreditRequest = 7,
};

struct Header {
  uint64_t src_cid = 0;
  uint64_t dst_cid = 0;
  uint32_t src_port = 0;
  uint32_t dst_port = 0;
  uint32_t len = 0;
  uint16_t type = kTypeStream;
  uint16_t op = 0;
  uint32_t flags = 0;
  uint32_t buf_alloc = 0;
  uint32_t fwd_cnt = 0;
};

std::array<uint8_t, kHeaderSize> encode(const Header& h);
Header decode(std::span<const uint8_t, kHeaderSize> bytes);

// What is wrong with a guest packet; the names are metric keys.
enum class PacketError : uint8_t {
  ShortHeader,        // the chain's readable bytes hold no whole header
  BadType,            // not VIRTIO_VSOCK_TYPE_STREAM
  BadOp,              // op outside 1..7
  BadLength,          // len above kMaxPayload
  LengthBeyondChain,  // len larger than the bytes after the header
  PayloadOnControl,   // len != 0 on anything but RW
  BadSourceCid,       // src_cid is not the guest's cid
  BadDestinationCid,  // dst_cid is not the host
  BufferOutOfRam,     // a descriptor outside guest RAM
  UnknownConnection,  // (device) no connection for this packet
  CreditViolation,    // (device) more data than the host advertised room for
  Count
};
const char* packet_error_name(PacketError e);

struct PacketFault {
  PacketError kind;
  std::optional<Header> header;  // when it could be read: the device answers with RST
};

// A validated guest packet: `payload` are host views of exactly `header.len` bytes of guest RAM.
struct TxPacket {
  Header header;
  std::vector<std::span<const uint8_t>> payload;
};

// Gathers the header from the chain's device-readable descriptors (it may span several),
// checks every field against the rules above, and the payload's views. Device-writable
// descriptors are ignored.
tl::expected<TxPacket, PacketFault> parse_tx(const GuestMemory& memory, const DescriptorChain& chain,
                                             uint64_t guest_cid);

// The device-writable buffers of an rx chain as host views (each checked against guest RAM).
struct RxBuffer {
  std::vector<iovec> iov;
  uint64_t len = 0;  // total bytes
  // Copies `data` at byte `offset` of the buffer; false when it does not fit.
  bool write_at(uint64_t offset, std::span<const uint8_t> data) const;
  // Views of bytes [offset, offset + max) of the buffer (fewer when the buffer is shorter).
  std::vector<iovec> range(uint64_t offset, uint64_t max) const;
};

// EFAULT for a buffer outside guest RAM; EINVAL when the buffer cannot hold a header.
Result<RxBuffer> parse_rx(const GuestMemory& memory, const DescriptorChain& chain);

}  // namespace vessel::vmm::virtio::vsock
