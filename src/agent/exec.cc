// exec: the command runs in its own session, with pipes or a pseudo terminal for its stdio; the
// relay moves host stdin frames into it and its output out as stdout/stderr frames, then sends
// the exit status. Stdin the command does not read waits here up to 1 MiB, beyond which the agent
// stops reading the host (vsock credit then stops the host's writer).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/handlers.h"

extern char** environ;

namespace vessel::agent {
namespace {

constexpr size_t kMaxPendingStdin = 1 << 20;
constexpr int kDrainMs = 200;  // after the command exited: output still arriving from its children

struct Stdio {
  int in = -1, out = -1, err = -1;  // our ends: write to `in`, read `out` and `err`
  int child_in = -1, child_out = -1, child_err = -1;
  int master = -1;                  // tty: in == out == master
  std::string slave_name;
};

bool make_stdio(const ExecRequest& req, Stdio& s, std::string& error) {
  if (req.tty) {
    s.master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s.master < 0 || ::grantpt(s.master) != 0 || ::unlockpt(s.master) != 0) {
      error = std::string("pseudo terminal: ") + std::strerror(errno);
      return false;
    }
    s.slave_name = ::ptsname(s.master);
    winsize ws{req.rows, req.cols, 0, 0};
    (void)::ioctl(s.master, TIOCSWINSZ, &ws);
    s.in = s.out = s.master;
    return true;
  }
  int p[3][2];
  for (auto& pp : p)
    if (::pipe2(pp, O_CLOEXEC) != 0) {
      error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
  s.child_in = p[0][0], s.in = p[0][1];
  s.out = p[1][0], s.child_out = p[1][1];
  s.err = p[2][0], s.child_err = p[2][1];
  (void)::fcntl(s.in, F_SETFL, O_NONBLOCK);
  return true;
}

[[noreturn]] void exec_child(const ExecRequest& req, const Stdio& s) {
  ::setsid();
  signal(SIGPIPE, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  if (req.tty) {
    int t = ::open(s.slave_name.c_str(), O_RDWR);
    if (t < 0) ::_exit(126);
    (void)::ioctl(t, TIOCSCTTY, 0);
    ::dup2(t, 0), ::dup2(t, 1), ::dup2(t, 2);
    if (t > 2) ::close(t);
  } else {
    ::dup2(s.child_in, 0), ::dup2(s.child_out, 1), ::dup2(s.child_err, 2);
  }
  if (::chdir(req.cwd.c_str()) != 0) {
    std::fprintf(stderr, "vessel-agent: cwd %s: %s\n", req.cwd.c_str(), std::strerror(errno));
    ::_exit(126);
  }
  std::vector<std::string> env = req.env;
  if (env.empty()) {
    env = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root"};
    if (req.tty) env.push_back("TERM=xterm");
  }
  std::vector<char*> argv, envp;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execvpe(argv[0], argv.data(), envp.data());
  int err = errno;
  std::fprintf(stderr, "vessel-agent: exec %s: %s\n", argv[0], std::strerror(err));
  ::_exit(err == ENOENT ? 127 : 126);
}

class Relay {
 public:
  Relay(Channel& ch, Stdio& s, pid_t pid, bool tty) : ch_(ch), s_(s), pid_(pid), tty_(tty) {
    err_eof_ = tty;  // a terminal has one output
    pidfd_ = int(::syscall(SYS_pidfd_open, pid, 0));
  }
  void run();

 private:
  bool from_host();                 // false: the host is gone or broke the protocol
  void from_command(int fd, Stream stream, bool& eof);
  void to_command();
  // Its process group; before the child's setsid() there is none yet: the child itself.
  void kill_command(int sig) {
    if (::kill(-pid_, sig) != 0 && errno == ESRCH) (void)::kill(pid_, sig);
  }

  Channel& ch_;
  Stdio& s_;
  pid_t pid_;
  bool tty_;
  int pidfd_ = -1;
  std::string pending_;  // host stdin not yet taken by the command
  bool stdin_eof_ = false, out_eof_ = false, err_eof_ = false, exited_ = false;
  int status_ = 0;
};

void Relay::run() {
  for (;;) {
    if (exited_ && out_eof_ && err_eof_) break;
    pollfd fds[5] = {
        {pending_.size() < kMaxPendingStdin ? ch_.fd() : -1, POLLIN, 0},
        {out_eof_ ? -1 : s_.out, POLLIN, 0},
        {err_eof_ ? -1 : s_.err, POLLIN, 0},
        {!pending_.empty() && s_.in >= 0 ? s_.in : -1, POLLOUT, 0},
        {exited_ ? -1 : pidfd_, POLLIN, 0},
    };
    int n = ::poll(fds, 5, exited_ ? kDrainMs : (pidfd_ < 0 ? 100 : -1));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && exited_) break;  // quiet since the command ended: its children keep the pipes
    if (fds[0].revents && !from_host()) {
      kill_command(SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      return;
    }
    if (fds[1].revents) from_command(s_.out, Stream::Stdout, out_eof_);
    if (fds[2].revents) from_command(s_.err, Stream::Stderr, err_eof_);
    if (fds[3].revents) to_command();
    if (!exited_ && (fds[4].revents || pidfd_ < 0)) {
      pid_t r = ::waitpid(pid_, &status_, pidfd_ < 0 ? WNOHANG : 0);
      exited_ = r == pid_;
    }
  }
  if (!out_eof_) ch_.send_data(Stream::Stdout, {});
  if (!err_eof_) ch_.send_data(Stream::Stderr, {});
  ExitStatus st;
  if (WIFEXITED(status_)) st.code = WEXITSTATUS(status_);
  else st.signal = WTERMSIG(status_);
  ch_.send_control(to_json(st));
}

bool Relay::from_host() {
  if (!ch_.read_some()) return false;
  while (auto f = ch_.buffered_frame()) {
    if (f->kind == FrameKind::Data) {
      if (f->stream != uint8_t(Stream::Stdin)) return false;
      if (f->payload.empty()) stdin_eof_ = true;
      else if (!stdin_eof_) pending_ += f->payload;
      continue;
    }
    auto msg = parse_exec_control(f->payload);
    if (!msg) continue;  // an unknown control message changes nothing
    if (auto* r = std::get_if<ResizeMessage>(&*msg); r && tty_) {
      winsize ws{r->rows, r->cols, 0, 0};
      (void)::ioctl(s_.master, TIOCSWINSZ, &ws);
    }
    if (auto* sig = std::get_if<SignalMessage>(&*msg)) kill_command(sig->signal);
  }
  if (!ch_.error().empty()) return false;
  to_command();
  return true;
}

void Relay::to_command() {
  while (!pending_.empty() && s_.in >= 0) {
    ssize_t n = ::write(s_.in, pending_.data(), pending_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {  // the command closed its stdin: what it did not read is dropped
      pending_.clear();
      break;
    }
    pending_.erase(0, size_t(n));
  }
  // End of stdin: close the pipe (a terminal has no such thing: ^D is the user's to type).
  if (stdin_eof_ && pending_.empty() && !tty_ && s_.in >= 0) {
    ::close(s_.in);
    s_.in = -1;
  }
}

void Relay::from_command(int fd, Stream stream, bool& eof) {
  char buf[32768];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {  // EOF, or EIO from a terminal whose last user left
    eof = true;
    ch_.send_data(stream, {});
    return;
  }
  ch_.send_data(stream, {buf, size_t(n)});
}

}  // namespace

void run_exec(Channel& ch, const ExecRequest& req) {
  Stdio s;
  std::string error;
  if (!make_stdio(req, s, error)) {
    ch.send_control(error_reply(error));
    return;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ch.send_control(error_reply(std::string("fork: ") + std::strerror(errno)));
    return;
  }
  if (pid == 0) exec_child(req, s);
  for (int fd : {s.child_in, s.child_out, s.child_err})
    if (fd >= 0) ::close(fd);
  ch.send_control(ok_reply({{"pid", pid}}));
  Relay(ch, s, pid, req.tty).run();
}

}  // namespace vessel::agent
