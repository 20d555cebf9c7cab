// vessel-agent's wire format (docs/vmm/agent.md): frames of an 8-byte header — le32 length,
// u8 kind, u8 stream, le16 reserved (0) — and a payload. Kind 1: a JSON control message; kind 2:
// data of stream 0 (stdin), 1 (stdout) or 2 (stderr), an empty one ending that stream.
//
// Shared by the agent (a static guest program: this folder uses only the C++ library) and the
// host client, where the bytes come from a hostile guest: FrameParser is incremental, bounded
// (kMaxPayload) and checks every header field before it keeps any payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace vessel::agent {

inline constexpr uint32_t kAgentPort = 1024;
inline constexpr size_t kFrameHeader = 8;
inline constexpr uint32_t kMaxPayload = 64 * 1024;

enum class FrameKind : uint8_t { Control = 1, Data = 2 };
enum class Stream : uint8_t { Stdin = 0, Stdout = 1, Stderr = 2 };

struct Frame {
  FrameKind kind = FrameKind::Control;
  uint8_t stream = 0;
  std::string payload;
};

std::string encode_frame(FrameKind kind, uint8_t stream, std::string_view payload);
inline std::string control_frame(std::string_view json) { return encode_frame(FrameKind::Control, 0, json); }
inline std::string data_frame(Stream s, std::string_view bytes) {
  return encode_frame(FrameKind::Data, uint8_t(s), bytes);
}

// Feed bytes as they arrive, take frames out. A protocol error is final: the stream cannot be
// resynchronised, the caller closes it.
class FrameParser {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next whole frame, nothing when more bytes are needed, or what is wrong.
  tl::expected<std::optional<Frame>, std::string> next();
  size_t buffered() const { return buf_.size() - off_; }

 private:
  std::string buf_;
  size_t off_ = 0;
};

}  // namespace vessel::agent
