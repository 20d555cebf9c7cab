#include "runtime/linux/wait_child.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fd.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

Result<int> wait_forwarding_signals(pid_t child) {
  sigset_t set, old;
  sigfillset(&set);
  for (int sig : {SIGCHLD, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGKILL, SIGSTOP}) sigdelset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, &old);
  Fd sfd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  Fd pidfd(sys::pidfd_open(child));
  int status = 0;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0 && errno != EINTR) {
      sigprocmask(SIG_SETMASK, &old, nullptr);
      return fail_errno("wait for process {}", child);
    }
    pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {sfd.get(), POLLIN, 0}};
    int rc = poll(p, 2, pidfd ? -1 : 10);
    if (rc > 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo info;
      while (read(sfd.get(), &info, sizeof info) == sizeof info) ::kill(child, static_cast<int>(info.ssi_signo));
    }
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace vessel::runtime
