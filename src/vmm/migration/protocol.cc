#include "vmm/migration/protocol.h"

#include <cstring>

namespace vessel::vmm::migration {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get_u32(std::span<const uint8_t> b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}
uint64_t get_u64(std::span<const uint8_t> b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}

// The largest payload each type may announce: anything longer is refused before it is read.
Result<uint64_t> max_payload(uint32_t type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::Hello: return 16;
    case MessageType::Pages: return table_bytes(kMaxRangesPerMessage) + kMaxPagesPerMessage * kPageSize;
    case MessageType::Zero: return table_bytes(kMaxRangesPerMessage);
    case MessageType::Round: return 16;
    case MessageType::State: return 8 + kMaxStateBytes;
    case MessageType::Error: return kMaxErrorBytes;
    case MessageType::Config: return kMaxConfigBytes;
    case MessageType::Token: return kTokenBytes;
    case MessageType::Ready:
    case MessageType::Done: return 0;
  }
  return fail(EPROTO, "unknown message type {}", type);
}

}  // namespace

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::Hello: return "Hello";
    case MessageType::Pages: return "Pages";
    case MessageType::Zero: return "Zero";
    case MessageType::Round: return "Round";
    case MessageType::State: return "State";
    case MessageType::Error: return "Error";
    case MessageType::Config: return "Config";
    case MessageType::Token: return "Token";
    case MessageType::Ready: return "Ready";
    case MessageType::Done: return "Done";
  }
  return "unknown";
}

std::vector<uint8_t> encode_preamble() {
  std::vector<uint8_t> out(kMagic, kMagic + sizeof kMagic);
  put_u32(out, kProtocolVersion);
  put_u32(out, 0);
  return out;
}

std::vector<uint8_t> encode_header(MessageType type, uint64_t length) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes);
  put_u32(out, static_cast<uint32_t>(type));
  put_u32(out, 0);
  put_u64(out, length);
  return out;
}

std::vector<uint8_t> encode_hello(const Hello& hello) {
  auto out = encode_header(MessageType::Hello, 16);
  put_u64(out, hello.mem_size);
  put_u32(out, hello.vcpu_count);
  put_u32(out, static_cast<uint32_t>(kPageSize));
  return out;
}

std::vector<uint8_t> encode_round(const RoundStart& round) {
  auto out = encode_header(MessageType::Round, 16);
  put_u32(out, round.round);
  put_u32(out, 0);
  put_u64(out, round.pages);
  return out;
}

