// vessel-shim: the parent of one container's process, so that its exit status is never lost.
//
// vesseld starts `vessel-shim --exit-file F --pid-file P --ready-fd 0 -- RUNTIME ... create ...`.
// The shim detaches (double fork, own session: it outlives vesseld), becomes a child subreaper,
// runs the runtime's `create`, reports "ok PID" (or "fail") on the ready fd, then waits for the
// container's init (reparented to it when `create` exits) and writes its exit status to F as
// {"exit": {"kind": "exited"|"signal"|"killed", "code": N, "reason": ...}} before exiting.
//
// With --log FILE, the shim is also the log relay (like podman's conmon): the container's stdout
// and stderr are a pipe whose other end the shim reads, writing FILE through base's RotatingLog
// (--log-max-size bytes per file, --log-max-file files; Docker's json-file semantics). It drains
// the pipe (at most 2 s) after the container's init exits, then writes the exit file. Each line
// is stored behind the time it arrived (base/log_stamp.h).
// `vessel-shim --relay --log FILE ...` only relays its stdin into FILE until EOF, detached: vesseld
// gives it the read end of vessel-vmm's stdout and stderr (a VM's console log).
// With --console-handoff H --console-serve S (a container with a terminal; the runtime's create is
// given --console-socket H), the shim takes the terminal's master and serves it on S (tty_relay.h).
// With --stdin-serve S (`run -i` without a terminal), the container's stdin is a pipe the shim
// holds, fed by the first client of S (stdin_relay.h).
// The writer sits here rather than in vesseld because guests outlive vesseld: a restart of the
// daemon must neither lose their output nor block them on a full pipe.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/log_stamp.h"
#include "base/rotating_log.h"
#include "base/version.h"
#include "daemon/shim/stdin_relay.h"
#include "daemon/shim/tty_relay.h"

using vessel::write_all;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: vessel-shim [LOG] --exit-file FILE --pid-file FILE --ready-fd N -- RUNTIME ARGS...\n"
               "       vessel-shim --relay LOG\n"
               "  Runs RUNTIME ARGS (an OCI runtime's `create`), then stays the parent of the container's\n"
               "  process and writes its exit status to FILE as JSON. With LOG, the container's stdout and\n"
               "  stderr go through the shim into a size-capped, rotating log. --relay copies stdin into LOG\n"
               "  until EOF, detached. Started by vesseld; not for direct use.\n"
               "  LOG: --log FILE [--log-max-size BYTES] [--log-max-file N] (default 10 MiB x 3 files)\n"
               "  --console-handoff SOCK --console-serve SOCK: the container has a terminal; take it from the\n"
               "  runtime on the first socket, serve it (raw bytes, one client at a time) on the second.\n"
               "  --stdin-serve SOCK: the container's stdin is a pipe fed by the first client of SOCK; its EOF\n"
               "  closes the pipe.\n");
}

std::string read_small(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Written to a temporary name and renamed: a reader never sees half a file.
void write_exit_file(const std::string& path, int status) {
  std::string kind, reason;
  int code;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    kind = "exited";
    reason = "exit status " + std::to_string(code);
  } else {
    int sig = WTERMSIG(status);
    code = 128 + sig;
    kind = sig == SIGKILL ? "killed" : "signal";
    reason = std::string("killed by signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  std::string json = "{\"exit\":{\"kind\":\"" + kind + "\",\"code\":" + std::to_string(code) + ",\"reason\":\"" + reason + "\"}}\n";
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = write_all(fd, json).has_value() && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), path.c_str());
}

// Copies `fd` into the log until EOF, each line stamped with the time it arrived
// (base/log_stamp.h: `vessel logs -t/--since/--until`). Write errors (a full disk) drop bytes,
// never stop the relay: the producer must not block on a pipe nobody reads.
void relay(int fd, vessel::RotatingLog& log) {
  char buf[65536];
  vessel::LineStamper stamper;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    (void)log.write(stamper.stamp(std::string_view(buf, static_cast<size_t>(n)), vessel::unix_now_ns()));
  }
}

// Double fork: the caller reaps the first process at once; the second lives on in its own session.
bool detach() {
  pid_t first = ::fork();
  if (first < 0) return false;
  if (first > 0) _exit(0);
  ::setsid();
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}

struct Options {
  std::string exit_file, pid_file, log_file, console_handoff, console_serve, stdin_serve;
  vessel::LogLimits limits;
  bool relay_only = false;
  int ready_fd = -1;
  int command = 0;  // argv index of RUNTIME
};

// The options; an exit status when there is nothing more to do (--help, --version, a usage error).
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") { ++i; break; }
    if (a == "--help" || a == "-h") { usage(); return 0; }
    if (a == "--version" || a == "-V") { std::printf("vessel-shim version %s\n", vessel::kVersion); return 0; }
    if (a == "--relay") { o.relay_only = true; continue; }
    if (i + 1 >= argc) { usage(); return 2; }
    if (a == "--exit-file") o.exit_file = argv[++i];
    else if (a == "--pid-file") o.pid_file = argv[++i];
    else if (a == "--ready-fd") o.ready_fd = std::atoi(argv[++i]);
    else if (a == "--log") o.log_file = argv[++i];
    else if (a == "--console-handoff") o.console_handoff = argv[++i];
    else if (a == "--console-serve") o.console_serve = argv[++i];
    else if (a == "--stdin-serve") o.stdin_serve = argv[++i];
    else if (a == "--log-max-size") o.limits.max_size = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--log-max-file") o.limits.max_files = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else { usage(); return 2; }
  }
  o.command = i;
  return std::nullopt;
}

