#include "vmm/devices/virtio/net/net_frame.h"

#include <algorithm>
#include <cstring>

namespace vessel::vmm::virtio::net {
namespace {

tl::unexpected<TxError> refuse(TxErrorKind kind, std::string message) {
  return tl::unexpected<TxError>(TxError{kind, std::move(message)});
}

// The offload a gso_type needs the driver to have negotiated (HOST_*: the device segments).
uint64_t gso_feature(uint8_t type) {
  switch (type) {
    case kGsoTcpV4:
      return kFeatureHostTso4;
    case kGsoTcpV6:
      return kFeatureHostTso6;
    case kGsoUdp:
      return kFeatureHostUfo;
    default:
      return 0;
  }
}

tl::expected<void, TxError> check_header(const NetHeader& h, uint32_t frame_len,
                                         uint64_t features) {
  if (h.flags & ~(kHdrFlagNeedsCsum | kHdrFlagDataValid))
    return refuse(TxErrorKind::BadHeaderFlags, fmt::format("unknown header flags {:#x}", h.flags));
  if ((h.flags & kHdrFlagNeedsCsum) && !(features & kFeatureCsum))
    return refuse(TxErrorKind::BadHeaderFlags, "NEEDS_CSUM without VIRTIO_NET_F_CSUM");
  if ((h.flags & kHdrFlagNeedsCsum) && uint32_t(h.csum_start) + h.csum_offset + 2 > frame_len)
    return refuse(TxErrorKind::BadChecksumOffsets,
                  fmt::format("checksum at {}+{} past a frame of {} bytes", h.csum_start,
                              h.csum_offset, frame_len));
  if (h.gso_type == kGsoNone) return {};
  uint64_t needed = gso_feature(h.gso_type);
  if (needed == 0 || !(features & needed))
    return refuse(TxErrorKind::BadGso, fmt::format("gso_type {:#x} not negotiated", h.gso_type));
  if (h.gso_size == 0 || !(h.flags & kHdrFlagNeedsCsum) || h.hdr_len > frame_len)
    return refuse(TxErrorKind::BadGso,
                  fmt::format("gso_size {} / hdr_len {} / flags {:#x} do not describe a "
                              "segmentable frame of {} bytes",
                              h.gso_size, h.hdr_len, h.flags, frame_len));
  return {};
}

}  // namespace

const char* tx_error_name(TxErrorKind kind) {
  switch (kind) {
    case TxErrorKind::WritableDescriptor:
      return "writable_descriptor";
    case TxErrorKind::ShortFrame:
      return "short_frame";
    case TxErrorKind::Oversized:
      return "oversized";
    case TxErrorKind::BadHeaderFlags:
      return "bad_header_flags";
    case TxErrorKind::BadChecksumOffsets:
      return "bad_checksum_offsets";
    case TxErrorKind::BadGso:
      return "bad_gso";
    case TxErrorKind::BufferOutOfRam:
      return "buffer_out_of_ram";
    case TxErrorKind::Count:
      break;
  }
  return "unknown";
}

tl::expected<TxFrame, TxError> parse_tx(const GuestMemory& memory, const DescriptorChain& chain,
                                        uint64_t features) {
  // Directions and sizes first, from the chain's own totals, before touching any buffer.
  if (chain.writable_bytes > 0)
    return refuse(TxErrorKind::WritableDescriptor, "tx chain has device-writable buffers");
  if (chain.readable_bytes > kMaxFrameWithHeader)
    return refuse(TxErrorKind::Oversized,
                  fmt::format("tx frame of {} bytes (limit {} with the header)",
                              chain.readable_bytes, kMaxFrameWithHeader));
  if (chain.readable_bytes < kHeaderSize + kEthHeaderSize)
    return refuse(TxErrorKind::ShortFrame,
                  fmt::format("tx frame of {} bytes", chain.readable_bytes));
  TxFrame frame;
  uint8_t header[kHeaderSize];
  uint32_t header_got = 0;
  for (const auto& d : chain.descriptors) {
    if (d.len == 0) continue;
    auto span = memory.slice(d.addr, d.len);
    if (!span)
      return refuse(TxErrorKind::BufferOutOfRam,
                    fmt::format("buffer {:#x}+{} is not inside guest RAM", d.addr, d.len));
    uint32_t skip = 0;
    if (header_got < kHeaderSize) {  // the header may be split over descriptors
      skip = std::min<uint32_t>(kHeaderSize - header_got, d.len);
      std::memcpy(header + header_got, span->data(), skip);
      header_got += skip;
    }
    if (skip < d.len) frame.payload.push_back({span->data() + skip, size_t(d.len - skip)});
  }
  std::memcpy(&frame.header, header, kHeaderSize);
  frame.header.num_buffers = 0;  // unused on tx (spec 5.1.6.2)
  frame.frame_len = static_cast<uint32_t>(chain.readable_bytes - kHeaderSize);
  auto ok = check_header(frame.header, frame.frame_len, features);
  if (!ok) return tl::unexpected<TxError>(ok.error());
  return frame;
}

Result<RxBuffer> parse_rx(const GuestMemory& memory, const DescriptorChain& chain) {
  if (chain.readable_bytes > 0) return fail(EINVAL, "rx chain has device-readable buffers");
  RxBuffer rx;
  for (const auto& d : chain.descriptors) {
    uint32_t n = std::min<uint32_t>(d.len, kMaxFrameWithHeader - rx.capacity);
    if (n == 0) continue;
    auto span = memory.slice(d.addr, n);
    if (!span) return fail(EFAULT, "rx buffer {:#x}+{} is not inside guest RAM", d.addr, n);
    rx.buffers.push_back({span->data(), n});
    rx.capacity += n;
  }
  if (rx.capacity < kHeaderSize)
    return fail(EINVAL, "rx chain of {} bytes has no room for the header", rx.capacity);
  return rx;
}

uint32_t copy_to_buffers(const RxBuffer& rx, uint32_t offset, const uint8_t* src, uint32_t len) {
  uint32_t copied = 0;
  for (const auto& b : rx.buffers) {
    if (copied == len) break;
    if (offset >= b.iov_len) {
      offset -= static_cast<uint32_t>(b.iov_len);
      continue;
    }
    uint32_t n = std::min<uint32_t>(static_cast<uint32_t>(b.iov_len) - offset, len - copied);
    std::memcpy(static_cast<uint8_t*>(b.iov_base) + offset, src + copied, n);
    copied += n;
    offset = 0;
  }
  return copied;
}

}  // namespace vessel::vmm::virtio::net
