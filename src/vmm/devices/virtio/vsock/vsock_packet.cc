#include "vmm/devices/virtio/vsock/vsock_packet.h"

#include <algorithm>
#include <cstring>

namespace vessel::vmm::virtio::vsock {
namespace {

template <typename T>
void put(uint8_t* at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) at[i] = static_cast<uint8_t>(uint64_t(v) >> (8 * i));
}
template <typename T>
T get(const uint8_t* at) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(at[i]) << (8 * i);
  return static_cast<T>(v);
}

PacketFault fault(PacketError kind, std::optional<Header> h = std::nullopt) { return {kind, h}; }

// Field checks on a header read whole; the chain's length is checked by the caller.
std::optional<PacketError> check_header(const Header& h, uint64_t guest_cid) {
  if (h.type != kTypeStream) return PacketError::BadType;
  if (h.op < uint16_t(Op::Request) || h.op > uint16_t(Op::CreditRequest)) return PacketError::BadOp;
  if (h.len > kMaxPayload) return PacketError::BadLength;
  if (h.op != uint16_t(Op::Rw) && h.len != 0) return PacketError::PayloadOnControl;
  if (h.src_cid != guest_cid) return PacketError::BadSourceCid;
  if (h.dst_cid != kHostCid) return PacketError::BadDestinationCid;
  return std::nullopt;
}

}  // namespace

std::array<uint8_t, kHeaderSize> encode(const Header& h) {
  std::array<uint8_t, kHeaderSize> b{};
  put(&b[0], h.src_cid);
  put(&b[8], h.dst_cid);
  put(&b[16], h.src_port);
  put(&b[20], h.dst_port);
  put(&b[24], h.len);
  put(&b[28], h.type);
  put(&b[30], h.op);
  put(&b[32], h.flags);
  put(&b[36], h.buf_alloc);
  put(&b[40], h.fwd_cnt);
  return b;
}

Header decode(std::span<const uint8_t, kHeaderSize> b) {
  Header h;
  h.src_cid = get<uint64_t>(&b[0]);
  h.dst_cid = get<uint64_t>(&b[8]);
  h.src_port = get<uint32_t>(&b[16]);
  h.dst_port = get<uint32_t>(&b[20]);
  h.len = get<uint32_t>(&b[24]);
  h.type = get<uint16_t>(&b[28]);
  h.op = get<uint16_t>(&b[30]);
  h.flags = get<uint32_t>(&b[32]);
  h.buf_alloc = get<uint32_t>(&b[36]);
  h.fwd_cnt = get<uint32_t>(&b[40]);
  return h;
}

const char* packet_error_name(PacketError e) {
  switch (e) {
    case PacketError::ShortHeader: return "short_header";
    case PacketError::BadType: return "bad_type";
    case PacketError::BadOp: return "bad_op";
    case PacketError::BadLength: return "bad_length";
    case PacketError::LengthBeyondChain: return "length_beyond_chain";
    case PacketError::PayloadOnControl: return "payload_on_control";
    case PacketError::BadSourceCid: return "bad_source_cid";
    case PacketError::BadDestinationCid: return "bad_destination_cid";
    case PacketError::BufferOutOfRam: return "buffer_out_of_ram";
    case PacketError::UnknownConnection: return "unknown_connection";
    case PacketError::CreditViolation: return "credit_violation";
    case PacketError::Count: break;
  }
  return "unknown";
}

tl::expected<TxPacket, PacketFault> parse_tx(const GuestMemory& memory, const DescriptorChain& chain,
                                             uint64_t guest_cid) {
  // Host views of every readable byte, in order.
  std::vector<std::span<const uint8_t>> views;
  uint64_t total = 0;
  for (const auto& d : chain.descriptors) {
    if (d.device_writes || d.len == 0) continue;
    auto span = memory.slice(d.addr, d.len);
    if (!span) return tl::unexpected(fault(PacketError::BufferOutOfRam));
    views.emplace_back(span->data(), span->size());
    total += d.len;
  }
  if (total < kHeaderSize) return tl::unexpected(fault(PacketError::ShortHeader));

  // The header, gathered (a driver may split it), copied once: the guest can change RAM under us.
  std::array<uint8_t, kHeaderSize> raw{};
  size_t got = 0, vi = 0, off = 0;
  while (got < kHeaderSize) {
    size_t n = std::min(kHeaderSize - got, views[vi].size() - off);
    std::memcpy(&raw[got], views[vi].data() + off, n);
    got += n;
    off += n;
    if (off == views[vi].size()) ++vi, off = 0;
  }
  Header h = decode(raw);
  if (auto bad = check_header(h, guest_cid)) return tl::unexpected(fault(*bad, h));
  if (h.len > total - kHeaderSize) return tl::unexpected(fault(PacketError::LengthBeyondChain, h));

  TxPacket p{h, {}};
  uint64_t left = h.len;
  for (; left > 0 && vi < views.size(); ++vi, off = 0) {
    size_t n = std::min<uint64_t>(left, views[vi].size() - off);
    if (n > 0) p.payload.push_back(views[vi].subspan(off, n));
    left -= n;
  }
  return p;
}

bool RxBuffer::write_at(uint64_t offset, std::span<const uint8_t> data) const {
  if (offset > len || data.size() > len - offset) return false;
  size_t done = 0;
  for (const auto& v : range(offset, data.size())) {
    std::memcpy(v.iov_base, data.data() + done, v.iov_len);
    done += v.iov_len;
  }
  return done == data.size();
}

std::vector<iovec> RxBuffer::range(uint64_t offset, uint64_t max) const {
  std::vector<iovec> out;
  for (const auto& v : iov) {
    if (max == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(v.iov_len - offset, max);
    out.push_back({static_cast<uint8_t*>(v.iov_base) + offset, n});
    max -= n;
    offset = 0;
  }
  return out;
}

Result<RxBuffer> parse_rx(const GuestMemory& memory, const DescriptorChain& chain) {
  RxBuffer rx;
  for (const auto& d : chain.descriptors) {
    if (!d.device_writes || d.len == 0) continue;
    auto span = memory.slice(d.addr, d.len);
    if (!span) return fail(EFAULT, "virtio-vsock: rx buffer {:#x}+{} is not inside guest RAM", d.addr, d.len);
    rx.iov.push_back({span->data(), span->size()});
    rx.len += d.len;
  }
  if (rx.len < kHeaderSize) return fail(EINVAL, "virtio-vsock: rx buffer of {} bytes holds no header", rx.len);
  return rx;
}

}  // namespace vessel::vmm::virtio::vsock
