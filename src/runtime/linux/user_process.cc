#include "runtime/linux/user_process.h"

#include "runtime/linux/sync.h"

#include <cctype>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "runtime/linux/capabilities.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

namespace {
std::string env_value(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& e : env)
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
      return e.substr(name.size() + 1);
  return {};
}
}  // namespace

Result<std::string> find_executable(const Process& p) {
  const std::string& name = p.args.at(0);
  auto check = [](const std::string& path) -> bool {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    std::string path = name;
    if (path[0] != '/') path = p.cwd + "/" + path;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return fail_errno("exec: \"{}\"", name);
    // "permission denied": podman and Docker tell 126 from the runtime's words.
    if (!S_ISREG(st.st_mode)) return fail(EACCES, "exec: \"{}\": permission denied (not a regular file)", name);
    return path;
  }
  std::string path_var = env_value(p.env, "PATH");
  if (path_var.empty()) path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::istringstream in(path_var);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (check(candidate)) return candidate;
  }
  return fail(ENOENT, "exec: \"{}\": executable file not found in $PATH", name);
}

Result<void> apply_rlimits(const Process& p) {
  for (const auto& r : p.rlimits) {
    rlimit lim{r.soft == UINT64_MAX ? RLIM_INFINITY : r.soft, r.hard == UINT64_MAX ? RLIM_INFINITY : r.hard};
    if (setrlimit(r.resource, &lim) != 0) return fail_errno("setrlimit {} soft={} hard={}", r.type, r.soft, r.hard);
  }
  return {};
}

Result<void> setup_terminal(int console_socket, const std::optional<ConsoleSize>& size, uid_t uid, gid_t gid) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return fail_errno("open /dev/ptmx");
  Fd m(master);
  if (unlockpt(master) != 0) return fail_errno("unlockpt");
  char name[PATH_MAX];
  if (ptsname_r(master, name, sizeof name) != 0) return fail_errno("ptsname");
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) return fail_errno("open {}", name);
  // The owner becomes the process's user; the group stays devpts' (gid=5, "tty"), as in runc.
  (void)gid;
  if (uid != 0 && fchown(slave, uid, static_cast<gid_t>(-1)) != 0) return fail_errno("chown {}", name);
  if (size && size->height && size->width) {
    winsize ws{static_cast<unsigned short>(size->height), static_cast<unsigned short>(size->width), 0, 0};
    ioctl(master, TIOCSWINSZ, &ws);
  }
  TRY_CTX(send_fd(console_socket, master, name), "send the pty master to the console socket");
  for (int i = 0; i < 3; ++i)
    if (dup2(slave, i) < 0) return fail_errno("dup2 terminal");
  if (ioctl(0, TIOCSCTTY, 0) != 0) return fail_errno("make {} the controlling terminal", name);
  if (slave > 2) close(slave);
  return {};
}

Result<void> become_user(const Process& p) {
  const User& u = p.user;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return fail_errno("prctl(PR_SET_KEEPCAPS)");
  std::vector<gid_t> groups(u.additional_gids.begin(), u.additional_gids.end());
  if (setgroups(groups.size(), groups.data()) != 0 && errno != EPERM)
    return fail_errno("setgroups");
  if (setresgid(u.gid, u.gid, u.gid) != 0) return fail_errno("setgid {}", u.gid);
  if (setresuid(u.uid, u.uid, u.uid) != 0) return fail_errno("setuid {}", u.uid);
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (u.umask) umask(*u.umask);
  else umask(022);
  if (p.capabilities) TRY(apply_capabilities(*p.capabilities));
  return {};
}

Result<void> enter_cwd(const std::string& cwd) {
  if (chdir(cwd.c_str()) != 0) return fail_errno("chdir to cwd (\"{}\") set in config.json", cwd);
  char buf[PATH_MAX];
  // getcwd fails (or prefixes "(unreachable)") when the cwd is outside our root.
  if (!getcwd(buf, sizeof buf)) {
    // ENOENT is how the kernel reports a cwd outside our root; a seccomp profile may also
    // forbid getcwd (EPERM...), which says nothing about where we are.
    if (errno == ENOENT) return fail(EPERM, "current working directory is outside of the container root");
    return {};
  }
  if (buf[0] != '/') return fail(EPERM, "current working directory is outside of the container root");
  return {};
}

std::vector<std::string> process_env(const Process& p) {
  std::vector<std::string> env = p.env;
  if (!env_value(env, "HOME").empty()) return env;
  std::string home = "/";
  if (auto passwd = read_file("/etc/passwd")) {
    std::istringstream in(*passwd);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::istringstream ls(line);
      std::string part;
      while (std::getline(ls, part, ':')) f.push_back(part);
      if (f.size() >= 6 && f[2] == std::to_string(p.user.uid)) {
        home = f[5];
        break;
      }
    }
  }
  env.push_back("HOME=" + home);
  return env;
}

Result<void> seal_fds(int preserve_fds) {
  unsigned first = 3 + static_cast<unsigned>(preserve_fds > 0 ? preserve_fds : 0);
  if (sys::close_range_cloexec(first) != 0) return fail_errno("close_range");
  return {};
}

Result<Fd> lock_down(const Process& p, SeccompFilter* filter) {
  if (p.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("set no_new_privs");
  if (!filter) return Fd();
  return filter->load();
}

Result<void> send_seccomp_listener(int socket, int notify_fd, const std::string& state_json) {
  return send_fd(socket, notify_fd, state_json);
}

namespace {
// Ignored signals and the signal mask survive execve: whatever vesseld, a shell or podman ignored
// (SIGPIPE, SIGHUP) would be ignored in the container too, and `yes | head -1` would print "Broken
// pipe". Caught signals are reset by execve itself.
void reset_inherited_signals() {
  // The raw system call: glibc refuses to touch the two real-time signals it keeps for itself
  // (32 and 33), which a parent may have ignored all the same.
  struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  };
  for (int sig = 1; sig < NSIG; ++sig) {
    KernelSigaction old{};
    if (sig == SIGKILL || sig == SIGSTOP || syscall(SYS_rt_sigaction, sig, nullptr, &old, sizeof(uint64_t)) != 0) continue;
    if (old.handler != SIG_IGN) continue;
    KernelSigaction dfl{};
    dfl.handler = SIG_DFL;
    (void)syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(uint64_t));
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}
}  // namespace

namespace {
int g_command_status = 0;  // the runtime's main thread only
}  // namespace

void report_command_failure(int sync_socket, const Error& error) {
  int status = error.errnum() == ENOENT ? 127 : 126;
  sync_send(sync_socket, SyncType::Error, status, error.to_string(), error.errnum());
  _exit(status);
}

void note_command_status(int status) {
  if (status == 126 || status == 127) g_command_status = status;
}

int noted_command_status() { return g_command_status; }

void exec_process(const std::string& path, const Process& p, const std::vector<std::string>& env) {
  reset_inherited_signals();
  std::vector<char*> argv, envp;
  std::vector<std::string> args = p.args;
  std::vector<std::string> e = env;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& x : e) envp.push_back(x.data());
  envp.push_back(nullptr);
  execve(path.c_str(), argv.data(), envp.data());
  int err = errno;
  std::string reason = strerror(err);  // lower case, as runc and crun print it ("permission denied")
  if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
  std::string msg = fmt::format("vessel-runtime: error: exec {}: {}\n", path, reason);
  (void)!write(2, msg.data(), msg.size());
  _exit(err == ENOENT ? 127 : 126);  // as a shell: not found, or found but not executable
}

}  // namespace vessel::runtime
