// vessel-init: process 1 of a container started with `vessel run --init` (Docker's --init, tini's
// job). It starts the command as its child, forwards the signals it gets to it, reaps every
// orphan the pid namespace hands it (a shell or server as pid 1 rarely does), and exits with the
// command's status (128 + N when a signal N ended it) as soon as the command ends.
//
//   vessel-init [--] COMMAND [ARG...]
//
// Why it matters: the kernel gives pid 1 no default signal actions, so `sleep` or a server as
// pid 1 ignores `vessel stop`'s SIGTERM and is killed only at the timeout; under vessel-init the
// command is an ordinary process and SIGTERM ends it at once.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace {

// Signals the kernel raises for a fault of vessel-init itself: never forwarded, never blocked.
bool synchronous(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP || sig == SIGABRT ||
         sig == SIGSYS;
}

// Every signal but the synchronous ones and those that cannot be caught.
sigset_t forwarded_set() {
  sigset_t set;
  sigfillset(&set);
  for (int sig : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&set, sig);
  return set;
}

// The child: its own process group, the terminal's foreground one when there is a terminal (so
// Ctrl-C reaches the command once, not through us as well), then the command.
[[noreturn]] void exec_command(char** argv, const sigset_t& original_mask) {
  ::setpgid(0, 0);
  if (::isatty(STDIN_FILENO)) {
    ::signal(SIGTTOU, SIG_IGN);  // tcsetpgrp from a background group would stop us
    ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
    ::signal(SIGTTOU, SIG_DFL);
  }
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  ::execvp(argv[0], argv);
  int err = errno;
  std::fprintf(stderr, "vessel-init: exec %s: %s\n", argv[0], std::strerror(err));
  ::_exit(err == ENOENT ? 127 : 126);  // the shell's statuses for "not found" and "cannot run"
}

int status_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

// Reaps every child that has ended; true (and `status`) once the command is among them.
bool reap(pid_t command, int& status) {
  bool ended = false;
  for (;;) {
    int ws = 0;
    pid_t pid = ::waitpid(-1, &ws, WNOHANG);
    if (pid <= 0) return ended;
    if (pid == command) {
      status = status_of(ws);
      ended = true;
    }
  }
}

int usage(FILE* out, int status) {
  std::fprintf(out,
               "usage: vessel-init [--] COMMAND [ARG...]\n"
               "Runs COMMAND as its child: forwards signals to it, reaps orphaned processes, and exits\n"
               "with COMMAND's status (128+N when signal N ended it). `vessel run --init` makes it the\n"
               "container's process 1 (/dev/init).\n");
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("vessel-init version %s\n", VESSEL_VERSION);
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "--help") == 0) return usage(stdout, 0);
  if (argc > 1 && std::strcmp(argv[1], "--") == 0) first = 2;
  if (first >= argc) return usage(stderr, 2);
  // Outside a pid namespace (tests, or a runtime that does not make one) orphans still come here.
  if (::getpid() != 1) ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  sigset_t original, forwarded = forwarded_set();
  ::sigprocmask(SIG_BLOCK, &forwarded, &original);
  pid_t command = ::fork();
  if (command < 0) {
    std::fprintf(stderr, "vessel-init: fork: %s\n", std::strerror(errno));
    return 126;
  }
  if (command == 0) exec_command(argv + first, original);

  int status = 0;
  for (;;) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&forwarded, &info);
    if (sig < 0) continue;  // EINTR
    if (sig == SIGCHLD) {
      if (reap(command, status)) return status;
    } else if (!synchronous(sig)) {
      ::kill(command, sig);  // the command alone: its own children are its business
    }
  }
}
