#include "agent/client/tree_client.h"

#include <sys/stat.h>

#include <algorithm>

namespace vessel::agent {

Result<PathInfo> stat_path(const std::string& uds_path, const std::string& guest_path, bool follow,
                           Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  return stat_path(conn, guest_path, follow, timeout);
}

Result<PathInfo> stat_path(AgentConnection& conn, const std::string& guest_path, bool follow,
                           Millis timeout) {
  TRY(conn.send_request(StatRequest{guest_path, follow}));
  auto reply = TRY(conn.read_reply(timeout));
  auto info = parse_path_info(reply.body);
  if (!info) return fail(EPROTO, "vessel-agent stat: {}", info.error());
  return *info;
}

Result<void> tree_out(const std::string& uds_path, const std::string& guest_path, bool follow,
                      const TreeLimits& limits,
                      const std::function<Result<void>(const TreeEntry&)>& on_entry,
                      const std::function<Result<void>(std::string_view)>& on_data,
                      Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  return tree_out(conn, guest_path, follow, limits, on_entry, on_data, timeout);
}

Result<void> tree_out(AgentConnection& conn, const std::string& guest_path, bool follow,
                      const TreeLimits& limits,
                      const std::function<Result<void>(const TreeEntry&)>& on_entry,
                      const std::function<Result<void>(std::string_view)>& on_data,
                      Millis timeout) {
  TRY(conn.send_request(TreeOutRequest{guest_path, follow}));
  TRY(conn.read_reply(timeout));
  uint64_t entries = 0, bytes = 0;
  for (;;) {
    auto f = TRY(conn.next_frame(timeout));
    if (!f) return fail(ECONNRESET, "vessel-agent tree-out: the tree was cut short");
    if (f->kind != FrameKind::Control)
      return fail(EPROTO, "vessel-agent tree-out: expected an entry, got data");
    auto message = parse_tree_message(f->payload);
    if (!message) {
      auto reply = parse_reply(f->payload);  // the agent's error in the middle of the walk
      if (reply && !reply->ok) return fail(EIO, "vessel-agent: {}", reply->error);
      return fail(EPROTO, "vessel-agent tree-out: {}", message.error());
    }
    if (!*message) return {};
    const TreeEntry& e = **message;
    if (++entries > limits.max_entries)
      return fail(E2BIG, "{}: more than {} entries", guest_path, limits.max_entries);
    if (entries == 1 && !e.path.empty())
      return fail(EPROTO, "vessel-agent tree-out: the first entry is not the top");
    if (entries > 1 && e.path.empty())
      return fail(EPROTO, "vessel-agent tree-out: a second top entry");
    if (e.size > limits.max_bytes - std::min(bytes, limits.max_bytes))
      return fail(EFBIG, "{}: more than {} bytes", guest_path, limits.max_bytes);
    TRY(on_entry(e));
    if (!S_ISREG(e.mode)) continue;
    uint64_t got = 0;
    for (;;) {
      auto d = TRY(conn.next_frame(timeout));
      if (!d) return fail(ECONNRESET, "vessel-agent tree-out: {} was cut short", e.path);
      if (d->kind != FrameKind::Data || d->stream != uint8_t(Stream::Stdout))
        return fail(EPROTO, "vessel-agent tree-out: expected the data of {}", e.path);
      if (d->payload.empty()) break;
      got += d->payload.size();
      if (got > e.size)
        return fail(EPROTO, "vessel-agent tree-out: {} is longer than its entry says", e.path);
      TRY(on_data(d->payload));
    }
    if (got != e.size)
      return fail(EPROTO, "vessel-agent tree-out: {} is shorter than its entry says", e.path);
    bytes += got;
  }
}

Result<TreeUpload> TreeUpload::open(const std::string& uds_path, const std::string& guest_path,
                                    bool owners, Millis timeout) {
  return start(TRY(AgentConnection::open(uds_path, timeout)), guest_path, owners, timeout);
}

Result<TreeUpload> TreeUpload::start(AgentConnection conn, const std::string& guest_path,
                                     bool owners, Millis timeout) {
  TRY(conn.send_request(TreeInRequest{guest_path, owners}));
  TRY(conn.read_reply(timeout));
  return TreeUpload(std::move(conn), timeout);
}

Error TreeUpload::why(Error write_error) {
  auto reply = conn_.read_reply(Millis(1000));
  if (!reply) return reply.error();
  return write_error;
}

Result<void> TreeUpload::entry(const TreeEntry& e) {
  auto sent = conn_.send_control(to_json(e));
  if (!sent) return Unexpected(why(sent.error()));
  return {};
}

Result<void> TreeUpload::data(std::string_view bytes) {
  if (bytes.empty()) return {};
  auto sent = conn_.send_stdin(bytes);
  if (!sent) return Unexpected(why(sent.error()));
  return {};
}

Result<void> TreeUpload::end_file() {
  auto sent = conn_.send_stdin({});
  if (!sent) return Unexpected(why(sent.error()));
  return {};
}

Result<std::pair<uint64_t, uint64_t>> TreeUpload::finish() {
  auto sent = conn_.send_control(tree_end());
  if (!sent) return Unexpected(why(sent.error()));
  auto reply = TRY(conn_.read_reply(timeout_));
  auto count = [&](const char* key) -> uint64_t {
    return reply.body.contains(key) && reply.body[key].is_number_unsigned()
               ? reply.body[key].get<uint64_t>()
               : 0;
  };
  return std::pair{count("entries"), count("bytes")};
}

}  // namespace vessel::agent
