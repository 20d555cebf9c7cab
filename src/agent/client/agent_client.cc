#include "agent/client/agent_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/unix_socket.h"

namespace vessel::agent {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `fd` readable until `deadline`: ETIMEDOUT otherwise.
Result<void> wait_readable(int fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<Millis>(deadline - Clock::now()).count();
    if (left <= 0) return fail(ETIMEDOUT, "vessel-agent did not answer in time");
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, int(std::min<int64_t>(left, 60'000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("poll");
    if (n > 0) return {};
  }
}

}  // namespace

std::optional<uint32_t> parse_ok_line(std::string_view line) {
  if (line.size() < 5 || line.size() > 14 || !line.starts_with("OK ") || !line.ends_with('\n')) return std::nullopt;
  uint64_t v = 0;
  for (char c : line.substr(3, line.size() - 4)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return uint32_t(v);
}

Result<Fd> connect_vsock(const std::string& uds_path, uint32_t port, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  Fd fd = TRY_CTX(unix_socket::connect(uds_path), "vsock of the VM");
  TRY(unix_socket::send_all(fd.get(), fmt::format("CONNECT {}\n", port)));
  // The answer a byte at a time: what follows it belongs to the agent's stream.
  std::string line;
  while (line.empty() || line.back() != '\n') {
    if (line.size() >= 14) return fail(EPROTO, "vsock handshake: answer too long");
    TRY(wait_readable(fd.get(), deadline));
    char c;
    ssize_t n = ::read(fd.get(), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return fail(ECONNREFUSED, "vsock port {}: the guest refused the connection (is vessel-agent running?)", port);
    line.push_back(c);
  }
  if (!parse_ok_line(line)) return fail(EPROTO, "vsock handshake: unexpected answer");
  return fd;
}

Result<AgentConnection> AgentConnection::open(const std::string& uds_path, Millis timeout) {
  return AgentConnection(TRY(connect_vsock(uds_path, kAgentPort, timeout)));
}

Result<void> AgentConnection::write_all(std::string_view bytes) { return unix_socket::send_all(fd_.get(), bytes); }

Result<void> AgentConnection::send_request(const Request& request) { return write_all(control_frame(to_json(request))); }

Result<void> AgentConnection::send_stdin(std::string_view bytes) {
  for (size_t off = 0; off < bytes.size(); off += kMaxPayload)
    TRY(write_all(data_frame(Stream::Stdin, bytes.substr(off, kMaxPayload))));
  if (bytes.empty()) TRY(write_all(data_frame(Stream::Stdin, {})));
  return {};
}

Result<void> AgentConnection::send_control(std::string_view json) { return write_all(control_frame(json)); }

Result<void> AgentConnection::send_exec_control(const ExecControl& message) {
  return write_all(control_frame(to_json(message)));
}

Result<std::optional<Frame>> AgentConnection::next_frame(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto f = parser_.next();
    if (!f) return fail(EPROTO, "vessel-agent: {}", f.error());
    if (*f) return std::move(*f);
    TRY(wait_readable(fd_.get(), deadline));
    char buf[16384];
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read from vessel-agent");
    if (n == 0) {
      if (parser_.buffered() > 0) return fail(EPROTO, "vessel-agent: stream ended inside a frame");
      return std::optional<Frame>{};
    }
    parser_.feed({buf, size_t(n)});
  }
}

Result<Reply> AgentConnection::read_reply(Millis timeout) {
  auto f = TRY(next_frame(timeout));
  if (!f) return fail(ECONNRESET, "vessel-agent closed the connection without an answer");
  if (f->kind != FrameKind::Control) return fail(EPROTO, "vessel-agent: expected a reply, got data");
  auto reply = parse_reply(f->payload);
  if (!reply) return fail(EPROTO, "vessel-agent: {}", reply.error());
  if (!reply->ok) return fail(EIO, "vessel-agent: {}", reply->error);
  return std::move(*reply);
}

Result<Health> request_health(const std::string& uds_path, Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  TRY(conn.send_request(HealthRequest{}));
  auto reply = TRY(conn.read_reply(timeout));
  auto h = parse_health(reply.body);
  if (!h) return fail(EPROTO, "vessel-agent health: {}", h.error());
  return *h;
}

Result<Stats> request_stats(const std::string& uds_path, Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  TRY(conn.send_request(StatsRequest{}));
  auto reply = TRY(conn.read_reply(timeout));
  auto s = parse_stats(reply.body);
  if (!s) return fail(EPROTO, "vessel-agent stats: {}", s.error());
  return *s;
}

Result<void> request_shutdown(const std::string& uds_path, Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  TRY(conn.send_request(ShutdownRequest{}));
  TRY(conn.read_reply(timeout));
  return {};
}

Result<ExitStatus> exec_wait(AgentConnection& conn, const std::function<void(Stream, std::string_view)>& on_output,
                             Millis idle_timeout) {
  for (;;) {
    auto f = TRY(conn.next_frame(idle_timeout));
    if (!f) return fail(ECONNRESET, "vessel-agent closed the exec session without an exit status");
    if (f->kind == FrameKind::Data) {
      if (f->stream == uint8_t(Stream::Stdin)) return fail(EPROTO, "vessel-agent: stdin data from the guest");
      on_output(Stream(f->stream), f->payload);
      continue;
    }
    auto st = parse_exit(f->payload);
    if (!st) return fail(EPROTO, "vessel-agent: {}", st.error());
    return *st;
  }
}

Result<ExecOutput> exec_collect(const std::string& uds_path, const ExecRequest& request, std::string_view input,
                                size_t max_output, Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  TRY(conn.send_request(request));
  TRY(conn.read_reply(timeout));
  // Small inputs only: the agent buffers up to 1 MiB of stdin the command has not read. A command
  // that ended without reading it closed the stream: its status still follows, so a failed
  // write is not the outcome.
  if (conn.send_stdin(input) && !input.empty()) (void)conn.send_stdin({});
  ExecOutput out;
  auto keep = [&](Stream s, std::string_view bytes) {
    std::string& to = s == Stream::Stdout ? out.out : out.err;
    size_t room = max_output - std::min(max_output, to.size());
    if (bytes.size() > room) out.truncated = true;
    to.append(bytes.substr(0, room));
  };
  out.status = TRY(exec_wait(conn, keep, timeout));
  return out;
}

Result<uint64_t> copy_in(const std::string& uds_path, const std::string& guest_path, uint32_t mode,
                         std::string_view data, Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  TRY(conn.send_request(CopyInRequest{guest_path, mode}));
  TRY(conn.read_reply(timeout));
  TRY(conn.send_stdin(data));
  if (!data.empty()) TRY(conn.send_stdin({}));
  auto reply = TRY(conn.read_reply(timeout));
  if (!reply.body.contains("bytes") || !reply.body["bytes"].is_number_unsigned())
    return fail(EPROTO, "vessel-agent copy-in: no byte count");
  return reply.body["bytes"].get<uint64_t>();
}

Result<std::string> copy_out(const std::string& uds_path, const std::string& guest_path, uint64_t max_bytes,
                             Millis timeout) {
  auto conn = TRY(AgentConnection::open(uds_path, timeout));
  TRY(conn.send_request(CopyOutRequest{guest_path}));
  auto reply = TRY(conn.read_reply(timeout));
  auto info = parse_file_info(reply.body);
  if (!info) return fail(EPROTO, "vessel-agent copy-out: {}", info.error());
  if (info->size > max_bytes) return fail(EFBIG, "{}: {} bytes, more than {}", guest_path, info->size, max_bytes);
  std::string data;
  for (;;) {
    auto f = TRY(conn.next_frame(timeout));
    if (!f) return fail(ECONNRESET, "vessel-agent copy-out: the file was cut short");
    if (f->kind != FrameKind::Data || f->stream != uint8_t(Stream::Stdout))
      return fail(EPROTO, "vessel-agent copy-out: expected file data");
    if (f->payload.empty()) break;
    if (data.size() + f->payload.size() > max_bytes) return fail(EFBIG, "{}: more than {} bytes", guest_path, max_bytes);
    data += f->payload;
  }
  return data;
}

}  // namespace vessel::agent
