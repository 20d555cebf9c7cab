#include "jailer/chroot_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <elf.h>

#include <climits>
#include <cstring>
#include <sstream>

#include "base/fd.h"
#include "base/process.h"
#include "jailer/jail_mounts.h"

namespace vessel::jailer {
namespace {

Result<void> make_dirs(const std::string& path, mode_t mode) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    std::string part = path.substr(0, at);
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) return fail_errno("create directory {}", part);
  }
  return {};
}

Result<void> own(const std::string& path, const JailOptions& o, mode_t mode) {
  if (::chown(path.c_str(), o.uid, o.gid) != 0) return fail_errno("chown {} to {}:{}", path, o.uid, o.gid);
  if (::chmod(path.c_str(), mode) != 0) return fail_errno("chmod {}", path);
  return {};
}

// A hard link when PATH is on the jail's file system, else a copy (mode 0755, owned by root).
Result<void> place_exec_file(const JailOptions& o) {
  std::string dest = o.root_dir() + "/" + o.exec_name();
  ::unlink(dest.c_str());
  if (::link(o.exec_file.c_str(), dest.c_str()) == 0) return {};
  if (errno != EXDEV && errno != EPERM) return fail_errno("hard-link {} to {}", o.exec_file, dest);
  auto content = TRY_CTX(read_file(o.exec_file), "copy the exec file");
  Fd out = TRY_CTX(Fd::open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755), "copy the exec file");
  TRY_CTX(write_all(out.get(), content), "copy the exec file to {}", dest);
  return {};
}

// Links (or copies) `host_path` to the same path inside the jail.
Result<void> place_file(const JailOptions& o, const std::string& host_path) {
  std::string dest = o.root_dir() + host_path;
  TRY(make_dirs(dest.substr(0, dest.rfind('/')), 0755));
  char real[PATH_MAX];
  if (::realpath(host_path.c_str(), real) == nullptr) return fail_errno("resolve {}", host_path);
  ::unlink(dest.c_str());
  if (::link(real, dest.c_str()) == 0) return {};
  auto content = TRY_CTX(read_file(real), "copy {} into the jail", real);
  Fd out = TRY_CTX(Fd::open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755), "copy {} into the jail", real);
  return write_all(out.get(), content);
}

// The ELF interpreter (PT_INTERP) of `path`; empty for a static executable.
Result<std::string> interpreter_of(const std::string& path) {
  Fd fd = TRY(Fd::open(path, O_RDONLY | O_CLOEXEC));
  auto read_at = [&](void* to, size_t size, uint64_t at) {
    return ::pread(fd.get(), to, size, static_cast<off_t>(at)) == static_cast<ssize_t>(size);
  };
  Elf64_Ehdr eh;
  if (!read_at(&eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    return std::string();  // not a 64-bit ELF file: the exec will say what it is
  for (unsigned i = 0; i < eh.e_phnum && i < 256; ++i) {
    Elf64_Phdr ph;
    if (!read_at(&ph, sizeof ph, eh.e_phoff + uint64_t{i} * eh.e_phentsize)) break;
    if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > 4096) continue;
    std::string interp(ph.p_filesz, '\0');
    if (!read_at(interp.data(), interp.size(), ph.p_offset)) break;
    return interp.substr(0, strnlen(interp.data(), interp.size()));
  }
  return std::string();
}

// A dynamically linked exec file needs its loader and libraries at the same paths in the jail:
// the loader lists them (what ldd does), each is hard-linked (or copied) in.
Result<void> place_libraries(const JailOptions& o) {
  std::string interp = TRY_CTX(interpreter_of(o.exec_file), "read {}", o.exec_file);
  if (interp.empty()) return {};
  auto listed = TRY_CTX(run_capture({interp, "--list", o.exec_file}), "list the libraries of {}", o.exec_file);
  if (!listed.status.success()) return fail(EIO, "{} --list {}: {}", interp, o.exec_file, listed.status.to_string());
  TRY(place_file(o, interp));
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) {
    auto arrow = line.find("=> ");
    size_t start = arrow != std::string::npos ? arrow + 3 : line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] != '/') continue;  // linux-vdso.so.1
    std::string lib = line.substr(start, line.find(" (", start) - start);
    TRY(place_file(o, lib));
  }
  return {};
}

