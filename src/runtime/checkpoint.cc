// checkpoint and restore: the effects (CRIU runs, the container's state and cgroup).
#include "runtime/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "base/fd.h"
#include "base/log.h"
#include "runtime/linux/apply_resources.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

namespace {

std::string absolute_path(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf)) return buf;
  return path;
}

Result<void> make_dir(const std::string& path, const char* flag) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return fail(ec.value(), "{} {}: {}", flag, path, ec.message());
  return {};
}

// The Error lines of a CRIU log: what a user needs to see of it.
std::string criu_errors(const std::string& log) {
  auto text = read_file(log);
  if (!text) return "see " + log;
  std::istringstream in(*text);
  std::string line, out;
  int n = 0;
  while (std::getline(in, line))
    if (line.find("Error") != std::string::npos && n++ < 4) out += (out.empty() ? "" : "; ") + line;
  return out.empty() ? "see " + log : out + " (" + log + ")";
}

// Runs CRIU with our stdio; `in_child` runs in the child before exec (joining the cgroup).
Result<void> run_criu(const std::vector<std::string>& argv, const std::string& log, const std::function<bool()>& in_child) {
  log::debug("running {}", fmt::join(argv, " "));
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    if (in_child && !in_child()) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return fail_errno("wait for criu");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return hinted(fail(ENOENT, "cannot run {}: not found", argv[0]), "install Debian's criu package");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126) return fail(EIO, "cannot move criu into the container's cgroup");
  return fail(EIO, "{} {} failed: {}", argv[0], argv[1], criu_errors(log));
}

// The CRIU key of the init's fd 0..2 (checkpoint.h): pipes by inode, files by mount and inode.
std::vector<std::string> init_descriptors(pid_t pid) {
  std::vector<std::string> out;
  for (int fd = 0; fd < 3; ++fd) {
    char buf[PATH_MAX];
    std::string link = fmt::format("/proc/{}/fd/{}", pid, fd);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    std::string target = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    struct stat st;
    if (target.rfind("pipe:[", 0) == 0) {
      out.push_back(target);
    } else if (!target.empty() && target[0] == '/' && ::stat(link.c_str(), &st) == 0) {
      auto info = read_file(fmt::format("/proc/{}/fdinfo/{}", pid, fd)).value_or("");
      auto at = info.find("mnt_id:");
      if (at == std::string::npos) {
        out.emplace_back();
        continue;
      }
      unsigned long mnt = std::strtoul(info.c_str() + at + 7, nullptr, 10);
      out.push_back(fmt::format("file[{:x}:{:x}]", mnt, static_cast<uint64_t>(st.st_ino)));
    } else {
      out.emplace_back();  // a socket or nothing: CRIU dumps it, or refuses by name
    }
  }
  return out;
}

// Waits (10 s at most) for the dumped init to be gone; CRIU killed it.
void wait_gone(pid_t pid, uint64_t start) {
  for (int i = 0; i < 1000; ++i) {
    if (!sys::process_alive(pid) || sys::process_start_time(pid) != start) return;
    ::usleep(10000);
  }
}

}  // namespace

Result<void> checkpoint(const GlobalOptions& g, const CheckpointOptions& o) {
  TRY(check_id(o.id));
  if (o.criu.image_path.empty()) return hinted(fail(EINVAL, "checkpoint: --image-path is required"), "see checkpoint --help");
  StateStore store(g.root);
  ContainerState s = TRY(store.load(o.id));
  Status st = store.status(s);
  if (st != Status::Running && st != Status::Paused)
    return fail(EINVAL, "cannot checkpoint a container that is {}", status_name(st));
  Spec spec = TRY_CTX(parse_spec(TRY(read_file(store.dir(o.id) + "/config.json"))), "saved config of {}", o.id);
  CheckpointOptions opts = o;
  // containerd pauses a task before its checkpoint: CRIU must seize it through the freezer.
  if (st == Status::Paused) opts.freeze_cgroup = s.cgroup.freezer_dir();
  opts.criu.image_path = absolute_path(o.criu.image_path);
  TRY(make_dir(opts.criu.image_path, "--image-path"));
  opts.criu.image_path = absolute_path(opts.criu.image_path);
  opts.criu.work_path = o.criu.work_path.empty() ? opts.criu.image_path : o.criu.work_path;
  TRY(make_dir(opts.criu.work_path, "--work-path"));
  opts.criu.work_path = absolute_path(opts.criu.work_path);

  auto is_file = [&](const std::string& p) {
    struct stat st;
    return ::stat(fmt::format("/proc/{}/root{}", s.pid, p).c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
  };
  CheckpointMeta meta = plan_checkpoint(spec, init_descriptors(s.pid), is_file);
  uint64_t netns_inode = 0;
  if (meta.external_netns) {
    struct stat st;
    if (::stat(fmt::format("/proc/{}/ns/net", s.pid).c_str(), &st) != 0) return fail_errno("stat the container's netns");
    netns_inode = st.st_ino;
  }
  TRY(write_file(opts.criu.image_path + "/" + kCheckpointMetaFile, meta.to_json().dump(2)));
  auto argv = criu_dump_argv(g.criu, s.pid, s.rootfs, opts, meta, netns_inode);
  TRY_CTX(run_criu(argv, opts.criu.work_path + "/dump.log", {}), "checkpoint {}", o.id);
  if (o.leave_running) return {};
  // As runc: a checkpointed container is gone (restore creates it again).
  wait_gone(s.pid, s.pid_start);
  return destroy(store, s);
}

namespace {

struct RestoreGuard {
  const StateStore* store = nullptr;
  std::string id;
  std::optional<Cgroup> cgroup;
  bool armed = true;
  ~RestoreGuard() {
    if (!armed) return;
    if (cgroup) {
      (void)cgroup->kill_all(SIGKILL);
      (void)cgroup->destroy();
    }
    if (store) (void)store->remove(id);
  }
};

Result<Cgroup> restore_cgroup(const Spec& spec, const std::string& id) {
  CgroupHost host = TRY(CgroupHost::detect());
  std::string path = spec.linux->cgroups_path.empty() ? "/" + id : spec.linux->cgroups_path;
  Cgroup cgroup = TRY(Cgroup::plan(host, path));
  TRY(cgroup.create());
  if (cgroup.frozen().value_or(false)) return fail(EBUSY, "cgroup {} is frozen", path);
  return cgroup;
}

// Without --detach: wait for the restored init (we are its subreaper) and report its status.
int wait_restored(pid_t init) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 255;
    if (r == init) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}

}  // namespace

