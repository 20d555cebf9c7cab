#include "daemon/instances/guest_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace vessel::daemon {

Result<int64_t> process_start_time(pid_t pid) {
  auto stat = read_file(fmt::format("/proc/{}/stat", pid));
  if (!stat) return fail(ENOENT, "process {} does not exist", pid);
  // The command name (field 2) may contain spaces and ')': fields resume after the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return fail(EIO, "unreadable /proc/{}/stat", pid);
  size_t pos = close + 2;  // field 3
  for (int field = 3; field < 22; ++field) {
    pos = stat->find(' ', pos);
    if (pos == std::string::npos) return fail(EIO, "short /proc/{}/stat", pid);
    ++pos;
  }
  return static_cast<int64_t>(std::stoll(stat->substr(pos, stat->find(' ', pos) - pos)));
}

Result<GuestProcess> GuestProcess::adopt(pid_t pid, int64_t start_time) {
  if (pid <= 0) return fail(ESRCH, "no process");
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return fail_errno("pidfd_open {}", pid);
  GuestProcess p{pid, start_time, Fd(fd), std::nullopt};
  // Checked after the pidfd is open: the pidfd now pins this PID, so the check cannot race.
  auto now = process_start_time(pid);
  if (!now || *now != start_time)
    return fail(ESRCH, "process {} is gone (its PID now belongs to another process or none)", pid);
  return p;
}

Result<GuestProcess> GuestProcess::attach(pid_t pid) {
  auto start = TRY(process_start_time(pid));
  return adopt(pid, start);
}

bool GuestProcess::alive() const {
  if (!pidfd) return false;
  pollfd p{pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

Result<void> GuestProcess::signal(int signo) const {
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signo, nullptr, 0) < 0 && errno != ESRCH)
    return fail_errno("signal process {}", pid);
  return {};
}

bool GuestProcess::wait_exit(std::chrono::milliseconds timeout) const {
  pollfd p{pidfd.get(), POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (r < 0 && errno == EINTR);
  if (r <= 0) return false;
  int status = 0;
  if (!wait_status && ::waitpid(pid, &status, WNOHANG) == pid) wait_status = status;  // ECHILD when not our child
  return true;
}

}  // namespace vessel::daemon
