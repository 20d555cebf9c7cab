#include "stream/frames.h"

namespace vessel::frames {

std::string encode(Type type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  auto n = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(type));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(payload);
  return out;
}

std::string encode_resize(uint16_t rows, uint16_t cols) {
  char p[4] = {static_cast<char>(rows >> 8), static_cast<char>(rows & 0xff), static_cast<char>(cols >> 8),
               static_cast<char>(cols & 0xff)};
  return encode(Type::Resize, std::string_view(p, 4));
}

bool decode_resize(std::string_view p, uint16_t& rows, uint16_t& cols) {
  if (p.size() != 4) return false;
  auto b = [&](size_t i) { return static_cast<uint16_t>(static_cast<unsigned char>(p[i])); };
  rows = static_cast<uint16_t>((b(0) << 8) | b(1));
  cols = static_cast<uint16_t>((b(2) << 8) | b(3));
  return true;
}

std::optional<Frame> Reader::next() {
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

}  // namespace vessel::frames
