// The live migration stream (docs/vmm/migration.md, "Wire format"): what a sending vessel-vmm
// writes to a receiving one, and the few answers that come back. Little-endian throughout.
//
//   preamble  magic "VSLMIGR1" (8 bytes), protocol version (u32), flags (u32, 0)
//   messages  header: type (u32), flags (u32, 0), payload length (u64); then the payload
//
// A receiver given a token (token.h: from another host) reads the Token message first and
// nothing else until it matched.
//
// Every parser here is a pure function of the bytes it is given: the receiver treats the sender
// as untrusted input, checks each header against the limits of its type before reading the
// payload, and each payload against the guest RAM it announced (tests/fuzz/migration).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "vmm/migration/token.h"

namespace vessel::vmm::migration {

inline constexpr char kMagic[8] = {'V', 'S', 'L', 'M', 'I', 'G', 'R', '1'};
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint64_t kPageSize = 4096;
inline constexpr size_t kPreambleBytes = 16;
inline constexpr size_t kHeaderBytes = 16;

// Bounds a receiver enforces (and a sender keeps to).
inline constexpr uint64_t kMaxRamBytes = 1ull << 40;          // 1 TiB
inline constexpr uint32_t kMaxVcpus = 32;                      // as a snapshot's
inline constexpr uint32_t kMaxRangesPerMessage = 512;
inline constexpr uint64_t kMaxPagesPerMessage = 1024;          // 4 MiB of page data
inline constexpr uint64_t kMaxStateBytes = 64ull << 20;        // as a snapshot's state file
inline constexpr uint64_t kMaxErrorBytes = 4096;
inline constexpr uint64_t kMaxConfigBytes = 1 << 20;           // as a snapshot's configuration

enum class MessageType : uint32_t {
  // sender -> receiver
  Hello = 1,   // mem_size (u64), vcpu_count (u32), page_size (u32)
  Pages = 2,   // range count (u32), 0 (u32), ranges (first page u64, page count u64), page data
  Zero = 3,    // range count (u32), 0 (u32), ranges: these pages hold zeros
  Round = 4,   // round (u32), 0 (u32), pages the round sends (u64): a dirty-iteration round begins
  State = 5,   // flags (u32: bit 0 resume), 0 (u32), the VM's state (snapshot state file bytes)
  // either way
  Error = 6,   // UTF-8 text: why the peer gives up
  // sender -> receiver, right after the Hello
  Config = 7,  // the VM's configuration (config-file JSON): the receiver builds the VM, then Ready
  // sender -> receiver, right after the preamble, when the receiver expects one
  Token = 8,   // the 32 bytes of the receiver's token
  // receiver -> sender
  Ready = 16,  // after Hello and Config: RAM is allocated and the VM built, send the pages
  Done = 17,   // after State: the VM is built in the receiver, which now runs it
};

const char* to_string(MessageType type);

struct Header {
  MessageType type;
  uint64_t length;  // of the payload
};

struct Hello {
  uint64_t mem_size = 0;
  uint32_t vcpu_count = 0;
};

struct PageRange {
  uint64_t first = 0;  // page index into guest RAM's host mapping (byte offset / 4096)
  uint64_t count = 0;
};

// A Pages or Zero message's range table, checked against RAM of `ram_pages` pages.
struct PageRanges {
  std::vector<PageRange> ranges;
  uint64_t pages = 0;  // the sum of the counts
};

struct RoundStart {
  uint32_t round = 0;
  uint64_t pages = 0;
};

inline constexpr uint32_t kStateResume = 1;  // State flag: the VM was running: run it

// --- encoding (the sender's side; Error/Ready/Done also the receiver's) -------------------------
std::vector<uint8_t> encode_preamble();
std::vector<uint8_t> encode_header(MessageType type, uint64_t length);
std::vector<uint8_t> encode_hello(const Hello& hello);                 // header included
std::vector<uint8_t> encode_round(const RoundStart& round);            // header included
std::vector<uint8_t> encode_error(std::string_view message);           // header included
std::vector<uint8_t> encode_config(std::string_view json);             // header included
std::vector<uint8_t> encode_empty(MessageType type);                   // Ready, Done
std::vector<uint8_t> encode_token(const Token& token);                 // header included
// The header and range table of a Pages (with_data: the pages' bytes follow, written by the
// caller) or Zero message.
std::vector<uint8_t> encode_ranges(MessageType type, std::span<const PageRange> ranges, bool with_data);
// The header and flags of a State message; `state_bytes` follow.
std::vector<uint8_t> encode_state_head(uint32_t flags, uint64_t state_bytes);

// --- parsing (the receiver's side; the sender parses Ready, Done, Error) -----------------------
Result<void> parse_preamble(std::span<const uint8_t> bytes);
// A header whose type is known and whose length is within that type's bounds (Pages: the
// largest range table plus the most page data; State: kMaxStateBytes).
Result<Header> parse_header(std::span<const uint8_t> bytes);
Result<Hello> parse_hello(std::span<const uint8_t> payload);
// The range table at the start of a Pages or Zero payload of `payload_length` bytes: every range
// non-empty and inside RAM, and (Pages) the payload exactly the table plus pages * 4096 bytes.
// `table` holds the first 8 + 16 * count bytes (the caller reads the count first: see
// table_bytes()).
Result<uint32_t> parse_range_count(std::span<const uint8_t> first8);
inline uint64_t table_bytes(uint32_t count) { return 8 + 16ull * count; }
Result<PageRanges> parse_ranges(std::span<const uint8_t> table, MessageType type, uint64_t payload_length,
                                uint64_t ram_pages);
Result<RoundStart> parse_round(std::span<const uint8_t> payload);
// The flags of a State payload (its first 8 bytes).
Result<uint32_t> parse_state_head(std::span<const uint8_t> first8, uint64_t payload_length);
std::string parse_error_text(std::span<const uint8_t> payload);

}  // namespace vessel::vmm::migration
