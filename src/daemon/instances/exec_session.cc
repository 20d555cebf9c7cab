#include "daemon/instances/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "base/unix_socket.h"
#include "daemon/instances/container_backend.h"
#include "daemon/instances/oci_config.h"

namespace vessel::daemon {

Result<void> spawn_with_pipes(const std::vector<std::string>& argv, SpawnOptions spawn, ExecSession& session) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return fail_errno("pipe");
  Fd in_read(in[0]);
  session.in = Fd(in[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return fail_errno("pipe");
  session.out = Fd(out[0]);
  Fd out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) < 0) return fail_errno("pipe");
  session.err = Fd(err[0]);
  Fd err_write(err[1]);
  spawn.stdin_fd = in_read.get();
  spawn.stdout_fd = out_write.get();
  spawn.stderr_fd = err_write.get();
  session.runtime = TRY(Process::spawn(argv, spawn));
  return {};
}

namespace {

std::atomic<uint64_t> session_counter{0};

std::string drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while (out.size() < 65536 && (n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

ExecSession::~ExecSession() {
  if (runtime.running()) {
    (void)runtime.signal(SIGTERM);  // the runtime forwards it to the command
    (void)runtime.wait_for(std::chrono::seconds(2));
  }
  if (!process_file.empty()) ::unlink(process_file.c_str());
}

Result<ExecSession> ContainerBackend::exec_session(const InstanceContext& ctx, const ExecOptions& options) {
  if (options.argv.empty()) return fail(EINVAL, "exec: no command");
  auto process = exec_process(ctx, options.argv, options.tty);
  if (options.tty && options.rows && options.cols) process["consoleSize"] = {{"height", options.rows}, {"width", options.cols}};
  uint64_t id = session_counter++;
  ExecSession s;
  s.process_file = fmt::format("{}/exec-session-{}.json", ctx.dir, id);
  TRY(write_file(s.process_file, process.dump()));

  // The runtime's own complaints (bad command, ...) come back through a pipe.
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) < 0) return fail_errno("pipe");
  Fd runtime_err_read(errp[0]), runtime_err_write(errp[1]);
  Fd null = TRY(Fd::open("/dev/null", O_RDONLY));
  SpawnOptions spawn;
  if (options.tty) {
    std::string sock_path = fmt::format("{}/exec-{}.sock", ctx.dir, id);
    Fd listener = TRY(unix_socket::listen(sock_path, {.backlog = 1}));
    spawn.stdin_fd = null.get();
    spawn.stdout_fd = runtime_err_write.get();
    spawn.stderr_fd = runtime_err_write.get();
    s.runtime = TRY_CTX(Process::spawn(command({"exec", "--console-socket", sock_path, "--process", s.process_file, ctx.spec.name}), spawn),
                        "run {}", runtime_);
    runtime_err_write.reset();
    pollfd p[2] = {{listener.get(), POLLIN, 0}, {s.runtime.pidfd(), POLLIN, 0}};
    int r;
    do r = ::poll(p, 2, 30000);
    while (r < 0 && errno == EINTR);
    ::unlink(sock_path.c_str());
    if (r <= 0 || !(p[0].revents & POLLIN)) {
      (void)s.runtime.wait_for(std::chrono::seconds(5));
      std::string why = drain(runtime_err_read.get());
      return fail(EIO, "{} exec did not hand over a terminal: {}", runtime_, why.empty() ? "no answer within 30 s" : why);
    }
    Fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return fail_errno("accept on {}", sock_path);
    s.pty = TRY_CTX(unix_socket::recv_fd(conn.get()), "{} exec --console-socket", runtime_);
    s.err = std::move(runtime_err_read);  // what the runtime still says (a command it cannot run)
    return s;
  }
  TRY_CTX(spawn_with_pipes(command({"exec", "--process", s.process_file, ctx.spec.name}), spawn, s), "run {}", runtime_);
  return s;
}

}  // namespace vessel::daemon
