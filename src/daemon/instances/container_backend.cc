#include "daemon/instances/container_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "base/process.h"
#include "daemon/instances/idmapped_layers.h"
#include "daemon/instances/oci_config.h"
#include "daemon/instances/oom_note.h"
#include "daemon/instances/volume_copy_up.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

std::atomic<uint64_t> exec_counter{0};

Result<void> ensure_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) return fail_errno("mkdir {}", path);
  return {};
}

Result<void> copy_root_mode(const std::string& from, const std::string& to) {
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return fail_errno("stat {}", from);
  if (::chown(to.c_str(), st.st_uid, st.st_gid) != 0 || ::chmod(to.c_str(), st.st_mode & 07777) != 0)
    return fail_errno("give {} the mode and owner of {}", to, from);
  return {};
}

// The last error the runtime logged (--log-format json), for a message better than "exit 1".
std::string last_runtime_error(const std::string& log_path) {
  auto text = read_file(log_path);
  if (!text) return {};
  std::string last;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    auto line = json::parse(std::string_view(*text).substr(pos, end - pos));
    if (line && line->is_object() && line->value("level", "") == "error") last = line->value("msg", "");
    pos = end + 1;
  }
  return last;
}

// -u, else the image's USER, looked up in the container's files; root when neither names one.
Result<ContainerUser> user_of(const InstanceContext& ctx, const BootSource& boot) {
  const std::string& user = !ctx.spec.process.user.empty() ? ctx.spec.process.user : boot.image_user;
  if (user.empty()) return ContainerUser{};
  std::vector<std::string> roots(boot.layers.rbegin(), boot.layers.rend());  // topmost first
  if (!ctx.spec.rootfs.empty()) roots = {ctx.spec.rootfs};
  return TRY_CTX(resolve_container_user(user, roots), "user {}", user);
}

// Where the runtime hands a terminal's master to the shim (during create only).
std::string console_handoff(const InstanceContext& ctx) { return ctx.dir + "/console-handoff.sock"; }

}  // namespace

std::vector<std::string> ContainerBackend::command(std::initializer_list<std::string> args) const {
  std::vector<std::string> argv{runtime_, "--root", root_};
  argv.insert(argv.end(), args);
  return argv;
}

std::string container_console_socket(const std::string& instance_dir) { return instance_dir + "/console.sock"; }

Result<void> ContainerBackend::mount_rootfs(const InstanceContext& ctx, const BootSource& boot) {
  if (boot.layers.empty()) return fail(EINVAL, "the container has no root filesystem layers");
  std::string rootfs = ctx.dir + "/rootfs";
  bool new_upper = ::access((ctx.dir + "/upper").c_str(), F_OK) != 0;
  TRY(ensure_dir(ctx.dir + "/upper"));
  TRY(ensure_dir(ctx.dir + "/work"));
  TRY(ensure_dir(rootfs));
  ::umount2(rootfs.c_str(), MNT_DETACH);  // a mount left by a crash: start from a clean one
  std::vector<std::string> layers = boot.layers;
  if (ctx.userns) {
    // docs/daemon/userns.md: the layers idmapped to the container's range, its paths reachable.
    unmount_idmapped_layers(ctx.dir);
    TRY(open_instance_dir(ctx.dir, *ctx.userns));
    layers = TRY(mount_idmapped_layers(boot.layers, *ctx.userns, ctx.dir));
  }
  // overlayfs gives the root directory the upper directory's mode and owner: the image's, as
  // Docker's is (0700, mkdir's, would shut every user but root out of the whole tree).
  if (new_upper) TRY(copy_root_mode(layers.back(), ctx.dir + "/upper"));
  std::string lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    if (it->find_first_of(",:") != std::string::npos)
      return fail(EINVAL, "layer path {} contains ',' or ':', which overlayfs cannot take", *it);
    lower += (lower.empty() ? "" : ":") + *it;
  }
  std::string options = fmt::format("lowerdir={},upperdir={}/upper,workdir={}/work", lower, ctx.dir, ctx.dir);
  if (::mount("overlay", rootfs.c_str(), "overlay", 0, options.c_str()) < 0) {
    auto e = fail_errno("mount overlay on {}", rootfs);
    unmount_idmapped_layers(ctx.dir);
    return e;
  }
  return {};
}

Result<std::string> ContainerBackend::mount_files(const InstanceContext& ctx, const BootSource& boot, bool running) {
  // A running or paused container's overlay is mounted; a stopped one's is mounted for the copy
  // (the instance's lock keeps a start out meanwhile).
  if (!running) TRY_CTX(mount_rootfs(ctx, boot), "mount the root filesystem of {}", ctx.spec.name);
  return ctx.dir + "/rootfs";
}

