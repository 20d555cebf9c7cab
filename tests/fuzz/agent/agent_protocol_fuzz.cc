// Fuzz target: what the host reads from vessel-agent (a hostile guest) — frames in any chunking,
// then every control message through each typed parser (replies, exit status, health, stats,
// file info, path info, tree entries) and the agent's own request parsers. Invariants: the parser never holds more than
// one frame's worth beyond what it was fed, frames respect the bounds, accepted values are in range.
// Input: byte 0 = chunk size (1..256), then the stream.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/protocol/frame.h"
#include "agent/protocol/messages.h"
#include "agent/protocol/tree.h"

using namespace vessel::agent;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = size_t(data[0]) + 1;
  std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
  FrameParser parser;
  for (size_t off = 0; off < wire.size(); off += chunk) {
    parser.feed(wire.substr(off, chunk));
    for (;;) {
      auto f = parser.next();
      if (!f) return 0;  // a protocol error ends the stream
      if (!*f) break;
      const Frame& frame = **f;
      check(frame.payload.size() <= kMaxPayload);
      check(frame.kind == FrameKind::Control ? frame.stream == 0 : frame.stream <= 2);
      if (frame.kind != FrameKind::Control) continue;
      if (auto r = parse_reply(frame.payload)) {
        check(r->ok || r->error.size() <= 4096);
        if (auto h = parse_health(r->body)) check(h->uptime_s >= 0 && h->version.size() <= 64);
        if (auto s = parse_stats(r->body)) check(s->filesystems.size() <= kMaxFilesystems);
        if (auto fi = parse_file_info(r->body)) check(fi->mode <= 07777);
        if (auto pi = parse_path_info(r->body)) check(pi->target.size() <= kMaxPath);
      }
      if (auto t = parse_tree_message(frame.payload); t && *t) {
        // What the host turns into a tar entry name: relative, no "." or ".." component.
        const TreeEntry& e = **t;
        check(valid_entry_path(e.path));
        check(e.path.empty() || (e.path[0] != '/' && e.path != ".." && e.path.rfind("../", 0) != 0));
        check(e.size <= kMaxTreeFileSize && e.target.size() <= kMaxPath);
        auto again = parse_tree_message(to_json(e));
        check(again && *again && (*again)->path == e.path);
      }
      if (auto e = parse_exit(frame.payload)) {
        check(e->code.has_value() != e->signal.has_value());
        check(!e->code || (*e->code >= 0 && *e->code <= 255));
        check(!e->signal || (*e->signal >= 0 && *e->signal <= 64));
      }
      if (auto q = parse_request(frame.payload)) {
        if (auto* ex = std::get_if<ExecRequest>(&*q)) check(!ex->argv.empty() && ex->argv.size() <= kMaxArgs);
        auto again = parse_request(to_json(*q));  // what we print, we read back
        check(again.has_value());
      }
      (void)parse_exec_control(frame.payload);
    }
    check(parser.buffered() <= chunk + kFrameHeader + kMaxPayload);
  }
  return 0;
}
