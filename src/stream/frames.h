// The interactive stream protocol (docs/daemon/console.md), shared by vesseld and the CLI: a request
// upgraded with "Upgrade: vessel-stream" becomes a raw byte stream (a VM's console) or, for
// POST /v1/instances/{name}/exec, a sequence of frames: each frame is a type byte, a 32-bit
// big-endian payload length (at most kMaxFramePayload) and the payload.
//   client -> vesseld: Stdin (bytes), StdinEof (empty), Resize (u16 rows, u16 cols, big-endian)
//   vesseld -> client: Stdout, Stderr (bytes), Exit (decimal exit status), Error (message)
// A VM console stream is not framed: raw bytes both ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vessel::frames {

// The protocol named in the Upgrade header of the request and of the 101 answer.
inline constexpr const char* kUpgradeProtocol = "vessel-stream";

enum class Type : uint8_t { Stdin = 0, StdinEof = 1, Resize = 2, Stdout = 3, Stderr = 4, Exit = 5, Error = 6 };

inline constexpr size_t kHeaderBytes = 5;
inline constexpr uint32_t kMaxFramePayload = 1 << 16;

struct Frame {
  Type type;
  std::string payload;
};

std::string encode(Type type, std::string_view payload);
std::string encode_resize(uint16_t rows, uint16_t cols);
// False unless `p` is a Resize payload (4 bytes).
bool decode_resize(std::string_view p, uint16_t& rows, uint16_t& cols);

// Accumulates bytes and yields whole frames; a bad type or an oversized length is an error
// (the peer is not trusted).
class Reader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // A complete frame, or none yet; sets error() on a malformed stream.
  std::optional<Frame> next();
  bool error() const { return error_; }
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  bool error_ = false;
};

}  // namespace vessel::frames