std::vector<uint8_t> encode_error(std::string_view message) {
  message = message.substr(0, kMaxErrorBytes);
  auto out = encode_header(MessageType::Error, message.size());
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

std::vector<uint8_t> encode_config(std::string_view json) {
  auto out = encode_header(MessageType::Config, json.size());
  out.insert(out.end(), json.begin(), json.end());
  return out;
}

std::vector<uint8_t> encode_empty(MessageType type) { return encode_header(type, 0); }

std::vector<uint8_t> encode_token(const Token& token) {
  auto out = encode_header(MessageType::Token, kTokenBytes);
  out.insert(out.end(), token.bytes.begin(), token.bytes.end());
  return out;
}

std::vector<uint8_t> encode_ranges(MessageType type, std::span<const PageRange> ranges, bool with_data) {
  uint64_t pages = 0;
  for (const auto& r : ranges) pages += r.count;
  uint64_t length = table_bytes(static_cast<uint32_t>(ranges.size())) + (with_data ? pages * kPageSize : 0);
  auto out = encode_header(type, length);
  put_u32(out, static_cast<uint32_t>(ranges.size()));
  put_u32(out, 0);
  for (const auto& r : ranges) {
    put_u64(out, r.first);
    put_u64(out, r.count);
  }
  return out;
}

std::vector<uint8_t> encode_state_head(uint32_t flags, uint64_t state_bytes) {
  auto out = encode_header(MessageType::State, 8 + state_bytes);
  put_u32(out, flags);
  put_u32(out, 0);
  return out;
}

Result<void> parse_preamble(std::span<const uint8_t> bytes) {
  if (bytes.size() != kPreambleBytes) return fail(EPROTO, "migration preamble of {} bytes", bytes.size());
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return fail(EPROTO, "not a vessel migration stream (bad magic)");
  uint32_t version = get_u32(bytes, 8);
  if (version != kProtocolVersion)
    return fail(EPROTO, "migration protocol version {} is not supported (this vessel-vmm speaks {})", version,
                kProtocolVersion);
  if (get_u32(bytes, 12) != 0) return fail(EPROTO, "migration preamble: unknown flags {:#x}", get_u32(bytes, 12));
  return {};
}

Result<Header> parse_header(std::span<const uint8_t> bytes) {
  if (bytes.size() != kHeaderBytes) return fail(EPROTO, "message header of {} bytes", bytes.size());
  uint32_t type = get_u32(bytes, 0);
  uint64_t max = TRY(max_payload(type));
  if (get_u32(bytes, 4) != 0) return fail(EPROTO, "{} message: unknown flags {:#x}", type, get_u32(bytes, 4));
  uint64_t length = get_u64(bytes, 8);
  auto t = static_cast<MessageType>(type);
  if (length > max) return fail(EPROTO, "{} message of {} bytes (at most {})", to_string(t), length, max);
  return Header{t, length};
}

Result<Hello> parse_hello(std::span<const uint8_t> payload) {
  if (payload.size() != 16) return fail(EPROTO, "Hello message of {} bytes (16 expected)", payload.size());
  Hello h{get_u64(payload, 0), get_u32(payload, 8)};
  uint32_t page_size = get_u32(payload, 12);
  if (page_size != kPageSize) return fail(EPROTO, "Hello: page size {} (this vessel-vmm uses {})", page_size, kPageSize);
  if (h.mem_size == 0 || h.mem_size % kPageSize != 0 || h.mem_size > kMaxRamBytes)
    return fail(EPROTO, "Hello: guest RAM of {} bytes (a positive multiple of 4096, at most 1 TiB)", h.mem_size);
  if (h.vcpu_count == 0 || h.vcpu_count > kMaxVcpus)
    return fail(EPROTO, "Hello: {} vCPUs (1 to {})", h.vcpu_count, kMaxVcpus);
  return h;
}

Result<uint32_t> parse_range_count(std::span<const uint8_t> first8) {
  if (first8.size() != 8) return fail(EPROTO, "range table head of {} bytes", first8.size());
  uint32_t count = get_u32(first8, 0);
  if (count == 0 || count > kMaxRangesPerMessage)
    return fail(EPROTO, "a message with {} page ranges (1 to {})", count, kMaxRangesPerMessage);
  if (get_u32(first8, 4) != 0) return fail(EPROTO, "range table: reserved field {:#x}", get_u32(first8, 4));
  return count;
}

Result<PageRanges> parse_ranges(std::span<const uint8_t> table, MessageType type, uint64_t payload_length,
                                uint64_t ram_pages) {
  if (table.size() < 8) return fail(EPROTO, "range table of {} bytes", table.size());
  uint32_t count = TRY(parse_range_count(table.first(8)));
  if (table.size() != table_bytes(count))
    return fail(EPROTO, "range table of {} bytes for {} ranges", table.size(), count);
  PageRanges out;
  out.ranges.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    PageRange r{get_u64(table, 8 + 16 * i), get_u64(table, 16 + 16 * i)};
    // No overflow: first < ram_pages is checked before count <= ram_pages - first.
    if (r.count == 0 || r.first >= ram_pages || r.count > ram_pages - r.first)
      return fail(EPROTO, "{} message: page range {} (+{}) is outside guest RAM ({} pages)", to_string(type), r.first,
                  r.count, ram_pages);
    out.pages += r.count;  // bounded: count ranges of at most ram_pages (< 2^28) each
    out.ranges.push_back(r);
  }
  if (type == MessageType::Pages) {
    if (out.pages > kMaxPagesPerMessage)
      return fail(EPROTO, "Pages message of {} pages (at most {})", out.pages, kMaxPagesPerMessage);
    if (payload_length != table.size() + out.pages * kPageSize)
      return fail(EPROTO, "Pages message of {} bytes for {} pages", payload_length, out.pages);
  } else if (payload_length != table.size()) {
    return fail(EPROTO, "Zero message of {} bytes for {} ranges", payload_length, count);
  }
  return out;
}

Result<RoundStart> parse_round(std::span<const uint8_t> payload) {
  if (payload.size() != 16) return fail(EPROTO, "Round message of {} bytes (16 expected)", payload.size());
  if (get_u32(payload, 4) != 0) return fail(EPROTO, "Round: reserved field {:#x}", get_u32(payload, 4));
  return RoundStart{get_u32(payload, 0), get_u64(payload, 8)};
}

Result<uint32_t> parse_state_head(std::span<const uint8_t> first8, uint64_t payload_length) {
  if (first8.size() != 8 || payload_length < 8) return fail(EPROTO, "State message of {} bytes", payload_length);
  uint32_t flags = get_u32(first8, 0);
  if ((flags & ~kStateResume) != 0 || get_u32(first8, 4) != 0)
    return fail(EPROTO, "State: unknown flags {:#x}", flags);
  return flags;
}

std::string parse_error_text(std::span<const uint8_t> payload) {
  std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
  // What the peer said goes into our logs and answers: printable characters only.
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return text;
}

}  // namespace vessel::vmm::migration