Result<int> restore(const GlobalOptions& g, const RestoreOptions& o) {
  TRY(check_id(o.id));
  if (o.criu.image_path.empty()) return hinted(fail(EINVAL, "restore: --image-path is required"), "see restore --help");
  if (g.systemd_cgroup)
    return hinted(fail(ENOTSUP, "restore: --systemd-cgroup is not supported"), "restore with the cgroupfs driver (no --systemd-cgroup)");
  RestoreOptions opts = o;
  opts.bundle = absolute_path(o.bundle.empty() ? "." : o.bundle);
  opts.criu.image_path = absolute_path(o.criu.image_path);
  opts.criu.work_path = o.criu.work_path.empty() ? opts.criu.image_path : o.criu.work_path;
  TRY(make_dir(opts.criu.work_path, "--work-path"));
  opts.criu.work_path = absolute_path(opts.criu.work_path);
  Spec spec = TRY(load_spec(opts.bundle));
  if (!spec.linux) spec.linux = Linux{};
  std::string rootfs = absolute_path(spec.root_path[0] == '/' ? spec.root_path : opts.bundle + "/" + spec.root_path);
  auto meta_text = TRY_CTX(read_file(opts.criu.image_path + "/" + kCheckpointMetaFile), "--image-path: not a checkpoint of vessel-runtime");
  CheckpointMeta meta = TRY(CheckpointMeta::parse(meta_text));
  Fd netns;
  if (meta.external_netns) {
    const Namespace* net = spec.find_namespace("network");
    if (!net || net->path.empty())
      return hinted(fail(EINVAL, "the checkpoint joined a network namespace by path, the bundle names none"),
                    "restore with a config.json whose linux.namespaces has the network path");
    // Not close-on-exec: CRIU inherits it (--inherit-fd).
    int fd = ::open(net->path.c_str(), O_RDONLY);
    if (fd < 0) return fail_errno("open network namespace {}", net->path);
    netns = Fd(fd);
  }

  StateStore store(g.root);
  TRY(store.create_dir(o.id));
  RestoreGuard guard;
  guard.store = &store;
  guard.id = o.id;
  TRY(write_file(store.dir(o.id) + "/config.json", TRY(read_file(opts.bundle + "/config.json"))));
  Cgroup cgroup = TRY(restore_cgroup(spec, o.id));
  guard.cgroup = cgroup;
  TRY(apply_resources(cgroup, spec));

  std::string pid_path = opts.criu.work_path + "/restore.pid";
  ::unlink(pid_path.c_str());
  auto argv = criu_restore_argv(g.criu, rootfs, spec, opts, meta, netns ? netns.get() : -1, pid_path);
  if (!o.detach && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return fail_errno("prctl(PR_SET_CHILD_SUBREAPER)");
  // CRIU runs inside the container's cgroup, so the tasks it forks are born there.
  auto join = [&cgroup] { return cgroup.add_process(::getpid()).has_value(); };
  TRY_CTX(run_criu(argv, opts.criu.work_path + "/restore.log", join), "restore {}", o.id);

  auto pid_text = TRY_CTX(read_file(pid_path), "criu wrote no pid file");
  pid_t pid = static_cast<pid_t>(std::atoi(pid_text.c_str()));
  if (pid <= 0) return fail(EIO, "criu's pid file {} holds no pid", pid_path);
  ContainerState s;
  s.id = o.id;
  s.pid = pid;
  s.pid_start = sys::process_start_time(pid);
  s.bundle = opts.bundle;
  s.rootfs = rootfs;
  s.created = now_rfc3339();
  s.annotations = spec.annotations;
  s.cgroup = cgroup;
  s.has_pidns = spec.find_namespace("pid") != nullptr;
  TRY(store.save(s));
  if (!o.pid_file.empty()) TRY(write_pid_file(o.pid_file, pid));
  guard.armed = false;
  if (o.detach) return 0;
  int code = wait_restored(pid);
  (void)destroy(store, s);
  return code;
}

}  // namespace vessel::runtime
