// The host side of vessel-agent's protocol (docs/vmm/agent.md), for vesseld and tests: connect
// through a VM's vsock Unix socket (Firecracker's "CONNECT <port>\n" / "OK <port>\n"), send one
// request, read what the agent answers. Everything the agent sends is from the guest: frames are
// parsed by the bounded FrameParser, messages by the typed parsers of agent/protocol, output and
// files are capped by the caller, and every wait has a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agent/protocol/frame.h"
#include "agent/protocol/messages.h"
#include "base/error.h"
#include "base/fd.h"

namespace vessel::agent {

using Millis = std::chrono::milliseconds;

// A stream to guest port `port` through the vsock device listening at `uds_path`.
Result<Fd> connect_vsock(const std::string& uds_path, uint32_t port, Millis timeout);
// The handshake's answer line, "OK <port>\n": the host port, or nothing.
std::optional<uint32_t> parse_ok_line(std::string_view line);

class AgentConnection {
 public:
  explicit AgentConnection(Fd fd) : fd_(std::move(fd)) {}
  static Result<AgentConnection> open(const std::string& uds_path, Millis timeout = Millis(5000));

  int fd() const { return fd_.get(); }
  Result<void> send_request(const Request& request);
  Result<void> send_stdin(std::string_view bytes);  // empty: end of stdin
  Result<void> send_exec_control(const ExecControl& message);
  Result<void> send_control(std::string_view json);  // a control frame (tree entries)
  // The next frame, nothing at the agent's EOF; an error for a protocol violation or the deadline.
  Result<std::optional<Frame>> next_frame(Millis timeout);
  // The next frame must be a reply; {"ok": false} becomes an error with the agent's message.
  Result<Reply> read_reply(Millis timeout);

 private:
  Result<void> write_all(std::string_view bytes);
  Fd fd_;
  FrameParser parser_;
};

// One request each, on a connection of its own.
Result<Health> request_health(const std::string& uds_path, Millis timeout = Millis(5000));
Result<Stats> request_stats(const std::string& uds_path, Millis timeout = Millis(5000));
Result<void> request_shutdown(const std::string& uds_path, Millis timeout = Millis(5000));

// Runs a command to its end: `input` is its whole stdin, its output is kept up to `max_output`
// bytes per stream (the rest is read and dropped; `truncated` says so).
struct ExecOutput {
  std::string out, err;
  bool truncated = false;
  ExitStatus status;
};
Result<ExecOutput> exec_collect(const std::string& uds_path, const ExecRequest& request, std::string_view input,
                                size_t max_output, Millis timeout);

// Streams an exec session: output frames go to `on_output` (stream 1 or 2, empty: that stream
// ended) until the exit status arrives; `conn` stays usable for stdin and control meanwhile
// (from another thread). Returns the status.
Result<ExitStatus> exec_wait(AgentConnection& conn, const std::function<void(Stream, std::string_view)>& on_output,
                             Millis idle_timeout);

Result<uint64_t> copy_in(const std::string& uds_path, const std::string& guest_path, uint32_t mode,
                         std::string_view data, Millis timeout);
// The guest's file, refused when the agent announces or sends more than `max_bytes`.
Result<std::string> copy_out(const std::string& uds_path, const std::string& guest_path, uint64_t max_bytes,
                             Millis timeout);

}  // namespace vessel::agent
