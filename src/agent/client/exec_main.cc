// vessel-agent-exec: runs one command in a VM through its vessel-agent and exits with the
// command's status (128 + N when signal N ended it), relaying its own stdin to the command and the
// command's output to its stdout and stderr. vesseld starts it for `vessel exec` into a VM, as it
// starts the runtime's `exec` for a container (src/daemon/instances/vm_backend.cc).
//
//   vessel-agent-exec --uds PATH [--tty] [--rows R --cols C] [--cwd DIR] [--env K=V]... -- CMD [ARG...]
//
// With --tty its stdin must be a terminal (vesseld gives it a pty's slave): it takes it as its
// controlling terminal, puts it in raw mode (the guest's pty does the line discipline), and passes
// window size changes (SIGWINCH) on.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "agent/client/agent_client.h"

using namespace vessel;
using namespace vessel::agent;

namespace {

volatile sig_atomic_t g_winch = 0;
void on_winch(int) { g_winch = 1; }

int usage() {
  std::fprintf(stderr, "usage: vessel-agent-exec --uds PATH [--tty] [--rows R --cols C] [--cwd DIR] [--env K=V]... -- CMD...\n");
  return 125;
}

bool put_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uds;
  ExecRequest req;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--") { ++i; break; }
    const char* v = nullptr;
    if (a == "--tty") req.tty = true;
    else if (a == "--uds" && (v = value())) uds = v;
    else if (a == "--rows" && (v = value())) req.rows = uint16_t(std::atoi(v));
    else if (a == "--cols" && (v = value())) req.cols = uint16_t(std::atoi(v));
    else if (a == "--cwd" && (v = value())) req.cwd = v;
    else if (a == "--env" && (v = value())) req.env.push_back(v);
    else return usage();
  }
  for (; i < argc; ++i) req.argv.push_back(argv[i]);
  if (uds.empty() || req.argv.empty()) return usage();

  if (req.tty && ::isatty(0)) {
    (void)::ioctl(0, TIOCSCTTY, 0);  // vesseld made us a session leader: SIGWINCH comes to us
    termios t{};
    if (::tcgetattr(0, &t) == 0) {
      ::cfmakeraw(&t);
      (void)::tcsetattr(0, TCSANOW, &t);
    }
    winsize ws{};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) req.rows = ws.ws_row, req.cols = ws.ws_col;
    signal(SIGWINCH, on_winch);
  }
  signal(SIGPIPE, SIG_IGN);
  auto conn = AgentConnection::open(uds, std::chrono::seconds(10));
  if (!conn) {
    std::fprintf(stderr, "vessel: %s\n", conn.error().to_string().c_str());
    return 125;
  }
  if (auto r = conn->send_request(req); !r) {
    std::fprintf(stderr, "vessel: %s\n", r.error().to_string().c_str());
    return 125;
  }
  if (auto r = conn->read_reply(std::chrono::seconds(30)); !r) {
    std::fprintf(stderr, "vessel: %s\n", r.error().to_string().c_str());
    return 125;
  }
  // Stdin (and window sizes) to the agent on a thread of their own; output here.
  std::thread input([&] {
    char buf[16384];
    for (;;) {
      pollfd p{0, POLLIN, 0};
      int n = ::poll(&p, 1, 200);
      if (g_winch) {
        g_winch = 0;
        winsize ws{};
        if (::ioctl(0, TIOCGWINSZ, &ws) == 0) (void)conn->send_exec_control(ResizeMessage{ws.ws_row, ws.ws_col});
      }
      if (n <= 0) continue;
      ssize_t got = ::read(0, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        if (!req.tty) (void)conn->send_stdin({});
        return;
      }
      if (!conn->send_stdin({buf, size_t(got)})) return;
    }
  });
  input.detach();  // it may sit in poll(2) on a stdin that never ends: exit does not wait for it
  auto status = exec_wait(
      *conn, [](Stream s, std::string_view bytes) { (void)put_all(s == Stream::Stderr ? 2 : 1, bytes); },
      std::chrono::hours(24 * 365));
  if (!status) {
    std::fprintf(stderr, "vessel: %s\n", status.error().to_string().c_str());
    return 125;
  }
  std::_Exit(status->code ? *status->code : 128 + status->signal.value_or(0));
}