Result<void> make_device(const JailOptions& o, const std::string& path, unsigned major, unsigned minor) {
  std::string node = o.root_dir() + path;
  TRY(make_dirs(node.substr(0, node.rfind('/')), 0755));
  ::unlink(node.c_str());
  if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(major, minor)) != 0)
    return Unexpected(Error::from_errno(fmt::format("mknod {}", node))
                          .with_hint("the chroot base directory must be on a file system that allows device nodes (not nodev)"));
  return own(node, o, 0600);
}

}  // namespace

Result<void> prepare_root(const JailOptions& o) {
  TRY(make_dirs(o.jail_dir(), 0755));
  if (::mkdir(o.root_dir().c_str(), 0750) != 0 && errno != EEXIST) return fail_errno("create {}", o.root_dir());
  TRY(own(o.root_dir(), o, 0750));
  TRY(place_exec_file(o));
  TRY(place_libraries(o));
  TRY(make_device(o, "/dev/kvm", 10, 232));
  TRY(make_device(o, "/dev/urandom", 1, 9));
  if (::access("/dev/net/tun", F_OK) == 0) TRY(make_device(o, "/dev/net/tun", 10, 200));
  // virtio-net's vhost-net backend (misc minor 238, VHOST_NET_MINOR): the VMM opens it itself.
  if (::access("/dev/vhost-net", F_OK) == 0) TRY(make_device(o, "/dev/vhost-net", 10, 238));
  // Snapshot loads with the Uffd backend (docs/vmm/uffd.md): a userfaultfd that also sees KVM's
  // faults, for an unprivileged uid, without vm.unprivileged_userfaultfd (Linux 6.1+; its misc
  // minor is dynamic, so the host node's number is copied).
  struct stat uffd_dev {};
  if (::stat("/dev/userfaultfd", &uffd_dev) == 0 && S_ISCHR(uffd_dev.st_mode))
    TRY(make_device(o, "/dev/userfaultfd", major(uffd_dev.st_rdev), minor(uffd_dev.st_rdev)));
  if (::access("/sys/module/kvm_pvm", F_OK) == 0) TRY(make_dirs(o.root_dir() + "/sys/module/kvm_pvm", 0755));
  return make_mount_points(o.root_dir(), o.mounts);
}

Result<void> enter_root(const JailOptions& o) {
  if (::unshare(CLONE_NEWNS) != 0) return fail_errno("unshare a new mount namespace");
  // Nothing we mount propagates back to the host, nothing of the host's propagates in.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail_errno("make / private (MS_REC|MS_PRIVATE)");
  std::string root = o.root_dir();
  if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return fail_errno("bind-mount {} on itself", root);
  TRY(bind_mounts(root, o.mounts));
  if (::chdir(root.c_str()) != 0) return fail_errno("chdir {}", root);
  // pivot_root(".", "."): the old root ends up on top of the new one, then is detached.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail_errno("pivot_root into {}", root);
  if (::umount2(".", MNT_DETACH) != 0) return fail_errno("detach the host's root");
  if (::chdir("/") != 0) return fail_errno("chdir / in the jail");
  return {};
}

Result<void> drop_privileges(const JailOptions& o) {
  if (::setgroups(0, nullptr) != 0) return fail_errno("drop supplementary groups");
  if (::setresgid(o.gid, o.gid, o.gid) != 0) return fail_errno("setresgid {}", o.gid);
  if (::setresuid(o.uid, o.uid, o.uid) != 0) return fail_errno("setresuid {}", o.uid);
  if (::setuid(0) == 0) return fail(EPERM, "still able to become root after dropping to {}:{}", o.uid, o.gid);
  return {};
}

Result<void> close_fds_from(int first, int keep) {
  auto close_range = [](unsigned lo, unsigned hi) { return ::syscall(SYS_close_range, lo, hi, 0u); };
  if (keep >= first) {
    if (keep > first && close_range(static_cast<unsigned>(first), static_cast<unsigned>(keep - 1)) != 0)
      return fail_errno("close_range");
    if (close_range(static_cast<unsigned>(keep + 1), ~0u) != 0) return fail_errno("close_range");
    return {};
  }
  if (close_range(static_cast<unsigned>(first), ~0u) != 0) return fail_errno("close_range");
  return {};
}

}  // namespace vessel::jailer
