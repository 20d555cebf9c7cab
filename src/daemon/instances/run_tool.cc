#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/process.h"
#include "daemon/instances/backend.h"

namespace vessel::daemon {

Result<ExecResult> run_tool_status(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  Fd out(::memfd_create("vessel-tool-output", MFD_CLOEXEC));
  if (!out) return fail_errno("memfd_create");
  Fd null = TRY(Fd::open("/dev/null", O_RDONLY));
  SpawnOptions options;
  options.stdin_fd = null.get();
  options.stdout_fd = out.get();
  options.stderr_fd = out.get();
  auto proc = TRY_CTX(Process::spawn(argv, options), "run {}", argv[0]);
  auto status = TRY(proc.wait_for(timeout));
  if (!status) {
    (void)proc.signal(SIGKILL);
    (void)proc.wait();
    return fail(ETIMEDOUT, "{} did not finish within {} ms", argv[0], timeout.count());
  }
  ExecResult r;
  r.exit_code = status->exited() ? status->code : 128 + status->signal;
  off_t size = ::lseek(out.get(), 0, SEEK_END);
  if (size > 0) {
    size_t n = std::min<size_t>(static_cast<size_t>(size), 16 << 20);
    r.output.resize(n);
    TRY(pread_exact(out.get(), r.output.data(), n, 0));
  }
  return r;
}

Result<std::string> run_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto r = TRY(run_tool_status(argv, timeout));
  if (r.exit_code != 0) {
    std::string text = r.output;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    std::string cmd;
    for (size_t i = 0; i < argv.size() && i < 4; ++i) cmd += (i ? " " : "") + argv[i];
    return fail(EIO, "`{}` failed (exit {}): {}", cmd, r.exit_code, text);
  }
  return r.output;
}

}  // namespace vessel::daemon
