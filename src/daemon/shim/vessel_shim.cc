// vessel-shim: the parent of one container's process, so that its exit status is never lost.
//
// vesseld starts `vessel-shim --exit-file F --pid-file P --ready-fd 0 -- RUNTIME ... create ...`.
// The shim detaches (double fork, own session: it outlives vesseld), becomes a child subreaper,
// runs the runtime's `create`, reports "ok PID" (or "fail") on the ready fd, then waits for the
// container's init (reparented to it when `create` exits) and writes its exit status to F as
// {"exit": {"kind": "exited"|"signal"|"killed", "code": N, "reason": ...}} before exiting.
// Like podman's conmon, without the stdio relay: the container writes its log file directly.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/fd.h"

using vessel::write_all;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: vessel-shim --exit-file FILE --pid-file FILE --ready-fd N -- RUNTIME ARGS...\n"
               "  Runs RUNTIME ARGS (an OCI runtime's `create`), then stays the parent of the container's\n"
               "  process and writes its exit status to FILE as JSON. Started by vesseld; not for direct use.\n");
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

}  // namespace

int main(int argc, char** argv) {
  std::string exit_file, pid_file;
  int ready_fd = -1;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") { ++i; break; }
    if (a == "--help" || a == "-h") { usage(); return 0; }
    if (i + 1 >= argc) { usage(); return 2; }
    if (a == "--exit-file") exit_file = argv[++i];
    else if (a == "--pid-file") pid_file = argv[++i];
    else if (a == "--ready-fd") ready_fd = std::atoi(argv[++i]);
    else { usage(); return 2; }
  }
  if (exit_file.empty() || pid_file.empty() || ready_fd < 0 || i >= argc) { usage(); return 2; }
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
  pid_t first = ::fork();
  if (first < 0) return 1;
  if (first > 0) return 0;
  ::setsid();
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
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
    ::execvp(argv[i], argv + i);
    std::fprintf(stderr, "vessel-shim: exec %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (::waitpid(create, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    write_all(ready_fd, "fail " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + "\n");
    return 1;
  }
  pid_t init = static_cast<pid_t>(std::atoi(read_small(pid_file).c_str()));
  if (init <= 0) {
    write_all(ready_fd, "fail no pid in " + pid_file + "\n");
    return 1;
  }
  write_all(ready_fd, "ok " + std::to_string(init) + "\n");
  ::close(ready_fd);
  // Reap everything reparented to us (orphans of the runtime); the container's init ends it.
  for (;;) {
    pid_t r = ::waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 1;  // ECHILD: init was not reparented to us; vesseld falls back to "unknown"
    if (r == init) {
      write_exit_file(exit_file, status);
      return 0;
    }
  }
}
