#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "base/fd.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

Result<void> run_hook(const Hook& hook, const std::string& state_json) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return fail_errno("pipe");
  Fd rd(pipefd[0]), wr(pipefd[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork hook {}", hook.path);
  if (pid == 0) {
    dup2(rd.get(), 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  rd.reset();
  signal(SIGPIPE, SIG_IGN);
  (void)write_all(wr.get(), state_json.data(), state_json.size());
  wr.reset();
  int pidfd = sys::pidfd_open(pid);
  Fd guard(pidfd);
  if (hook.timeout && pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int rc;
    do rc = poll(&p, 1, *hook.timeout * 1000);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return fail(ETIMEDOUT, "hook {} timed out after {} s", hook.path, *hook.timeout);
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return fail_errno("wait for hook {}", hook.path);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status)) return fail(ECANCELED, "hook {} exited with status {}", hook.path, WEXITSTATUS(status));
  return fail(ECANCELED, "hook {} was killed by signal {}", hook.path, WTERMSIG(status));
}

Result<void> run_hooks(const std::vector<Hook>& hooks, const char* kind, const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i) TRY_CTX(run_hook(hooks[i], state_json), "hooks.{}[{}]", kind, i);
  return {};
}

}  // namespace vessel::runtime
