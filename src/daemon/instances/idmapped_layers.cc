#include "daemon/instances/idmapped_layers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

namespace vessel::daemon {

namespace {

// A child that only waits, cloned straight into a new user namespace: its maps are written by
// us (root in the parent namespace), then its namespace is kept through /proc/<pid>/ns/user.
class NamespaceHolder {
 public:
  static Result<NamespaceHolder> clone_userns() {
    long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) return fail_errno("clone a process into a new user namespace");
    if (pid == 0) {
      for (;;) ::pause();  // killed by the parent; nothing else runs in this copy of vesseld
    }
    return NamespaceHolder(static_cast<pid_t>(pid));
  }
  NamespaceHolder(NamespaceHolder&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  NamespaceHolder(const NamespaceHolder&) = delete;
  NamespaceHolder& operator=(const NamespaceHolder&) = delete;
  NamespaceHolder& operator=(NamespaceHolder&&) = delete;
  ~NamespaceHolder() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_t pid() const { return pid_; }

 private:
  explicit NamespaceHolder(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

Result<void> attach_idmapped(const std::string& layer, int userns, const std::string& target) {
  int tree = static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, layer.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree < 0) return fail_errno("open_tree {}", layer);
  Fd tree_fd(tree);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY;
  attr.userns_fd = static_cast<uint64_t>(userns);
  if (::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
    if (errno != EINVAL) return fail_errno("idmap the mount of {}", layer);
    return Unexpected(
        Error(EINVAL, fmt::format("idmap the mount of {}: the kernel refused (EINVAL)", layer))
            .with_hint("its filesystem cannot be idmapped on this kernel (ext4, xfs and btrfs can; "
                       "tmpfs from Linux "
                       "6.3): put vesseld's --state-dir (the image layers) and --rootfs "
                       "directories on one "
                       "that can, or run the container with --userns=host"));
  }
  if (::mkdir(target.c_str(), 0700) < 0 && errno != EEXIST) return fail_errno("mkdir {}", target);
  ::umount2(target.c_str(), MNT_DETACH);  // a mount left by a crash
  if (::syscall(SYS_move_mount, tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return fail_errno("attach the idmapped mount of {} at {}", layer, target);
  return {};
}

}  // namespace

Result<Fd> make_userns(const IdRange& range) {
  auto holder = TRY(NamespaceHolder::clone_userns());
  std::string map = fmt::format("0 {} {}\n", range.uid, range.count);
  std::string proc = fmt::format("/proc/{}/", holder.pid());
  TRY_CTX(write_file(proc + "uid_map", map), "uid_map of the user namespace");
  TRY_CTX(write_file(proc + "gid_map", fmt::format("0 {} {}\n", range.gid, range.count)),
          "gid_map of the user namespace");
  return Fd::open(proc + "ns/user", O_RDONLY);
}

Result<std::vector<std::string>> mount_idmapped_layers(const std::vector<std::string>& layers,
                                                       const IdRange& range,
                                                       const std::string& dir) {
  Fd userns = TRY(make_userns(range));
  std::string base = dir + "/lower";
  if (::mkdir(base.c_str(), 0700) < 0 && errno != EEXIST) return fail_errno("mkdir {}", base);
  std::vector<std::string> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string target = fmt::format("{}/{}", base, i);
    auto attached = attach_idmapped(layers[i], userns.get(), target);
    if (!attached) {
      unmount_idmapped_layers(dir);
      return Unexpected(std::move(attached).error());
    }
    out.push_back(target);
  }
  return out;
}

void unmount_idmapped_layers(const std::string& dir) {
  std::string base = dir + "/lower";
  DIR* d = ::opendir(base.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& n : names) {
    std::string path = base + "/" + n;
    ::umount2(path.c_str(), MNT_DETACH);
    ::rmdir(path.c_str());  // refused while mounted: the read-only layer is never walked into
  }
  ::rmdir(base.c_str());
}

Result<void> open_instance_dir(const std::string& dir, const IdRange& range) {
  if (::chown(dir.c_str(), 0, range.gid) < 0) return fail_errno("chown {}", dir);
  if (::chmod(dir.c_str(), 0710) < 0) return fail_errno("chmod {}", dir);
  std::string upper = dir + "/upper";
  if (::chown(upper.c_str(), range.uid, range.gid) < 0) return fail_errno("chown {}", upper);
  if (::chmod(upper.c_str(), 0755) < 0) return fail_errno("chmod {}", upper);
  return {};
}

}  // namespace vessel::daemon
