// One host connection of vessel-agent: frames in (parsed by FrameParser) and out, over the
// vsock stream. Blocking I/O; the exec relay polls fd() itself before reading.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/protocol/frame.h"

namespace vessel::agent {

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  // The next frame; nothing at EOF or on a protocol error (then `error()` says which).
  std::optional<Frame> read_frame();
  // A frame already buffered, without reading (after a read_some()).
  std::optional<Frame> buffered_frame();
  // One read(2) into the parser: false at EOF or error.
  bool read_some();
  bool write_frame(FrameKind kind, uint8_t stream, std::string_view payload);
  bool send_control(std::string_view json) { return write_frame(FrameKind::Control, 0, json); }
  bool send_data(Stream s, std::string_view bytes) { return write_frame(FrameKind::Data, uint8_t(s), bytes); }
  const std::string& error() const { return error_; }

 private:
  int fd_;
  FrameParser parser_;
  std::string error_;
};

}  // namespace vessel::agent
