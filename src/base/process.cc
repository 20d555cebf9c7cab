#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace vessel {

namespace {
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

ExitStatus decode(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}
}  // namespace

std::string ExitStatus::to_string() const {
  if (signal != 0) return fmt::format("killed by signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit status {}", code);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)),
      status_(std::move(other.status_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    this->~Process();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::move(other.status_);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

Result<Process> Process::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return fail(EINVAL, "spawn: empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // A pipe closed on exec tells the parent whether exec succeeded, and with which errno.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) < 0) return fail_errno("pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(report[0]);
    ::close(report[1]);
    return fail_errno("fork");
  }
  if (pid == 0) {
    ::close(report[0]);
    if (options.new_session) ::setsid();
    if (options.stdin_fd >= 0) ::dup2(options.stdin_fd, 0);
    if (options.stdout_fd >= 0) ::dup2(options.stdout_fd, 1);
    if (options.stderr_fd >= 0) ::dup2(options.stderr_fd, 2);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) < 0) {
      int e = errno;
      (void)!::write(report[1], &e, sizeof e);
      ::_exit(127);
    }
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (options.env.empty())
      ::execvp(args[0], args.data());
    else
      ::execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  Process p;
  p.pid_ = pid;
  p.pidfd_ = Fd(pidfd_open(pid));
  if (n == sizeof child_errno) {
    (void)p.wait();
    return Unexpected(Error::system(child_errno, fmt::format("cannot run {}", argv[0])));
  }
  return p;
}

Result<void> Process::signal(int signo) const {
  if (pid_ <= 0 || status_) return fail(ESRCH, "process has exited");
  if (pidfd_.valid()) {
    if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signo, nullptr, 0) < 0)
      return fail_errno("cannot signal process {}", pid_);
    return {};
  }
  if (::kill(pid_, signo) < 0) return fail_errno("cannot signal process {}", pid_);
  return {};
}

Result<std::optional<ExitStatus>> Process::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return fail(ECHILD, "no process");
  if (pidfd_.valid()) {
    pollfd pfd{pidfd_.get(), POLLIN, 0};
    int r;
    do {
      r = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) return std::optional<ExitStatus>{};
  }
  int st;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return fail_errno("waitpid {}", pid_);
  status_ = decode(st);
  return status_;
}

Result<ExitStatus> Process::wait() {
  auto r = TRY(wait_for(std::chrono::milliseconds(-1)));
  return *r;
}

pid_t Process::detach() {
  pid_t pid = std::exchange(pid_, -1);
  pidfd_.reset();
  return pid;
}

Result<CommandOutput> run_capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return fail_errno("pipe");
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  SpawnOptions options;
  options.stdout_fd = write_end.get();
  Process p = TRY(Process::spawn(argv, options));
  write_end.reset();
  CommandOutput out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.out.append(buf, static_cast<size_t>(n));
  }
  out.status = TRY(p.wait());
  return out;
}

}  // namespace vessel
