// vessel-jailer: prepares a jail and starts vessel-vmm in it (--help; docs/vmm/sandbox.md). The
// steps before the fork run here; the child's steps report a failure through a close-on-exec
// pipe, so that every failing step is printed by this process, whichever side it happened on.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/fd.h"
#include "jailer/chroot_setup.h"
#include "jailer/jail_cgroup.h"
#include "jailer/jail_options.h"

using namespace vessel;
using namespace vessel::jailer;

namespace {

int failed(const Error& error) {
  cli::print_error("vessel-jailer", error);
  return 1;
}

// The child: PID 1 of the new PID namespace. Writes its error to `report` and ends with 1.
[[noreturn]] void run_child(const JailOptions& o, int report, int dev_null) {
  auto steps = [&]() -> Result<void> {
    TRY_CTX(enter_root(o), "enter the jail");
    if (o.daemonize) {
      if (::setsid() < 0) return fail_errno("setsid");
      for (int fd = 0; fd < 3; ++fd)
        if (::dup2(dev_null, fd) < 0) return fail_errno("point fd {} at /dev/null", fd);
    }
    TRY(close_fds_from(3, report));
    TRY(drop_privileges(o));
    // Without --daemonize the jailer stands for the VMM: when it is killed, so is the VMM (set
    // after the uid change, which clears it).
    if (!o.daemonize && ::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail_errno("prctl(PR_SET_PDEATHSIG)");
    std::string path = "/" + o.exec_name();
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (const auto& a : o.exec_args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    return fail_errno("execute {} in the jail", path);
  };
  auto r = steps();
  std::string message = cli::format_error("vessel-jailer", r.error());
  (void)write_all(report, message);
  ::_exit(1);
}

pid_t g_child = 0;
void forward(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

}  // namespace

int main(int argc, char** argv) {
  JailOptions o;
  if (auto status = parse_command_line(argc, argv, o)) return *status;
  if (auto v = validate(o); !v) return failed(v.error());
  for (const auto& m : o.mount_specs) o.mounts.push_back(*parse_bind_mount(m));  // checked by validate()
  if (::geteuid() != 0) return failed(Error(EPERM, "vessel-jailer must run as root (it makes device nodes, namespaces and cgroups)"));
  if (auto r = prepare_root(o); !r) return failed(std::move(r.error()).add_context("prepare the jail"));
  if (auto r = join_cgroup(o, ::getpid()); !r) return failed(std::move(r.error()).add_context("--cgroup"));
  Fd dev_null;
  if (o.daemonize) {
    auto n = Fd::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (!n) return failed(n.error());
    dev_null = std::move(*n);
  }
  if (!o.netns.empty()) {
    auto ns = Fd::open(o.netns, O_RDONLY | O_CLOEXEC);
    if (!ns) return failed(std::move(ns.error()).add_context("--netns"));
    if (::setns(ns->get(), CLONE_NEWNET) != 0) return failed(Error::from_errno(fmt::format("join the network namespace {}", o.netns)));
  }
  // The PID namespace is for the child; the mount namespace is made by the child itself (its
  // pivot_root would otherwise move this process's root too).
  if (::unshare(CLONE_NEWPID) != 0) return failed(Error::from_errno("unshare a new PID namespace"));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return failed(Error::from_errno("pipe"));
  Fd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
  pid_t child = ::fork();
  if (child < 0) return failed(Error::from_errno("fork into the new PID namespace"));
  if (child == 0) {
    report_read.reset();
    run_child(o, report_write.get(), dev_null.get());
  }
  report_write.reset();
  g_child = child;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::signal(sig, forward);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(report_read.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    message.append(buf, static_cast<size_t>(n));
  }
  if (!message.empty()) {  // the child failed before its exec
    std::fputs(message.c_str(), stderr);
    ::waitpid(child, nullptr, 0);
    return 1;
  }
  if (auto w = write_file(o.pid_file(), std::to_string(child) + "\n"); !w)
    cli::print_error("vessel-jailer", std::move(w.error()).add_context("write the pid file"));
  if (o.daemonize) return 0;
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // _exit: the status is the VMM's and nothing at exit may change it. The VMM was the init of the
  // PID namespace this process unshared, so it cannot fork any more: ASan's leak check at exit
  // would, fail, and end the jailer with 1 instead of the VMM's 137.
  std::fflush(stderr);
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) ::_exit(128 + WTERMSIG(status));
  ::_exit(1);
}
