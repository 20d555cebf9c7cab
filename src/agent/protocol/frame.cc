#include "agent/protocol/frame.h"

namespace vessel::agent {

std::string encode_frame(FrameKind kind, uint8_t stream, std::string_view payload) {
  std::string out(kFrameHeader, '\0');
  uint32_t n = uint32_t(payload.size());
  for (int i = 0; i < 4; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  out[4] = char(kind);
  out[5] = char(stream);
  out.append(payload);
  return out;
}

tl::expected<std::optional<Frame>, std::string> FrameParser::next() {
  if (buf_.size() - off_ < kFrameHeader) return std::nullopt;
  const auto* h = reinterpret_cast<const uint8_t*>(buf_.data() + off_);
  uint32_t len = uint32_t(h[0]) | uint32_t(h[1]) << 8 | uint32_t(h[2]) << 16 | uint32_t(h[3]) << 24;
  uint8_t kind = h[4], stream = h[5];
  // Checked before a payload byte is kept: a bad header never makes us buffer its length.
  if (len > kMaxPayload) return tl::unexpected("frame of " + std::to_string(len) + " bytes (at most 65536)");
  if (h[6] != 0 || h[7] != 0) return tl::unexpected(std::string("frame: reserved bytes are not 0"));
  if (kind != uint8_t(FrameKind::Control) && kind != uint8_t(FrameKind::Data))
    return tl::unexpected("frame of unknown kind " + std::to_string(kind));
  if (kind == uint8_t(FrameKind::Control) && stream != 0)
    return tl::unexpected(std::string("control frame with a stream number"));
  if (kind == uint8_t(FrameKind::Data) && stream > uint8_t(Stream::Stderr))
    return tl::unexpected("data frame of unknown stream " + std::to_string(stream));
  if (buf_.size() - off_ < kFrameHeader + len) return std::nullopt;
  Frame f{FrameKind(kind), stream, buf_.substr(off_ + kFrameHeader, len)};
  off_ += kFrameHeader + len;
  if (off_ == buf_.size() || off_ > (1u << 20)) {  // drop what was consumed
    buf_.erase(0, off_);
    off_ = 0;
  }
  return f;
}

}  // namespace vessel::agent
