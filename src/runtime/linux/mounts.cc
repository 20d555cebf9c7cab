#include "runtime/linux/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

namespace {

struct Option {
  const char* name;
  bool clear;
  unsigned long flag;
};
constexpr Option kOptions[] = {
    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},      {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},        {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},      {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},   {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},      {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},       {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME}, {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},  {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
};
struct Propagation {
  const char* name;
  unsigned long flag;
};
constexpr Propagation kPropagation[] = {
    {"shared", MS_SHARED},   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},     {"rslave", MS_SLAVE | MS_REC},
    {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

Result<void> do_mount(const char* src, const std::string& target, const char* type, unsigned long flags,
                      const char* data, const std::string& what) {
  if (::mount(src, target.c_str(), type, flags, data) != 0)
    return fail_errno("mount {} on {}{}{}", src ? src : "(none)", what, type ? " type " : "", type ? type : "");
  return {};
}

// Flags the kernel locked on a mount (in a user namespace they must be kept on remount).
unsigned long locked_flags(const std::string& target) {
  struct statvfs st;
  if (statvfs(target.c_str(), &st) != 0) return 0;
  unsigned long f = 0;
  if (st.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) f |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (st.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (st.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

Result<void> remount_bind(const std::string& target, unsigned long flags, const std::string& what) {
  unsigned long want = MS_REMOUNT | MS_BIND | flags;
  if (::mount(nullptr, target.c_str(), nullptr, want, nullptr) == 0) return {};
  if (errno == EPERM && ::mount(nullptr, target.c_str(), nullptr, want | locked_flags(target), nullptr) == 0)
    return {};
  return fail_errno("remount {} with flags {:#x}", what, flags);
}

bool is_dir_path(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<void> mount_cgroup(const Mount& m, const MountFlags& mf, const RootfsContext& ctx, int root) {
  Fd dest = TRY(sys::mkdir_all_in_root(root, m.destination, false));
  std::string target = sys::fd_path(dest.get());
  unsigned long base = mf.flags & ~static_cast<unsigned long>(MS_RDONLY);
  const Cgroup* cg = ctx.cgroup;
  bool v2only = cg && cg->dirs().size() == 1 && cg->dirs().count("unified");
  if (v2only) {
    if (ctx.cgroupns) return do_mount("cgroup2", target, "cgroup2", mf.flags, nullptr, m.destination);
    TRY(do_mount(cg->dirs().at("unified").c_str(), target, nullptr, MS_BIND | MS_REC, nullptr, m.destination));
    Fd mounted = TRY(sys::open_in_root(root, m.destination, O_PATH));
    return remount_bind(sys::fd_path(mounted.get()), mf.flags, m.destination);
  }
  TRY(do_mount("tmpfs", target, "tmpfs", base, "mode=755", m.destination));
  if (cg) {
    for (const auto& [name, dir] : cg->dirs()) {
      std::string sub = name.rfind("name=", 0) == 0 ? name.substr(5) : name;
      std::string subdest = m.destination + "/" + sub;
      Fd d = TRY(sys::mkdir_all_in_root(root, subdest, false));
      std::string t = sys::fd_path(d.get());
      if (ctx.cgroupns) {
        if (name == "unified") TRY(do_mount("cgroup2", t, "cgroup2", mf.flags, nullptr, subdest));
        else TRY(do_mount("cgroup", t, "cgroup", mf.flags, name.c_str(), subdest));
      } else {
        TRY(do_mount(dir.c_str(), t, nullptr, MS_BIND | MS_REC, nullptr, subdest));
        Fd mounted = TRY(sys::open_in_root(root, subdest, O_PATH));
        TRY(remount_bind(sys::fd_path(mounted.get()), mf.flags, subdest));
      }
    }
  }
  if (mf.flags & MS_RDONLY) {
    Fd top = TRY(sys::open_in_root(root, m.destination, O_PATH));
    TRY(do_mount(nullptr, sys::fd_path(top.get()), nullptr, MS_REMOUNT | base | MS_RDONLY, "mode=755", m.destination));
  }
  return {};
}

Result<void> mount_one(const Mount& m, const RootfsContext& ctx, int root) {
  MountFlags mf = parse_mount_options(m.options);
  if (m.type == "cgroup") return mount_cgroup(m, mf, ctx, root);
  bool bind = mf.bind || m.type == "bind";
  std::string source = m.source;
  if (bind && !source.empty() && source[0] != '/') source = ctx.bundle + "/" + source;
  bool file = bind && !is_dir_path(source);
  Fd dest = TRY_CTX(sys::mkdir_all_in_root(root, m.destination, file), "mount {}", m.destination);
  std::string target = sys::fd_path(dest.get());
  if (bind) {
    Fd src = TRY_CTX(Fd::open(source, O_PATH), "bind mount source of {}", m.destination);
    TRY(do_mount(sys::fd_path(src.get()).c_str(), target, nullptr, MS_BIND | (mf.recursive ? MS_REC : 0), nullptr,
                 m.destination));
    // Re-open: the fd now names the mount point underneath the new mount.
    dest = TRY(sys::open_in_root(root, m.destination, O_PATH));
    target = sys::fd_path(dest.get());
    unsigned long extra = mf.flags & ~static_cast<unsigned long>(MS_REMOUNT | MS_BIND | MS_REC);
    if (extra) TRY(remount_bind(target, extra, m.destination));
  } else {
    const char* data = mf.data.empty() ? nullptr : mf.data.c_str();
    auto r = do_mount(source.empty() ? m.type.c_str() : source.c_str(), target, m.type.c_str(), mf.flags, data,
                      m.destination);
    if (!r && m.type == "sysfs" && (errno == EPERM || errno == EINVAL)) {
      // Without its own network namespace a user-namespaced container may not mount sysfs:
      // fall back to a read-only recursive bind of the host's, as runc does.
      TRY(do_mount("/sys", target, nullptr, MS_BIND | MS_REC, nullptr, m.destination));
      dest = TRY(sys::open_in_root(root, m.destination, O_PATH));
      TRY(remount_bind(sys::fd_path(dest.get()), mf.flags | MS_RDONLY, m.destination));
    } else if (!r && m.type == "mqueue" && errno == EPERM) {
      TRY(do_mount("/dev/mqueue", target, nullptr, MS_BIND | MS_REC, nullptr, m.destination));
    } else if (!r) {
      return Unexpected(std::move(r).error());
    }
  }
  if (mf.propagation) {
    dest = TRY(sys::open_in_root(root, m.destination, O_PATH));
    TRY(do_mount(nullptr, sys::fd_path(dest.get()), nullptr, mf.propagation, nullptr, m.destination));
  }
  return {};
}

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

Result<void> make_device(int root, const Device& d, bool userns) {
  std::string rel = d.path;
  auto slash = rel.rfind('/');
  Fd parent = TRY(sys::mkdir_all_in_root(root, rel.substr(0, slash), false));
  std::string name = rel.substr(slash + 1);
  if (userns) {
    // mknod is not allowed in a user namespace: bind the host node over an empty file.
    int fd = openat(parent.get(), name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST) return fail_errno("create {}", d.path);
    if (fd >= 0) close(fd);
    Fd target = TRY(sys::open_in_root(root, d.path, O_PATH | O_NOFOLLOW));
    return do_mount(d.path.c_str(), sys::fd_path(target.get()), nullptr, MS_BIND, nullptr, d.path);
  }
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t mode = type | (d.file_mode.value_or(0666) & 07777);
  unlinkat(parent.get(), name.c_str(), 0);
  if (mknodat(parent.get(), name.c_str(), mode, makedev(d.major, d.minor)) != 0)
    return fail_errno("mknod {}", d.path);
  if (fchmodat(parent.get(), name.c_str(), mode & 07777, 0) != 0) return fail_errno("chmod {}", d.path);
  if (fchownat(parent.get(), name.c_str(), d.uid.value_or(0), d.gid.value_or(0), AT_SYMLINK_NOFOLLOW) != 0)
    return fail_errno("chown {}", d.path);
  return {};
}

Result<void> setup_dev(const Spec& spec, const RootfsContext& ctx, int root) {
  bool dev_mounted = false;
  for (const auto& m : spec.mounts)
    if (m.destination == "/dev" || m.destination == "/dev/") dev_mounted = true;
  const std::vector<Device> empty;
  const auto& devices = spec.linux ? spec.linux->devices : empty;
  if (dev_mounted) {
    for (const auto& dd : kDefaultDevices) {
      bool configured = false;
      for (const auto& d : devices) configured |= d.path == dd.path;
      if (configured) continue;
      Device d;
      d.path = dd.path;
      d.major = dd.major;
      d.minor = dd.minor;
      d.file_mode = 0666;
      TRY(make_device(root, d, ctx.userns));
    }
    Fd dev = TRY(sys::open_in_root(root, "/dev", O_PATH | O_DIRECTORY));
    const std::pair<const char*, const char*> links[] = {
        {"/proc/self/fd", "fd"},        {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},  {"pts/ptmx", "ptmx"},         {"/proc/kcore", "core"}};
    for (const auto& [target, name] : links) {
      if (symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) return fail_errno("symlink /dev/{}", name);
    }
  }
  for (const auto& d : devices) TRY_CTX(make_device(root, d, ctx.userns), "linux.devices {}", d.path);
  return {};
}

}  // namespace

MountFlags parse_mount_options(const std::vector<std::string>& options) {
  MountFlags mf;
  for (const auto& o : options) {
    bool known = false;
    for (const auto& opt : kOptions) {
      if (o != opt.name) continue;
      known = true;
      if (opt.clear) {
        mf.flags &= ~opt.flag;
        mf.clear |= opt.flag;
      } else {
        mf.flags |= opt.flag;
      }
    }
    for (const auto& p : kPropagation)
      if (o == p.name) {
        known = true;
        mf.propagation = p.flag;
      }
    if (o == "bind") {
      known = true;
      mf.bind = true;
    } else if (o == "rbind") {
      known = true;
      mf.bind = mf.recursive = true;
    } else if (o == "tmpcopyup" || o == "idmap" || o == "ridmap" || o == "rro" || o == "rrw" ||
               o == "nosymfollow" || o == "copy-symlink" || o == "z" || o == "Z") {
      known = true;
    }
    if (!known) mf.data += (mf.data.empty() ? "" : ",") + o;
  }
  return mf;
}

Result<void> prepare_rootfs(const Spec& spec, const RootfsContext& ctx) {
  unsigned long prop = MS_SLAVE | MS_REC;
  if (spec.linux && spec.linux->rootfs_propagation) {
    for (const auto& p : kPropagation)
      if (*spec.linux->rootfs_propagation == p.name) prop = p.flag | MS_REC;
  }
  // Host mounts must not see ours: never shared at first (shared is applied after pivot).
  unsigned long first = (prop & (MS_SHARED | MS_UNBINDABLE)) ? (MS_SLAVE | MS_REC) : prop;
  TRY_CTX(do_mount(nullptr, "/", nullptr, first, nullptr, "/"), "set mount propagation");
  TRY(do_mount(ctx.rootfs.c_str(), ctx.rootfs, nullptr, MS_BIND | MS_REC, nullptr, "rootfs"));
  Fd root = TRY_CTX(Fd::open(ctx.rootfs, O_PATH | O_DIRECTORY), "open rootfs");
  for (size_t i = 0; i < spec.mounts.size(); ++i)
    TRY_CTX(mount_one(spec.mounts[i], ctx, root.get()), "mounts[{}] ({})", i, spec.mounts[i].destination);
  TRY(setup_dev(spec, ctx, root.get()));
  return {};
}

Result<void> enter_rootfs(const Spec& spec, const RootfsContext& ctx) {
  if (chdir(ctx.rootfs.c_str()) != 0) return fail_errno("chdir {}", ctx.rootfs);
  if (ctx.no_pivot) {
    if (::mount(ctx.rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0) return fail_errno("move rootfs to /");
    if (chroot(".") != 0) return fail_errno("chroot");
  } else {
    if (sys::pivot_root(".", ".") != 0) return fail_errno("pivot_root {}", ctx.rootfs);
    // The old root is stacked under the new one: detach it.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) return fail_errno("make old root slave");
    if (umount2(".", MNT_DETACH) != 0) return fail_errno("detach the old root");
  }
  if (chdir("/") != 0) return fail_errno("chdir /");
  if (spec.linux && spec.linux->rootfs_propagation && !spec.linux->rootfs_propagation->empty()) {
    for (const auto& p : kPropagation)
      if (*spec.linux->rootfs_propagation == p.name)
        TRY_CTX(do_mount(nullptr, "/", nullptr, p.flag, nullptr, "/"), "rootfsPropagation");
  }
  return {};
}

Result<void> finish_rootfs(const Spec& spec) {
  if (spec.linux) {
    for (const auto& [key, value] : spec.linux->sysctl) {
      std::string path = "/proc/sys/" + key;
      for (size_t i = 10; i < path.size(); ++i)
        if (path[i] == '.') path[i] = '/';
      TRY_CTX(write_file(path, value), "sysctl {}", key);
    }
    Fd root = TRY(Fd::open("/", O_PATH | O_DIRECTORY));
    for (const auto& p : spec.linux->masked_paths) {
      // O_NOFOLLOW: a masked path swapped for a symlink is refused, not followed.
      auto fd = sys::open_in_root(root.get(), p, O_PATH | O_NOFOLLOW);
      if (!fd) {
        if (fd.error().errnum() == ENOENT) continue;
        return Unexpected(std::move(fd).error().add_context("linux.maskedPaths"));
      }
      struct stat st;
      if (fstat(fd->get(), &st) != 0) return fail_errno("stat masked path {}", p);
      if (S_ISLNK(st.st_mode)) return fail(ELOOP, "linux.maskedPaths: {} is a symlink", p);
      std::string target = sys::fd_path(fd->get());
      if (S_ISDIR(st.st_mode))
        TRY(do_mount("tmpfs", target, "tmpfs", MS_RDONLY, nullptr, p));
      else
        TRY(do_mount("/dev/null", target, nullptr, MS_BIND, nullptr, p));
    }
    for (const auto& p : spec.linux->readonly_paths) {
      auto fd = sys::open_in_root(root.get(), p, O_PATH | O_NOFOLLOW);
      if (!fd) {
        if (fd.error().errnum() == ENOENT) continue;
        return Unexpected(std::move(fd).error().add_context("linux.readonlyPaths"));
      }
      std::string target = sys::fd_path(fd->get());
      TRY(do_mount(target.c_str(), target, nullptr, MS_BIND | MS_REC, nullptr, p));
      auto again = TRY(sys::open_in_root(root.get(), p, O_PATH | O_NOFOLLOW));
      TRY(remount_bind(sys::fd_path(again.get()), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, p));
    }
  }
  if (spec.root_readonly) TRY_CTX(remount_bind("/", MS_RDONLY, "/"), "root.readonly");
  return {};
}

}  // namespace vessel::runtime
