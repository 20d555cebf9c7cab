// Interactive streams over an HTTP/1.1 Upgrade (like Docker's attach), docs/daemon/console.md:
//   GET  /v1/instances/{name}/console  (Upgrade: vessel-stream) -> raw bytes both ways with the
//        VM's serial console (vessel-vmm's console socket, which outlives vesseld)
//   POST /v1/instances/{name}/exec     (Upgrade: vessel-stream, body {"command","tty",...}) ->
//        framed stdin/stdout/stderr/resize/exit (stream/frames.h) with a container command
// Everything that can fail is checked before the 101 answer, so errors stay plain HTTP errors.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <charconv>

#include "base/fd.h"
#include "base/log.h"
#include "base/socket_relay.h"
#include "base/unix_socket.h"
#include "daemon/api/router.h"
#include "stream/frames.h"

namespace vessel::daemon {

namespace {

bool wants_upgrade(const http::Request& r) {
  auto it = r.headers.find("upgrade");
  return it != r.headers.end() && !it->second.empty();
}

http::Response upgrade_required(const std::string& what) {
  auto resp = Api::error_response(
      Error(EINVAL, fmt::format("{} is an interactive stream: send the request with 'Connection: Upgrade' and "
                                "'Upgrade: {}'", what, frames::kUpgradeProtocol))
          .with_hint("use the vessel CLI"),
      426);
  resp.headers["Upgrade"] = frames::kUpgradeProtocol;
  return resp;
}

struct ExecRequest {
  std::vector<std::string> command;
  bool tty = false;
  uint16_t rows = 0, cols = 0;
};

Result<ExecRequest> parse_exec_stream_request(std::string_view body) {
  auto j = TRY(json::parse(body, 1 << 20, 8));
  if (!j.is_object()) return fail(EINVAL, "exec: expected a JSON object");
  TRY(json::reject_unknown(j, "exec", {"command", "tty", "interactive", "rows", "cols"}));
  ExecRequest r;
  auto it = j.find("command");
  if (it == j.end() || !it->is_array() || it->empty()) return fail(EINVAL, "exec.command: expected a non-empty array of strings");
  if (it->size() > 256) return fail(E2BIG, "exec.command: more than 256 arguments");
  for (const auto& a : *it) {
    if (!a.is_string()) return fail(EINVAL, "exec.command: expected strings, got {}", json::type_name(a));
    if (a.get_ref<const std::string&>().size() > 4096) return fail(E2BIG, "exec.command: an argument is longer than 4096 bytes");
    r.command.push_back(a.get<std::string>());
  }
  r.tty = TRY(json::opt_bool(j, "exec", "tty")).value_or(false);
  (void)TRY(json::opt_bool(j, "exec", "interactive"));
  auto rows = TRY(json::opt_uint(j, "exec", "rows")).value_or(0);
  auto cols = TRY(json::opt_uint(j, "exec", "cols")).value_or(0);
  if (rows > 10000 || cols > 10000) return fail(ERANGE, "exec.rows/cols: at most 10000");
  r.rows = static_cast<uint16_t>(rows);
  r.cols = static_cast<uint16_t>(cols);
  return r;
}

// Reads what is there without blocking; false at EOF or error.
bool read_some(int fd, std::string& out) {
  char buf[16384];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;  // EOF, or EIO on a pty whose last holder of the slave is gone
  out.assign(buf, static_cast<size_t>(n));
  return true;
}

void relay_exec(int client, ExecSession& s, std::string early) {
  using frames::Type;
  frames::Reader reader;
  reader.append(early);
  int out_fds[2] = {s.pty ? s.pty.get() : s.out.get(), s.err ? s.err.get() : -1};
  const Type out_types[2] = {Type::Stdout, Type::Stderr};
  for (int fd : out_fds)
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int input = s.pty ? s.pty.get() : s.in.get();
  bool client_gone = false;
  auto handle_frames = [&]() {
    while (auto f = reader.next()) {
      switch (f->type) {
        case Type::Stdin:
          if (input >= 0) (void)write_all(input, f->payload);
          break;
        case Type::StdinEof:
          if (s.pty) (void)write_all(input, "\x04");  // the terminal's end-of-file character
          else if (s.in) s.in.reset(), input = -1;
          break;
        case Type::Resize: {
          uint16_t rows, cols;
          if (s.pty && frames::decode_resize(f->payload, rows, cols)) {
            winsize ws{rows, cols, 0, 0};
            ::ioctl(s.pty.get(), TIOCSWINSZ, &ws);
          }
          break;
        }
        default:
          break;  // frames only vesseld sends: ignored
      }
    }
    if (reader.error()) client_gone = true;  // a malformed stream: stop listening to it
  };
  handle_frames();
  std::string data;
  bool exited = false;
  while (!exited && !client_gone) {
    pollfd p[4] = {{client, POLLIN, 0}, {s.runtime.pidfd(), POLLIN, 0}, {out_fds[0], POLLIN, 0}, {out_fds[1], POLLIN, 0}};
    if (::poll(p, 4, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (out_fds[i] >= 0 && (p[2 + i].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (!read_some(out_fds[i], data)) out_fds[i] = -1;
        else if (!data.empty() && !unix_socket::send_all(client, frames::encode(out_types[i], data))) client_gone = true;
        data.clear();
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0 && !(n < 0 && errno == EINTR)) client_gone = true;
      else if (n > 0) {
        reader.append(std::string_view(buf, static_cast<size_t>(n)));
        handle_frames();
      }
    }
    if (p[1].revents & POLLIN) exited = true;
  }
  if (client_gone) return;  // ~ExecSession ends the command (SIGTERM through the runtime)
  // The command ended: pass on the output still buffered, then its status.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while ((out_fds[0] >= 0 || out_fds[1] >= 0) && std::chrono::steady_clock::now() < deadline) {
    pollfd p[2] = {{out_fds[0], POLLIN, 0}, {out_fds[1], POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (out_fds[i] >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (!read_some(out_fds[i], data)) out_fds[i] = -1;
        else if (!data.empty()) (void)unix_socket::send_all(client, frames::encode(out_types[i], data));
        data.clear();
      }
    }
  }
  auto status = s.runtime.wait();
  int code = !status ? 255 : status->exited() ? status->code : 128 + status->signal;
  (void)unix_socket::send_all(client, frames::encode(Type::Exit, std::to_string(code)));
  ::shutdown(client, SHUT_WR);
}

}  // namespace

http::Response Api::console(const http::Request& r, const std::string& name) {
  auto path = manager_.console_socket(name);
  if (!path) return error_response(path.error());
  if (!wants_upgrade(r)) return upgrade_required("the console");
  auto console = unix_socket::connect(*path);
  if (!console)
    return error_response(Error(EBUSY, fmt::format("the console of {} is not available: {}", name, console.error().to_string()))
                              .with_hint("the VM may be ending, or its vessel-vmm predates --console-sock; `vessel logs` shows its output"));
  http::Response resp;
  resp.status = 101;
  resp.headers["Upgrade"] = frames::kUpgradeProtocol;
  auto shared = std::make_shared<Fd>(std::move(*console));
  resp.upgrade = [shared, name](int fd, std::string early) {
    log::debug("console of {} attached", name);
    // Client <-> console socket, raw; the client's half-close (stdin at EOF) is passed on.
    unix_socket::relay_until_closed(fd, shared->get(), early);
    log::debug("console of {} detached", name);
  };
  return resp;
}

http::Response Api::exec_stream(const http::Request& r, const std::string& name) {
  auto req = parse_exec_stream_request(r.body);
  if (!req) return error_response(req.error(), 400);
  auto session = manager_.exec_session(name, ExecOptions{req->command, req->tty, req->rows, req->cols});
  if (!session) return error_response(session.error());
  http::Response resp;
  resp.status = 101;
  resp.headers["Upgrade"] = frames::kUpgradeProtocol;
  auto shared = std::make_shared<ExecSession>(std::move(*session));
  resp.upgrade = [shared](int fd, std::string early) { relay_exec(fd, *shared, std::move(early)); };
  return resp;
}

bool Api::is_upgrade(const http::Request& r) { return wants_upgrade(r); }

http::Response Api::resize(const http::Request& r, const std::string& name) {
  auto dimension = [&](const char* key) -> Result<uint16_t> {
    std::string text = r.query_arg(key);
    unsigned long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v == 0 || v > 0xffff)
      return fail(EINVAL, "resize: ?{}= must be a number of {} from 1 to 65535", key, *key == 'h' ? "rows" : "columns");
    return static_cast<uint16_t>(v);
  };
  auto rows = dimension("h");
  if (!rows) return error_response(rows.error(), 400);
  auto cols = dimension("w");
  if (!cols) return error_response(cols.error(), 400);
  auto resized = manager_.resize_terminal(name, *rows, *cols);
  return resized ? http::Response::no_content() : error_response(resized.error());
}

}  // namespace vessel::daemon
