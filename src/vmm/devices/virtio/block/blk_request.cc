#include "vmm/devices/virtio/block/blk_request.h"

#include <fmt/format.h>

namespace vessel::vmm::virtio::blk {
namespace {

struct Segment {
  GuestAddress addr;
  uint64_t len;
};

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

struct DiscardSegment {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
};
static_assert(sizeof(DiscardSegment) == 16);
inline constexpr uint32_t kWriteZeroesUnmap = 1;

// Splits a byte stream made of segments at `offset`: returns the part after it.
std::vector<Segment> skip(const std::vector<Segment>& segs, uint64_t offset) {
  std::vector<Segment> out;
  for (const auto& s : segs) {
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    out.push_back({s.addr + offset, s.len - offset});
    offset = 0;
  }
  return out;
}

// The first `len` bytes of a stream of segments.
std::vector<Segment> take(const std::vector<Segment>& segs, uint64_t len) {
  std::vector<Segment> out;
  for (const auto& s : segs) {
    if (len == 0) break;
    uint64_t n = std::min(len, s.len);
    if (n) out.push_back({s.addr, n});
    len -= n;
  }
  return out;
}

// Copies the first `len` bytes of a stream (the chain was validated: the ranges are in RAM).
bool gather(const GuestMemory& memory, const std::vector<Segment>& segs, void* dst, uint64_t len) {
  auto* out = static_cast<uint8_t*>(dst);
  for (const auto& s : take(segs, len)) {
    if (!memory.read(s.addr, out, s.len)) return false;
    out += s.len;
  }
  return true;
}

template <typename... Args>
tl::unexpected<RequestError> refuse(RequestErrorKind kind, std::optional<GuestAddress> status,
                                    Status code, fmt::format_string<Args...> format,
                                    Args&&... args) {
  return tl::unexpected<RequestError>(
      RequestError{kind, status, code, fmt::format(format, std::forward<Args>(args)...)});
}

bool range_ok(uint64_t sector, uint64_t sectors, uint64_t capacity) {
  return sector <= capacity && sectors <= capacity - sector;
}

}  // namespace

const char* request_error_name(RequestErrorKind kind) {
  switch (kind) {
    case RequestErrorKind::NoStatusByte: return "no_status_byte";
    case RequestErrorKind::ShortHeader: return "short_header";
    case RequestErrorKind::Framing: return "framing";
    case RequestErrorKind::UnalignedLength: return "unaligned_length";
    case RequestErrorKind::SectorRange: return "sector_range";
    case RequestErrorKind::ReadOnly: return "read_only";
    case RequestErrorKind::Unsupported: return "unsupported";
    case RequestErrorKind::BadSegment: return "bad_segment";
    case RequestErrorKind::Count: break;
  }
  return "unknown";
}

uint32_t BlkRequest::used_len() const {
  switch (type) {
    case RequestType::In: return static_cast<uint32_t>(data_len) + 1;
    case RequestType::GetId: return static_cast<uint32_t>(data_len) + 1;
    default: return 1;
  }
}

tl::expected<BlkRequest, RequestError> parse_request(const GuestMemory& memory,
                                                     const DescriptorChain& chain,
                                                     const DiskGeometry& disk) {
  std::vector<Segment> readable, writable;
  for (const auto& d : chain.descriptors)
    (d.device_writes ? writable : readable).push_back({d.addr, d.len});
  // parse_chain guarantees readable descriptors come first and the total fits in 32 bits.

  // The status byte is the last byte of the device-writable part.
  const Descriptor* last = chain.descriptors.empty() ? nullptr : &chain.descriptors.back();
  if (!last || !last->device_writes || last->len == 0)
    return refuse(RequestErrorKind::NoStatusByte, std::nullopt, kIoErr,
                  "request has no device-writable status byte at its end");
  GuestAddress status = last->addr + last->len - 1;
  uint64_t writable_payload = chain.writable_bytes - 1;

  if (chain.readable_bytes < sizeof(RequestHeader))
    return refuse(RequestErrorKind::ShortHeader, status, kIoErr,
                  "request header needs 16 device-readable bytes, got {}", chain.readable_bytes);
  RequestHeader header;
  if (!gather(memory, readable, &header, sizeof header))
    return refuse(RequestErrorKind::ShortHeader, status, kIoErr, "request header unreadable");
  uint64_t readable_payload = chain.readable_bytes - sizeof header;

  BlkRequest req;
  req.status_addr = status;
  req.sector = header.sector;
  std::vector<Segment> payload;
  switch (header.type) {
    case uint32_t(RequestType::In):
    case uint32_t(RequestType::GetId):
      if (readable_payload != 0)
        return refuse(RequestErrorKind::Framing, status, kIoErr,
                      "read-type request carries {} device-readable data bytes", readable_payload);
      payload = take(writable, writable_payload);
      req.data_len = writable_payload;
      break;
    case uint32_t(RequestType::Out):
    case uint32_t(RequestType::Discard):
    case uint32_t(RequestType::WriteZeroes):
    case uint32_t(RequestType::Flush):
      if (writable_payload != 0)
        return refuse(RequestErrorKind::Framing, status, kIoErr,
                      "write-type request has {} device-writable bytes besides the status",
                      writable_payload);
      payload = skip(readable, sizeof header);
      req.data_len = readable_payload;
      break;
    default:
      return refuse(RequestErrorKind::Unsupported, status, kUnsupp, "unknown request type {}",
                    header.type);
  }
  req.type = static_cast<RequestType>(header.type);

  switch (req.type) {
    case RequestType::In:
    case RequestType::Out: {
      if (req.data_len % kSectorSize != 0)
        return refuse(RequestErrorKind::UnalignedLength, status, kIoErr,
                      "data length {} is not a multiple of 512", req.data_len);
      if (!range_ok(req.sector, req.data_len / kSectorSize, disk.capacity_sectors))
        return refuse(RequestErrorKind::SectorRange, status, kIoErr,
                      "sectors [{}, +{}) beyond the disk's {} sectors", req.sector,
                      req.data_len / kSectorSize, disk.capacity_sectors);
      if (req.type == RequestType::Out && disk.read_only)
        return refuse(RequestErrorKind::ReadOnly, status, kIoErr, "write to a read-only disk");
      break;
    }
    case RequestType::Flush:
      break;
    case RequestType::GetId:
      if (req.data_len == 0)
        return refuse(RequestErrorKind::Framing, status, kIoErr, "GET_ID without a buffer");
      req.data_len = std::min<uint64_t>(req.data_len, kIdBytes);
      payload = take(payload, req.data_len);
      break;
    case RequestType::Discard:
    case RequestType::WriteZeroes: {
      bool zeroes = req.type == RequestType::WriteZeroes;
      if (!(zeroes ? disk.write_zeroes : disk.discard))
        return refuse(RequestErrorKind::Unsupported, status, kUnsupp,
                      "{} was not negotiated", zeroes ? "WRITE_ZEROES" : "DISCARD");
      if (disk.read_only)
        return refuse(RequestErrorKind::ReadOnly, status, kIoErr, "discard on a read-only disk");
      // We advertise max_discard_seg = max_write_zeroes_seg = 1.
      if (req.data_len != sizeof(DiscardSegment))
        return refuse(RequestErrorKind::BadSegment, status, kIoErr,
                      "expected one 16-byte segment, got {} bytes", req.data_len);
      DiscardSegment seg;
      if (!gather(memory, payload, &seg, sizeof seg))
        return refuse(RequestErrorKind::BadSegment, status, kIoErr, "segment unreadable");
      uint32_t allowed = zeroes ? kWriteZeroesUnmap : 0;
      if (seg.flags & ~allowed)
        return refuse(RequestErrorKind::BadSegment, status, kUnsupp, "segment flags {:#x}",
                      seg.flags);
      if (seg.num_sectors > kMaxDiscardSectors)
        return refuse(RequestErrorKind::BadSegment, status, kIoErr,
                      "segment of {} sectors above the maximum {}", seg.num_sectors,
                      kMaxDiscardSectors);
      if (!range_ok(seg.sector, seg.num_sectors, disk.capacity_sectors))
        return refuse(RequestErrorKind::SectorRange, status, kIoErr,
                      "sectors [{}, +{}) beyond the disk's {} sectors", seg.sector,
                      seg.num_sectors, disk.capacity_sectors);
      req.range_sector = seg.sector;
      req.range_sectors = seg.num_sectors;
      req.unmap = seg.flags & kWriteZeroesUnmap;
      payload.clear();
      req.data_len = 0;
      break;
    }
  }
  for (const auto& s : payload) {
    auto span = memory.slice(s.addr, s.len);
    if (!span)  // cannot happen after parse_chain; refuse rather than trust that
      return refuse(RequestErrorKind::Framing, status, kIoErr, "buffer outside RAM");
    req.data.push_back({span->data(), span->size()});
  }
  return req;
}

}  // namespace vessel::vmm::virtio::blk
