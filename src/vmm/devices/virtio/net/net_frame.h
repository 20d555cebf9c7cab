// virtio-net frames (virtio 1.2, section 5.1.6): parse, then process. parse_tx() turns a
// validated descriptor chain into the host views of one outgoing frame whose 12-byte header has
// been copied out of guest memory and checked against the negotiated features; only then does
// the device write it to the tap. parse_rx() checks a receive chain (device-writable only, room
// for the header). Pure functions of guest memory: the fuzz target calls them.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/devices/virtio/queue/virtqueue.h"

namespace vessel::vmm::virtio::net {

// Feature bits (virtio 1.2, 5.1.3).
inline constexpr uint64_t kFeatureCsum = 1ull << 0;
inline constexpr uint64_t kFeatureGuestCsum = 1ull << 1;
inline constexpr uint64_t kFeatureMac = 1ull << 5;
inline constexpr uint64_t kFeatureGuestTso4 = 1ull << 7;
inline constexpr uint64_t kFeatureGuestTso6 = 1ull << 8;
inline constexpr uint64_t kFeatureGuestUfo = 1ull << 10;
inline constexpr uint64_t kFeatureHostTso4 = 1ull << 11;
inline constexpr uint64_t kFeatureHostTso6 = 1ull << 12;
inline constexpr uint64_t kFeatureHostUfo = 1ull << 14;
inline constexpr uint64_t kFeatureMrgRxbuf = 1ull << 15;
inline constexpr uint64_t kFeatureStatus = 1ull << 16;

// struct virtio_net_hdr_v1: the header in front of every frame, both directions, and what a tap
// with IFF_VNET_HDR and TUNSETVNETHDRSZ 12 reads and writes.
struct NetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == 12);
inline constexpr uint32_t kHeaderSize = sizeof(NetHeader);

inline constexpr uint8_t kHdrFlagNeedsCsum = 1;
inline constexpr uint8_t kHdrFlagDataValid = 2;
inline constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdp = 3, kGsoTcpV6 = 4, kGsoEcn = 0x80;

inline constexpr uint32_t kEthHeaderSize = 14;
// Header + the largest frame a guest may hand over (64 KiB of GSO payload plus headers), as
// Firecracker's MAX_BUFFER_SIZE.
inline constexpr uint32_t kMaxFrameWithHeader = 65562;

// Why a tx chain was refused; names are metric keys.
enum class TxErrorKind : uint8_t {
  WritableDescriptor,  // a device-writable buffer in a tx chain
  ShortFrame,          // fewer than header + an Ethernet header
  Oversized,           // above kMaxFrameWithHeader
  BadHeaderFlags,      // unknown flags, or NEEDS_CSUM without VIRTIO_NET_F_CSUM
  BadChecksumOffsets,  // csum_start + csum_offset + 2 past the frame
  BadGso,              // unknown gso_type, or one the guest did not negotiate, or gso_size 0
  BufferOutOfRam,      // a buffer outside guest RAM
  Count
};
const char* tx_error_name(TxErrorKind kind);

struct TxError {
  TxErrorKind kind;
  std::string message;
};

struct TxFrame {
  NetHeader header;            // host copy: checked, cannot change under us
  std::vector<iovec> payload;  // host views of the frame after the header (checked ranges)
  uint32_t frame_len = 0;      // payload bytes (without the header)
};

// `features`: what the driver negotiated (decides which offloads a header may ask for).
tl::expected<TxFrame, TxError> parse_tx(const GuestMemory& memory, const DescriptorChain& chain,
                                        uint64_t features);

struct RxBuffer {
  std::vector<iovec> buffers;  // host views of the chain's device-writable buffers
  uint32_t capacity = 0;       // their total, capped at kMaxFrameWithHeader
};

// A receive chain: device-writable buffers only, at least kHeaderSize bytes. EINVAL otherwise,
// EFAULT for a buffer outside guest RAM.
Result<RxBuffer> parse_rx(const GuestMemory& memory, const DescriptorChain& chain);

// Copies `len` bytes from `src` into the buffers starting at byte `offset`; returns how many fit.
uint32_t copy_to_buffers(const RxBuffer& rx, uint32_t offset, const uint8_t* src, uint32_t len);

}  // namespace vessel::vmm::virtio::net
