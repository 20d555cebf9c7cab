// Fuzzes the exec stream's frame reader (src/stream/frames.h), which both vesseld (frames from the
// client) and the CLI (frames from vesseld) run on bytes from the peer. The input is fed in
// chunks whose sizes come from the input itself; every frame returned must re-encode to exactly
// the bytes it consumed, and a Resize payload must decode only when it is 4 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stream/frames.h"

using namespace vessel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 64;  // the first byte: how the stream is cut
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  frames::Reader reader;
  std::string consumed;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    reader.append(in.substr(pos, chunk));
    while (auto f = reader.next()) {
      if (f->payload.size() > frames::kMaxFramePayload) std::abort();
      consumed += frames::encode(f->type, f->payload);
      uint16_t rows = 0, cols = 0;
      bool resized = frames::decode_resize(f->payload, rows, cols);
      if (resized != (f->payload.size() == 4)) std::abort();
      if (resized && frames::encode_resize(rows, cols) != frames::encode(frames::Type::Resize, f->payload)) std::abort();
    }
    if (reader.error()) break;
  }
  // What was taken is a prefix of the input, byte for byte; the rest is still buffered.
  if (in.substr(0, consumed.size()) != consumed) std::abort();
  if (!reader.error() && consumed.size() + reader.buffered() != in.size()) std::abort();
  return 0;
}
