// Fuzz target: the virtio-vsock packet parser (tx) and rx buffer view on chains walked from
// fuzzed guest RAM, and the host's CONNECT line parser. What parse_tx accepts must satisfy what
// the muxer relies on: a header whose fields passed every check, a payload of exactly
// header.len bytes inside guest RAM, drawn only from device-readable descriptors.
// Input: u16 head, u16 flags (bit 0: indirect negotiated, bits 8-15: guest cid - 3), then guest
// RAM; the descriptor table (64 entries) is at 0x400. The CONNECT line: the bytes at 0x3000.
#include <cstdint>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "fuzz_memory.h"
#include "vmm/devices/virtio/vsock/vsock_muxer.h"
#include "vmm/devices/virtio/vsock/vsock_packet.h"

using namespace vessel::vmm;
using namespace vessel::vmm::virtio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint16_t head, flags;
  std::memcpy(&head, data, 2);
  std::memcpy(&flags, data + 2, 2);
  const GuestMemory& mem = fuzz::fuzz_memory(data, size);
  const uint8_t* base = mem.host_base();
  auto in_ram = [&](const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    return b >= base && n <= fuzz::kFuzzRam && b + n <= base + fuzz::kFuzzRam;
  };

  if (size > 0x3000) {
    std::string_view line(reinterpret_cast<const char*>(data) + 0x3000, std::min<size_t>(size - 0x3000, 40));
    line = line.substr(0, line.find('\n') == std::string_view::npos ? line.size() : line.find('\n') + 1);
    if (auto port = vsock::parse_connect_line(line)) fuzz::check(fmt::format("CONNECT {}\n", *port) == line);
  }

  QueueLayout layout{64, 0x400, 0x800, 0xa00};
  auto chain = parse_chain(mem, layout, head % 64, flags & 1);
  if (!chain) return 0;
  uint64_t cid = 3 + (flags >> 8);
  auto p = vsock::parse_tx(mem, *chain, cid);
  if (p) {
    const auto& h = p->header;
    fuzz::check(h.type == vsock::kTypeStream && h.op >= 1 && h.op <= 7);
    fuzz::check(h.src_cid == cid && h.dst_cid == vsock::kHostCid);
    fuzz::check(h.len <= vsock::kMaxPayload && (h.op == uint16_t(vsock::Op::Rw) || h.len == 0));
    uint64_t total = 0;
    for (auto s : p->payload) {
      fuzz::check(!s.empty() && in_ram(s.data(), s.size()));
      total += s.size();
    }
    fuzz::check(total == h.len);
    fuzz::check(total + vsock::kHeaderSize <= chain->readable_bytes);
  } else if (p.error().header) {
    // A header that could be read came from at least kHeaderSize readable bytes.
    fuzz::check(chain->readable_bytes >= vsock::kHeaderSize);
  }
  auto rx = vsock::parse_rx(mem, *chain);
  if (rx) {
    uint64_t total = 0;
    for (const auto& v : rx->iov) {
      fuzz::check(v.iov_len > 0 && in_ram(v.iov_base, v.iov_len));
      total += v.iov_len;
    }
    fuzz::check(total == rx->len && rx->len >= vsock::kHeaderSize && rx->len <= chain->writable_bytes);
    // The device's own step: a header, then payload views of what is left (ASan checks them).
    fuzz::check(rx->write_at(0, vsock::encode(vsock::Header{})));
    uint64_t room = 0;
    for (const auto& v : rx->range(vsock::kHeaderSize, vsock::kMaxPayload)) {
      std::memset(v.iov_base, 0xab, v.iov_len);
      room += v.iov_len;
    }
    fuzz::check(room == std::min<uint64_t>(rx->len - vsock::kHeaderSize, vsock::kMaxPayload));
  }
  return 0;
}