void ContainerBackend::release_files(const InstanceContext& ctx, bool running) {
  if (running) return;
  ::umount2((ctx.dir + "/rootfs").c_str(), MNT_DETACH);
  unmount_idmapped_layers(ctx.dir);
}

Result<GuestProcess> ContainerBackend::start(const InstanceContext& ctx, const BootSource& boot) {
  return launch(ctx, boot, {"create"}, true);
}

Result<GuestProcess> ContainerBackend::launch(const InstanceContext& ctx, const BootSource& boot,
                                              std::vector<std::string> verb, bool start) {
  const std::string& name = ctx.spec.name;
  (void)run_tool(command({"delete", "--force", name}));  // leftovers of an earlier run
  TRY_CTX(mount_rootfs(ctx, boot), "prepare the root filesystem");
  TRY_CTX(copy_image_files_into_empty_volumes(ctx.dir + "/rootfs", ctx.mounts, ctx.dir), "the volumes of {}", name);
  auto config = oci_config(ctx, boot, TRY(user_of(ctx, boot)));
  if (ctx.spec.process.init) TRY(add_init(config, init_));
  TRY(write_file(ctx.dir + "/config.json", config.dump(2)));
  std::string pid_file = ctx.dir + "/pid";
  ::unlink(pid_file.c_str());
  std::string runtime_log = ctx.dir + "/runtime.log";

  // The runtime hands its own stdio to the container: with the shim, a pipe into the shim's
  // rotating log; without it, the log file itself (uncapped).
  Fd null = TRY(Fd::open("/dev/null", O_RDWR));
  Fd log = shim_.empty() ? TRY(Fd::open(ctx.log_path, O_WRONLY | O_APPEND | O_CREAT, 0600)) : Fd();
  SpawnOptions options;
  options.stdin_fd = null.get();
  options.stdout_fd = log ? log.get() : null.get();
  options.stderr_fd = log ? log.get() : null.get();
  auto argv = std::vector<std::string>{runtime_, "--root", root_, "--log", runtime_log, "--log-format", "json"};
  argv.insert(argv.end(), verb.begin(), verb.end());
  if (ctx.spec.process.tty) {  // the shim takes the terminal from the runtime and holds it
    if (shim_.empty() || verb[0] != "create") return fail(ENOTSUP, "a container with a terminal (-t) needs vessel-shim and a fresh start");
    argv.insert(argv.end(), {"--console-socket", console_handoff(ctx)});
  } else if (ctx.spec.process.interactive && (shim_.empty() || verb[0] != "create")) {
    return fail(ENOTSUP, "a container with an open stdin (-i) needs vessel-shim and a fresh start");
  }
  argv.insert(argv.end(), {"--bundle", ctx.dir, "--pid-file", pid_file, name});
  if (!shim_.empty()) {
    auto created = create_through_shim(ctx, argv, options, pid_file);
    if (!created) {
      std::string why = last_runtime_error(runtime_log);
      cleanup(ctx);
      return Unexpected(std::move(created).error().add_context(why.empty() ? "see " + runtime_log : why));
    }
  } else {
    auto create = TRY_CTX(Process::spawn(argv, options), "run {}", runtime_);
    auto status = TRY(create.wait_for(std::chrono::seconds(60)));
    if (!status || !status->success()) {
      if (!status) (void)create.signal(SIGKILL), (void)create.wait();
      std::string why = last_runtime_error(runtime_log);
      cleanup(ctx);
      return fail(EIO, "{} {} failed ({}): {}", runtime_, verb[0], status ? status->to_string() : "timed out",
                  why.empty() ? "see " + runtime_log : why);
    }
  }
  auto pid_text = TRY_CTX(read_file(pid_file), "{} create wrote no pid file", runtime_);
  pid_t pid = static_cast<pid_t>(std::atoi(pid_text.c_str()));
  auto proc = GuestProcess::attach(pid);
  if (!proc) {
    cleanup(ctx);
    return Unexpected(std::move(proc).error().add_context("container init"));
  }
  if (!start) return proc;
  auto started = run_tool(command({"start", name}));
  if (!started) {
    cleanup(ctx);
    return Unexpected(std::move(started).error());
  }
  return proc;
}