// The rotating log, locked while this relay lives (close-on-exec: not by the runtime or the
// container), so that vesseld can wait for the last bytes of a VM's console to reach the log
// after vessel-vmm ends.
std::optional<vessel::RotatingLog> open_log(const Options& o) {
  auto opened = vessel::RotatingLog::open(o.log_file, o.limits);
  if (!opened) {
    std::fprintf(stderr, "vessel-shim: %s\n", opened.error().to_string().c_str());
    return std::nullopt;
  }
  int lock = ::open((o.log_file + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock >= 0) (void)::flock(lock, LOCK_EX | LOCK_NB);
  return std::move(*opened);
}

// The terminal (-t) or the stdin pipe (-i) the container gets, when it gets one.
vessel::Result<void> prepare_stdio(const Options& o, std::unique_ptr<vessel::shim::TtyRelay>& tty,
                                   std::unique_ptr<vessel::shim::StdinRelay>& in) {
  if (!o.console_handoff.empty()) tty = TRY(vessel::shim::TtyRelay::prepare(o.console_handoff, o.console_serve));
  if (!o.stdin_serve.empty()) in = TRY(vessel::shim::StdinRelay::prepare(o.stdin_serve));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto done = parse_options(argc, argv, o)) return *done;
  std::optional<vessel::RotatingLog> log;
  if (!o.log_file.empty() && !(log = open_log(o))) return 2;
  bool relay_only = o.relay_only;
  int ready_fd = o.ready_fd, i = o.command;
  const std::string &exit_file = o.exit_file, &pid_file = o.pid_file;
  if (relay_only) {
    if (!log) { usage(); return 2; }
    if (!detach()) return 1;
    relay(STDIN_FILENO, *log);
    return 0;
  }
  if (exit_file.empty() || pid_file.empty() || ready_fd < 0 || i >= argc) { usage(); return 2; }
  if (o.console_handoff.empty() != o.console_serve.empty()) { usage(); return 2; }
  // vesseld hands the ready pipe over as stdin (only this child gets it, never a concurrent
  // spawn): move it out of the way, close-on-exec, so that neither the runtime nor the container
  // holds it, and give them /dev/null as stdin.
  ready_fd = ::fcntl(ready_fd, F_DUPFD_CLOEXEC, 3);
  if (ready_fd < 0) return 1;
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    if (null != STDIN_FILENO) ::close(null);
  }

  // Detach: the caller reaps the first process at once; the shim lives on in its own session.
  if (!detach()) return 1;
  // The container's stdout and stderr: a pipe into the log (the shim keeps only the read end).
  int out[2] = {-1, -1};
  if (log && ::pipe2(out, O_CLOEXEC) < 0) {
    write_all(ready_fd, std::string("fail pipe: ") + strerror(errno) + "\n");
    return 1;
  }
  std::unique_ptr<vessel::shim::TtyRelay> tty;
  std::unique_ptr<vessel::shim::StdinRelay> in;
  if (auto prepared = prepare_stdio(o, tty, in); !prepared) {
    write_all(ready_fd, "fail " + prepared.error().to_string() + "\n");
    return 1;
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    write_all(ready_fd, std::string("fail prctl(PR_SET_CHILD_SUBREAPER): ") + strerror(errno) + "\n");
    return 1;
  }
  pid_t create = ::fork();
  if (create < 0) {
    write_all(ready_fd, std::string("fail fork: ") + strerror(errno) + "\n");
    return 1;
  }
  if (create == 0) {
    if (in) ::dup2(in->container_end(), STDIN_FILENO);  // the runtime hands its stdio to the container
    if (log) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(out[1], STDERR_FILENO);
    }
    ::execvp(argv[i], argv + i);
    std::fprintf(stderr, "vessel-shim: exec %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  std::future<void> relayed;
  if (log) {
    ::close(out[1]);
    relayed = std::async(std::launch::async, [fd = out[0], &log] { relay(fd, *log); });
  }
  // After the container (or a failed create) is gone: what it wrote last reaches the log first.
  auto drain = [&] {
    if (relayed.valid()) relayed.wait_for(std::chrono::seconds(2));
  };
  int status = 0;
  while (::waitpid(create, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    drain();
    write_all(ready_fd, "fail " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + "\n");
    _exit(1);  // the relay thread may still block in read (a runtime's orphan holds the pipe)
  }
  pid_t init = static_cast<pid_t>(std::atoi(read_small(pid_file).c_str()));
  if (init <= 0) {
    write_all(ready_fd, "fail no pid in " + pid_file + "\n");
    _exit(1);
  }
  if (tty)
    if (auto started = tty->start(log ? &*log : nullptr); !started) {
      ::kill(init, SIGKILL);
      write_all(ready_fd, "fail " + started.error().to_string() + "\n");
      _exit(1);
    }
  if (in)
    if (auto started = in->start(); !started) {
      ::kill(init, SIGKILL);
      write_all(ready_fd, "fail " + started.error().to_string() + "\n");
      _exit(1);
    }
  write_all(ready_fd, "ok " + std::to_string(init) + "\n");
  ::close(ready_fd);
  // Reap everything reparented to us (orphans of the runtime); the container's init ends it.
  for (;;) {
    pid_t r = ::waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {  // ECHILD: init was not reparented to us; vesseld falls back to "unknown"
      if (relayed.valid()) relayed.wait();  // still relay its output until it ends
      _exit(1);
    }
    if (r == init) {
      drain();
      if (tty) tty->finish();
      if (in) in->finish();
      write_exit_file(exit_file, status);
      _exit(0);
    }
  }
}
