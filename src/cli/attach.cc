// wait, console, exec (-i/-t): the verbs that follow a guest until it ends or talk to it
// interactively (docs/daemon/console.md).
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <thread>

#include "base/fd.h"
#include "base/cli.h"
#include "base/unix_socket.h"
#include "cli/commands.h"
#include "cli/upgrade.h"
#include "stream/frames.h"

namespace vessel::cli {

namespace {

constexpr char kDetachKey = 0x1d;  // Ctrl-]

// Puts a terminal in raw mode for the lifetime of the object (keys go through unprocessed).
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

std::string instance_path(const std::string& name) { return "/v1/instances/" + escape_segment(name); }

// This terminal's size to the container's (Docker's resize): at the attach and at each SIGWINCH.
// A VM's serial console has no size: vesseld says so, and that is fine.
void send_terminal_size(const Context& ctx, const std::string& name) {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return;
  (void)ctx.client().call("POST", fmt::format("{}/resize?h={}&w={}", instance_path(name), ws.ws_row, ws.ws_col));
}

// SIGWINCH as a readable fd, for the console's poll; -1 when stdin is no terminal.
Fd window_changes(bool tty) {
  if (!tty) return Fd();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  return Fd(::signalfd(-1, &set, SFD_CLOEXEC));
}

}  // namespace

// vessel console: raw bytes both ways until the guest ends, stdin ends and the guest closes, or Ctrl-].
Result<bool> console(const Context& ctx, const std::string& name) {
  auto conn = TRY(open_upgraded(ctx.socket, ctx.remote, "GET", instance_path(name) + "/console"));
  bool tty = ::isatty(STDIN_FILENO);
  if (tty) std::fprintf(stderr, "Connected to %s. Press Ctrl-] to detach (it keeps running).\r\n", name.c_str());
  RawTerminal raw(STDIN_FILENO);
  if (!conn.early.empty()) write_all(STDOUT_FILENO, conn.early);
  Fd winch = window_changes(tty);
  if (tty) send_terminal_size(ctx, name);
  bool stdin_open = true;
  char buf[16384];
  for (;;) {
    pollfd p[3] = {{conn.fd.get(), POLLIN, 0}, {STDIN_FILENO, static_cast<short>(stdin_open ? POLLIN : 0), 0},
                   {winch.get(), POLLIN, 0}};
    if (::poll(p, winch ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll");
    }
    if (winch && (p[2].revents & POLLIN)) {
      signalfd_siginfo info;
      (void)!::read(winch.get(), &info, sizeof info);
      send_terminal_size(ctx, name);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(conn.fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the VM ended (or vesseld went away)
      write_all(STDOUT_FILENO, std::string_view(buf, static_cast<size_t>(n)));
    }
    if (stdin_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        stdin_open = false;
        ::shutdown(conn.fd.get(), SHUT_WR);  // no more input; keep printing the VM's output
        continue;
      }
      std::string_view in(buf, static_cast<size_t>(n));
      size_t key = tty ? in.find(kDetachKey) : std::string_view::npos;
      if (!unix_socket::send_all(conn.fd.get(), in.substr(0, key))) break;
      if (key != std::string_view::npos) {
        std::fprintf(stderr, "\r\nDetached from %s.\r\n", name.c_str());
        return true;
      }
    }
  }
  if (tty) std::fprintf(stderr, "\r\nThe console of %s closed.\r\n", name.c_str());
  return false;
}

namespace {

// This stdin -> the container's (vessel-shim's stdin socket through vesseld), half-closed at EOF;
// ends when the other side closes. A container that has ended takes no input: nothing to say.
void feed_stdin(const std::string& socket, const Remote& remote, const std::string& name) {
  auto conn = open_upgraded(socket, remote, "GET", instance_path(name) + "/console");
  if (!conn) return;
  bool stdin_open = true;
  char buf[16384];
  for (;;) {
    pollfd p[2] = {{conn->fd.get(), POLLIN, 0}, {STDIN_FILENO, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && ::read(conn->fd.get(), buf, sizeof buf) <= 0) return;
    if (!stdin_open || !(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdin_open = false;
      ::shutdown(conn->fd.get(), SHUT_WR);  // the command reads EOF
    } else if (!unix_socket::send_all(conn->fd.get(), std::string_view(buf, static_cast<size_t>(n)))) {
      return;
    }
  }
}

}  // namespace

Result<int> attach_stdin(const Context& ctx, const std::string& name) {
  // Detached: it may sit in a read of a terminal nobody types into when the container ends.
  std::thread([socket = ctx.socket, remote = ctx.remote, name] { feed_stdin(socket, remote, name); }).detach();
  auto client = ctx.client();
  TRY(follow_logs(client, name));
  return exit_status_of(TRY(wait_instance(client, name)), name);
}

namespace {

void send_window_size(int sock) {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return;
  unix_socket::send_all(sock, frames::encode_resize(ws.ws_row, ws.ws_col));
}

// vessel exec over the framed stream; returns the command's exit status.
Result<int> exec_stream(const Context& ctx, const std::string& name, const std::vector<std::string>& command,
                        bool interactive, bool tty) {
  json::Json body = {{"command", command}, {"tty", tty}, {"interactive", interactive}};
  winsize ws{};
  if (tty && (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) && ws.ws_row) {
    body["rows"] = ws.ws_row;
    body["cols"] = ws.ws_col;
  }
  // SIGWINCH arrives through a signalfd: the terminal's new size is sent as a Resize frame.
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  Fd sigfd;
  if (tty) {
    ::sigprocmask(SIG_BLOCK, &winch, nullptr);
    sigfd = Fd(::signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  auto conn = TRY(open_upgraded(ctx.socket, ctx.remote, "POST", instance_path(name) + "/exec", body.dump()));
  int sock = conn.fd.get();
  std::optional<RawTerminal> raw;
  if (tty && interactive) raw.emplace(STDIN_FILENO);
  bool stdin_open = interactive;
  if (!interactive) unix_socket::send_all(sock, frames::encode(frames::Type::StdinEof, {}));
  frames::Reader reader;
  reader.append(conn.early);
  char buf[16384];
  for (;;) {
    while (auto f = reader.next()) {
      switch (f->type) {
        case frames::Type::Stdout: write_all(STDOUT_FILENO, f->payload); break;
        case frames::Type::Stderr: write_all(STDERR_FILENO, f->payload); break;
        case frames::Type::Exit: return std::atoi(f->payload.c_str());
        case frames::Type::Error: return fail(EIO, "{}", f->payload);
        default: break;
      }
    }
    if (reader.error()) return fail(EPROTO, "vesseld sent a malformed exec stream");
    pollfd p[3] = {{sock, POLLIN, 0},
                   {STDIN_FILENO, static_cast<short>(stdin_open ? POLLIN : 0), 0},
                   {sigfd ? sigfd.get() : -1, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll");
    }
    if (p[2].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(sigfd.get(), &info, sizeof info) == sizeof info) {}
      send_window_size(sock);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(sock, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(EPIPE, "vesseld ended the exec stream without the command's exit status");
      reader.append(std::string_view(buf, static_cast<size_t>(n)));
    }
    if (stdin_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        stdin_open = false;
        unix_socket::send_all(sock, frames::encode(frames::Type::StdinEof, {}));
        continue;
      }
      for (size_t off = 0; off < static_cast<size_t>(n); off += frames::kMaxFramePayload)
        unix_socket::send_all(sock, frames::encode(frames::Type::Stdin,
                                      std::string_view(buf + off, std::min<size_t>(frames::kMaxFramePayload, static_cast<size_t>(n) - off))));
    }
  }
}

}  // namespace

Result<json::Json> wait_instance(Client& client, const std::string& name) {
  TRY(client.call("GET", instance_path(name)));
  std::string text;
  TRY(client.stream("POST", instance_path(name) + "/wait", "", [&](std::string_view d) {
    text.append(d);
    if (text.size() > 65536) text.erase(0, text.size() - 65536);
    return true;
  }));
  // The answer is the last non-empty line (empty lines are heartbeats).
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto line = text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  auto j = TRY_CTX(json::parse(line), "vesseld's answer to wait");
  if (j.is_object() && j.contains("error")) return Unexpected(error_from_response(500, line));
  return j;
}

Result<int> exit_status_of(const json::Json& answer, const std::string& name) {
  auto code = answer.find("exit_code");
  if (code == answer.end() || !code->is_number_integer()) {
    std::string reason = answer.value("exit_reason", "");
    return Unexpected(Error(0, fmt::format("{} is {} but its exit status is unknown{}", name, answer.value("state", "?"),
                                           reason.empty() ? "" : " (" + reason + ")"))
                          .with_hint("it never ran, or it ended while nobody could see how (e.g. killed while vesseld was down)"));
  }
  return code->get<int>();
}

void add_attach_commands(CLI::App& app, Context& ctx) {
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto as_json = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("wait", "wait until instances stop; print and exit with the last one's exit status");
    c->footer(
        "Prints each instance's exit status when it has stopped (at once for a stopped or created one):\n"
        "a VM's is vessel-vmm's (0 poweroff or reboot, 3 kernel panic, 2 VMM error, N from a test guest's\n"
        "debug exit port, 137 after a forced stop), a container's is its process's (128+N when killed by\n"
        "signal N). Exit status: the last instance's status; 1 when it is unknown or on error.\n"
        "Example: vessel run --vm --name t --kernel guest.elf && vessel wait t");
    c->add_option("names", *names, "instance names")->required();
    c->add_flag("--json", *as_json, "print {name, state, exit_code, exit_reason} per instance");
    c->callback([&ctx, names, as_json] {
      auto client = ctx.client();
      for (const auto& n : *names) {
        auto answer = wait_instance(client, n);
        if (!answer) { ctx.status = report(answer.error()); continue; }
        if (*as_json) fmt::print("{}\n", answer->dump());
        auto code = exit_status_of(*answer, n);
        if (!code) { ctx.status = report(code.error()); continue; }
        if (!*as_json) fmt::print("{}\n", *code);
        ctx.status = *code;
      }
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* c = app.add_subcommand("console", "attach the terminal to a VM's serial console or a container's terminal (Ctrl-] detaches)");
    c->alias("attach");
    c->footer(
        "Everything the guest writes to its serial port (a VM) or its terminal (a container run with -t) is\n"
        "printed; what you type goes to it (the terminal is in raw mode: Ctrl-C reaches the guest). Ctrl-]\n"
        "detaches and leaves it running. With stdin not a terminal (a pipe), its bytes are sent and output\n"
        "is printed until it stops. A container run with -i and no terminal: stdin feeds its stdin until\n"
        "EOF (only the first attach does), its output is printed, and its exit status is returned. The console is vessel-vmm's or vessel-shim's, so it keeps working across\n"
        "vesseld restarts; `vessel logs` shows what was printed before.\n"
        "Examples: vessel console vm1; vessel attach web");
    c->add_option("name", *name, "VM or container (run with -t or -i) name")->required();
    c->callback([&ctx, name] {
      // A container with an open stdin and no terminal: stdin goes in, its log comes out.
      auto info = ctx.client().call("GET", instance_path(*name));
      if (info && info->value("interactive", false) && !info->contains("tty")) {
        auto code = attach_stdin(ctx, *name);
        ctx.status = code ? *code : report(code.error());
        return;
      }
      auto r = console(ctx, *name);
      if (!r) ctx.status = report(r.error());
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto command = std::make_shared<std::vector<std::string>>();
    auto interactive = std::make_shared<bool>(false), tty = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("exec", "run a command in a running container; exits with its status");
    c->footer(
        "Output (stdout, stderr) is printed as it comes. -i sends stdin to the command; -t gives it a\n"
        "terminal (a pty in the container: `tty` prints /dev/pts/N; the window size follows yours).\n"
        "Examples:\n  vessel exec web -- /bin/ls -l /\n  vessel exec -it web -- /bin/sh\n  echo data | vessel exec -i web -- /bin/wc -c");
    c->add_option("name", *name, "instance name")->required();
    c->add_option("command", *command, "command and arguments (after --)")->required();
    c->add_flag("--interactive,-i", *interactive, "send stdin to the command");
    c->add_flag("--tty,-t", *tty, "allocate a terminal (pty) for the command");
    c->callback([&ctx, name, command, interactive, tty] {
      auto code = exec_stream(ctx, *name, *command, *interactive, *tty);
      if (!code) { ctx.status = report(code.error()); return; }
      ctx.status = *code;
    });
  }
}

}  // namespace vessel::cli