Result<void> ContainerBackend::create_through_shim(const InstanceContext& ctx, const std::vector<std::string>& create,
                                                   SpawnOptions options, const std::string& pid_file) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return fail_errno("pipe");
  Fd ready_read(fds[0]), ready_write(fds[1]);
  // The write end reaches the shim as its stdin: dup2'd in the child only, so that no process
  // spawned meanwhile by another thread inherits it (its answer would never see EOF).
  std::vector<std::string> argv{shim_, "--exit-file", ctx.dir + "/" + kExitFile, "--pid-file", pid_file,
                                "--ready-fd", "0"};
  for (auto& a : log_relay_args(ctx)) argv.push_back(std::move(a));
  if (ctx.spec.process.tty) argv.insert(argv.end(), {"--console-handoff", console_handoff(ctx), "--console-serve", container_console_socket(ctx.dir)});
  else if (ctx.spec.process.interactive) argv.insert(argv.end(), {"--stdin-serve", container_console_socket(ctx.dir)});
  argv.push_back("--");
  argv.insert(argv.end(), create.begin(), create.end());
  options.new_session = true;
  options.stdin_fd = ready_write.get();
  auto shim = TRY_CTX(Process::spawn(argv, options), "run {}", shim_);
  ready_write.reset();
  TRY(shim.wait());  // the shim's first process exits at once; the shim itself lives on detached
  std::string answer;
  pollfd p{ready_read.get(), POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail(ETIMEDOUT, "{} create did not finish within 60 s", runtime_);
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno("poll");
    char buf[256];
    ssize_t n = ::read(ready_read.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
    if (answer.find('\n') != std::string::npos || answer.size() > 4096) break;  // one line is the answer
  }
  if (answer.rfind("ok ", 0) != 0) {
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    // The runtime's 127 and 126: the command is not there, or cannot be executed (Docker's codes).
    int errnum = answer == "fail 127" ? ENOENT : answer == "fail 126" ? EACCES : EIO;
    return fail(errnum, "{} create failed ({})", runtime_, answer.empty() ? "the shim ended without an answer" : answer);
  }
  return {};
}

Result<void> ContainerBackend::stop(const InstanceContext& ctx, const GuestProcess& proc, std::chrono::seconds timeout) {
  const std::string& name = ctx.spec.name;
  if (timeout.count() > 0) {
    (void)run_tool(command({"kill", name, "TERM"}));
    if (!proc.wait_exit(timeout)) (void)run_tool(command({"kill", "--all", name, "KILL"}));
  } else {
    (void)run_tool(command({"kill", "--all", name, "KILL"}));
  }
  if (!proc.wait_exit(std::chrono::seconds(10))) {
    (void)proc.signal(SIGKILL);  // the runtime could not: the pidfd still can
    cgroup_hurry_killed(ctx.cgroup, proc.pid);
    if (!proc.wait_exit(std::chrono::seconds(5))) return fail(ETIMEDOUT, "container {} did not die", name);
  }
  cleanup(ctx);
  return {};
}

Result<void> ContainerBackend::pause(const InstanceContext& ctx, const GuestProcess&) {
  TRY(run_tool(command({"pause", ctx.spec.name})));
  return {};
}

Result<void> ContainerBackend::resume(const InstanceContext& ctx, const GuestProcess&) {
  TRY(run_tool(command({"resume", ctx.spec.name})));
  return {};
}

void ContainerBackend::cleanup(const InstanceContext& ctx) {
  note_oom_kills(ctx);  // the runtime's delete removes the cgroup
  (void)run_tool(command({"delete", "--force", ctx.spec.name}));
  ::umount2((ctx.dir + "/rootfs").c_str(), MNT_DETACH);
  unmount_idmapped_layers(ctx.dir);  // after the overlay that stacks them
}

Result<State> ContainerBackend::probe(const InstanceContext& ctx, const GuestProcess&) {
  auto out = TRY(run_tool(command({"state", ctx.spec.name})));
  auto j = TRY_CTX(json::parse(out), "{} state", runtime_);
  auto status = j.is_object() ? j.value("status", "") : "";
  if (status == "running") return State::Running;
  if (status == "paused") return State::Paused;
  return fail(ESRCH, "container {} is {}", ctx.spec.name, status);
}

Result<ExecResult> ContainerBackend::exec(const InstanceContext& ctx, const std::vector<std::string>& argv) {
  auto process = exec_process(ctx, argv, false);
  std::string path = fmt::format("{}/exec-{}.json", ctx.dir, exec_counter++);
  TRY(write_file(path, process.dump()));
  auto r = run_tool_status(command({"exec", "--process", path, ctx.spec.name}), ctx.exec_timeout);
  ::unlink(path.c_str());
  return r;
}

}  // namespace vessel::daemon
