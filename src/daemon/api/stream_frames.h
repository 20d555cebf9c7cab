// The framing of an interactive exec stream (POST /v1/instances/{name}/exec with Upgrade,
// docs/console.md), shared by vesseld and the CLI: each frame is a type byte, a 32-bit
// big-endian payload length (at most kMaxFramePayload) and the payload.
//   client -> vesseld: Stdin (bytes), StdinEof (empty), Resize (u16 rows, u16 cols, big-endian)
//   vesseld -> client: Stdout, Stderr (bytes), Exit (decimal exit status), Error (message)
// A VM console stream is not framed: raw bytes both ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vessel::daemon::frames {

enum class Type : uint8_t { Stdin = 0, StdinEof = 1, Resize = 2, Stdout = 3, Stderr = 4, Exit = 5, Error = 6 };

inline constexpr size_t kHeaderBytes = 5;
inline constexpr uint32_t kMaxFramePayload = 1 << 16;

struct Frame {
  Type type;
  std::string payload;
};

inline std::string encode(Type type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  auto n = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(type));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(payload);
  return out;
}

inline std::string encode_resize(uint16_t rows, uint16_t cols) {
  char p[4] = {static_cast<char>(rows >> 8), static_cast<char>(rows & 0xff), static_cast<char>(cols >> 8),
               static_cast<char>(cols & 0xff)};
  return encode(Type::Resize, std::string_view(p, 4));
}

inline bool decode_resize(std::string_view p, uint16_t& rows, uint16_t& cols) {
  if (p.size() != 4) return false;
  auto b = [&](size_t i) { return static_cast<uint16_t>(static_cast<unsigned char>(p[i])); };
  rows = static_cast<uint16_t>((b(0) << 8) | b(1));
  cols = static_cast<uint16_t>((b(2) << 8) | b(3));
  return true;
}

// Accumulates bytes and yields whole frames; a bad type or an oversized length is an error
// (the peer is not trusted).
class Reader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // A complete frame, or none yet; sets error() on a malformed stream.
  std::optional<Frame> next() {
    if (error_ || buffer_.size() < kHeaderBytes) return std::nullopt;
    auto type = static_cast<uint8_t>(buffer_[0]);
    uint32_t n = 0;
    for (size_t i = 1; i < kHeaderBytes; ++i) n = (n << 8) | static_cast<unsigned char>(buffer_[i]);
    if (type > static_cast<uint8_t>(Type::Error) || n > kMaxFramePayload) {
      error_ = true;
      return std::nullopt;
    }
    if (buffer_.size() < kHeaderBytes + n) return std::nullopt;
    Frame f{static_cast<Type>(type), buffer_.substr(kHeaderBytes, n)};
    buffer_.erase(0, kHeaderBytes + n);
    return f;
  }
  bool error() const { return error_; }
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  bool error_ = false;
};

}  // namespace vessel::daemon::frames
