#include "runtime/linux/wait_child.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <cstring>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/unix_socket.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

Result<std::pair<Fd, Fd>> self_console_pair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return fail_errno("socketpair");
  return std::make_pair(Fd(sv[0]), Fd(sv[1]));
}

Result<Fd> receive_pty_master(int sock) {
  return TRY_CTX(unix_socket::recv_fd(sock), "receive the pty master from the container");
}

namespace {
// Copies what is available from `from` to `to`; false on EOF or error.
bool pump(int from, int to) {
  char buf[8192];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return false;
  return write_all(to, buf, static_cast<size_t>(n)).has_value();
}
}  // namespace

Result<int> wait_forwarding_signals(pid_t child, int pty_master) {
  sigset_t set, old;
  sigfillset(&set);
  for (int sig : {SIGCHLD, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGKILL, SIGSTOP}) sigdelset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, &old);
  Fd sfd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  Fd pidfd(sys::pidfd_open(child));
  int status = 0;
  int in_fd = pty_master >= 0 ? 0 : -1;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) {
      sigprocmask(SIG_SETMASK, &old, nullptr);
      return fail_errno("wait for process {}", child);
    }
    pollfd p[4] = {{pidfd.get(), POLLIN, 0}, {sfd.get(), POLLIN, 0}, {pty_master, POLLIN, 0}, {in_fd, POLLIN, 0}};
    int rc = poll(p, 4, pidfd ? -1 : 10);
    if (rc > 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo info;
      while (read(sfd.get(), &info, sizeof info) == sizeof info) ::kill(child, static_cast<int>(info.ssi_signo));
    }
    if (rc > 0 && pty_master >= 0) {
      if ((p[2].revents & (POLLIN | POLLHUP)) && !pump(pty_master, 1)) pty_master = -1;
      if (p[3].revents & (POLLIN | POLLHUP)) {
        if (!pump(0, pty_master)) in_fd = -1;
      }
    }
  }
  if (pty_master >= 0) {
    // Drain what the process wrote just before exiting.
    fcntl(pty_master, F_SETFL, fcntl(pty_master, F_GETFL) | O_NONBLOCK);
    while (pump(pty_master, 1)) {
    }
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace vessel::runtime
