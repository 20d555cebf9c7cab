#include "daemon/instances/vm_jail.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/fd.h"
#include "base/log.h"

namespace vessel::daemon {

namespace {

std::string ids_dir(const JailConfig& c) { return c.chroot_base + "/ids"; }

std::string exec_name(const std::string& vmm) {
  auto slash = vmm.rfind('/');
  return slash == std::string::npos ? vmm : vmm.substr(slash + 1);
}

// The id file (N) that holds `name`, or -1.
long held_id(const JailConfig& c, const std::string& name) {
  DIR* d = ::opendir(ids_dir(c).c_str());
  if (!d) return -1;
  long found = -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto owner = read_file(ids_dir(c) + "/" + e->d_name);
    if (owner && *owner == name) {
      found = std::strtol(e->d_name, nullptr, 10);
      break;
    }
  }
  ::closedir(d);
  return found;
}

Result<void> make_dir(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return fail(ec.value(), "create {}: {}", path, ec.message());
  if (::chmod(path.c_str(), mode) != 0) return fail_errno("chmod {}", path);
  return {};
}

// Readable by `id` through its mode bits (the VMM has no capabilities to bypass them).
Result<void> check_readable(const std::string& path, uid_t id, const char* what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return fail_errno("{} {}", what, path);
  bool ok = (st.st_mode & S_IROTH) || (st.st_uid == id && (st.st_mode & S_IRUSR)) ||
            (st.st_gid == id && (st.st_mode & S_IRGRP));
  if (ok) return {};
  return Unexpected(
      Error(EACCES, fmt::format("{} {} is not readable by the VM's user {} (mode {:o}, owner {})",
                                what, path, id, st.st_mode & 07777, st.st_uid))
          .with_hint("make it readable by others (chmod o+r), or run vesseld with --no-jailer"));
}

struct Mount {
  std::string path;
  bool read_only;
  bool volume = false;  // a volume's disk image: vesseld's, given to the VM's user even read-only
};

// Every host file the VMM opens, each once (a read-write use wins over a read-only one).
std::vector<Mount> vm_files(const InstanceContext& ctx, const BootSource& boot) {
  std::vector<Mount> out;
  auto add = [&](const std::string& path, bool ro, bool volume = false) {
    for (auto& m : out)
      if (m.path == path) {
        m.read_only = m.read_only && ro;
        return;
      }
    out.push_back({path, ro, volume});
  };
  add(boot.kernel, true);
  if (!boot.initramfs.empty()) add(boot.initramfs, true);
  for (const auto& d : boot.disks) {
    add(d.path, d.read_only);
    for (const auto& b : d.backing_files) add(b, true);
  }
  for (const auto& [mount, disk] : ctx.mounts)
    if (mount.kind == MountKind::Volume) add(disk, mount.read_only, true);
  return out;
}

}  // namespace

std::string vm_run_file(const std::string& instance_dir, const std::string& file) {
  std::string run = instance_dir + "/run";
  if (::access(run.c_str(), F_OK) != 0 && ::access((instance_dir + "/" + file).c_str(), F_OK) == 0)
    return instance_dir + "/" + file;
  return run + "/" + file;
}

Result<uid_t> acquire_jail_id(const JailConfig& c, const std::string& name) {
  if (long held = held_id(c, name); held >= 0 && static_cast<uint64_t>(held) < c.id_count)
    return c.id_base + static_cast<uid_t>(held);
  TRY(make_dir(ids_dir(c), 0700));
  for (uint32_t n = 0; n < c.id_count; ++n) {
    std::string path = ids_dir(c) + "/" + std::to_string(n);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return fail_errno("take the jail id {}", path);
    }
    Fd owned(fd);
    TRY(write_all(fd, name));
    return c.id_base + n;
  }
  return Unexpected(
      Error(EAGAIN, fmt::format("all {} jail uids from {} are taken", c.id_count, c.id_base))
          .with_hint("raise --jailer-uid-count"));
}

void release_jail_id(const JailConfig& c, const std::string& name) {
  if (long held = held_id(c, name); held >= 0)
    ::unlink((ids_dir(c) + "/" + std::to_string(held)).c_str());
}

std::string jail_dir(const JailConfig& c, const std::string& vmm, const std::string& name) {
  return c.chroot_base + "/" + exec_name(vmm) + "/" + name;
}

std::string jail_pid_file(const JailConfig& c, const std::string& vmm, const std::string& name) {
  return jail_dir(c, vmm, name) + "/" + exec_name(vmm) + ".pid";
}

void remove_jail(const JailConfig& c, const std::string& vmm, const std::string& name) {
  std::error_code ec;
  std::filesystem::remove_all(jail_dir(c, vmm, name), ec);
  if (ec) log::warn("cannot remove the jail of {}: {}", name, ec.message());
}

Result<void> grant_jail_files(const InstanceContext& ctx, const BootSource& boot, uid_t id) {
  std::string run = ctx.dir + "/run";
  if (::chown(run.c_str(), id, id) != 0) return fail_errno("chown {} to {}", run, id);
  for (const auto& m : vm_files(ctx, boot)) {
    if (m.read_only && !m.volume) {
      TRY(check_readable(m.path, id, m.path == boot.kernel ? "kernel" : "file"));
      continue;
    }
    // A writable disk (the instance's own overlay or size= disk, or one the admin named) or a volume.
    if (::chown(m.path.c_str(), id, id) != 0)
      return fail_errno("chown disk {} to the VM's user {}", m.path, id);
  }
  return {};
}

Result<std::vector<std::string>> jailer_command(const JailConfig& c, const std::string& vmm,
                                                const InstanceContext& ctx, const BootSource& boot,
                                                uid_t id, const CgroupSettings& cgroup,
                                                const std::vector<std::string>& vmm_args) {
  auto slash = ctx.cgroup.rfind('/');
  std::vector<std::string> argv{c.jailer,
                                "--id",
                                ctx.spec.name,
                                "--exec-file",
                                vmm,
                                "--uid",
                                std::to_string(id),
                                "--gid",
                                std::to_string(id),
                                "--chroot-base-dir",
                                c.chroot_base,
                                "--parent-cgroup",
                                ctx.cgroup.substr(1, slash - 1),
                                "--cgroup-version",
                                std::to_string(cgroup.version)};
  for (const auto& f : cgroup.files) argv.insert(argv.end(), {"--cgroup", f});
  argv.insert(argv.end(), {"--mount", ctx.dir + "/run:" + kJailRunDir});
  std::string run_prefix = std::string(kJailRunDir) + "/";
  for (const auto& m : vm_files(ctx, boot)) {
    if (m.path.find(':') != std::string::npos || m.path.rfind(run_prefix, 0) == 0 ||
        m.path.empty() || m.path[0] != '/')
      return Unexpected(
          Error(EINVAL,
                fmt::format("{} cannot be mounted in the VM's jail (':' in the name, or under {})",
                            m.path, kJailRunDir))
              .with_hint("move or rename the file, or run vesseld with --no-jailer"));
    argv.insert(argv.end(), {"--mount", m.path + ":" + m.path + (m.read_only ? ":ro" : "")});
  }
  argv.push_back("--");
  argv.insert(argv.end(), vmm_args.begin(), vmm_args.end());
  return argv;
}

ExitInfo exit_from_jailer_status(int status) {
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code > 128 && code < 128 + 65) {
      int sig = code - 128;
      return {code, sig == SIGKILL ? "killed" : "signal", fmt::format("signal {}", sig)};
    }
    return {code, "exited", {}};
  }
  return exit_from_wait_status(status);
}

}  // namespace vessel::daemon
