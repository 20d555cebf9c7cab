#include "jailer/jail_options.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "base/version.h"

namespace vessel::jailer {
namespace {

constexpr const char* kDescription = R"(vessel-jailer - start vessel-vmm in a jail

SYNOPSIS
  vessel-jailer --id ID --exec-file PATH --uid UID --gid GID [OPTIONS] [-- ARGS...]

DESCRIPTION
  vessel-jailer prepares a jail for one VM and executes PATH (normally vessel-vmm)
  inside it with ARGS. It must run as root; the program it starts does not. In order:

  1. Creates CHROOT_BASE/NAME/ID/root (NAME: the file name of PATH), owned by
     UID:GID, mode 0750, and hard-links PATH into it as /NAME (a copy when PATH
     lives on another file system). A dynamically linked PATH also gets its ELF
     loader and the libraries the loader lists (what ldd shows), each at its
     host path inside the jail, hard-linked or copied the same way.
  2. Makes the device nodes the VMM opens, owned by UID:GID with mode 0600:
     /dev/kvm and /dev/urandom (and /dev/net/tun, /dev/vhost-net and
     /dev/userfaultfd when the host has them). On a PVM
     host it also makes the empty directory /sys/module/kvm_pvm, which is how
     vessel-vmm recognises one.
  3. With --cgroup: creates the cgroup PARENT/ID (v1: in each controller's
     hierarchy; v2: in the unified one, enabling the controllers on the way),
     writes each FILE=VALUE and moves itself into it (the VMM inherits it).
  4. Enters a new mount and a new PID namespace, and joins --netns when given.
     The VMM is process 1 of its PID namespace: when it ends, the namespace ends.
  5. In the child: makes every mount private, bind-mounts the jail root on itself,
     bind-mounts each --mount SRC:DST[:ro] on DST inside it (nosuid, noexec, nodev
     unless SRC is a block device; read-only with :ro), pivot_root(2)s into it and detaches the old root: nothing
     of the host's file system stays reachable but what --mount put there. These
     mounts live in the jail's mount namespace only: they vanish when the VMM ends.
  6. Closes every file descriptor but 0, 1 and 2 (with --daemonize: starts a new
     session and points them at /dev/null), drops every supplementary group and
     becomes GID and UID (all capabilities go with root), then executes /NAME.

  The host PID of the VMM is written to CHROOT_BASE/NAME/ID/NAME.pid. Without
  --daemonize the jailer waits for it and exits with its status (SIGTERM, SIGINT
  and SIGHUP are passed on; a killed jailer takes the VMM with it: SIGKILL as
  its parent-death signal); with --daemonize it exits 0 as soon as the exec
  succeeded. Any failing step, in the jailer or in the child before the exec,
  is printed with the step, the path and the system's reason, and the status is 1.

  Paths given to the VMM (kernel, disks, sockets) are paths inside the jail: put
  the files into the root directory first, or name them with --mount (a file
  mounted at its own host path keeps qcow2 backing names valid), and reach its
  sockets from the host under CHROOT_BASE/NAME/ID/root or in a --mount'ed
  directory. The mount points (empty files and directories) are made in step 1.

EXAMPLE
  vessel-jailer --id vm1 --exec-file /usr/bin/vessel-vmm --uid 123 --gid 123 \
      --cgroup memory.max=536870912 -- --api-sock /api.sock

See docs/vmm/sandbox.md. vessel-vmm itself loads a seccomp filter per thread.)";

// Firecracker's rule (letters, digits, '-'), plus '_' and '.' after the first character, which
// vesseld's instance names may hold.
bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64 || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

}  // namespace

std::string JailOptions::exec_name() const {
  auto slash = exec_file.rfind('/');
  return slash == std::string::npos ? exec_file : exec_file.substr(slash + 1);
}
std::string JailOptions::jail_dir() const { return chroot_base + "/" + exec_name() + "/" + id; }
std::string JailOptions::root_dir() const { return jail_dir() + "/root"; }
std::string JailOptions::pid_file() const { return jail_dir() + "/" + exec_name() + ".pid"; }

std::optional<int> parse_command_line(int argc, char** argv, JailOptions& o) {
  CLI::App app{kDescription, "vessel-jailer"};
  app.set_version_flag("--version", std::string("vessel-jailer version ") + kVersion);
  app.add_option("--id", o.id, "the jail's name: letters, digits and '-', at most 64")->required();
  app.add_option("--exec-file", o.exec_file, "the program to run in the jail (vessel-vmm)")->required()->check(CLI::ExistingFile);
  app.add_option("--uid", o.uid, "the user the program runs as (not 0)")->required();
  app.add_option("--gid", o.gid, "the group the program runs as (not 0)")->required();
  app.add_option("--chroot-base-dir", o.chroot_base, "where jails are made")->capture_default_str();
  app.add_option("--netns", o.netns, "join this network namespace (a path such as /var/run/netns/NAME)")
      ->check(CLI::ExistingFile);
  app.add_option("--cgroup", o.cgroups, "FILE=VALUE written in the jail's cgroup (repeatable), e.g. memory.max=268435456, "
                                        "cpu.weight=100 (v2) or memory.limit_in_bytes=268435456 (v1)");
  app.add_option("--parent-cgroup", o.parent_cgroup, "the cgroup the jail's cgroup is made in (default: the exec file's name)");
  app.add_option("--cgroup-version", o.cgroup_version, "1 or 2 (default: 2 when /sys/fs/cgroup is cgroup2, else 1)")
      ->check(CLI::IsMember({1, 2}));
  app.add_option("--mount", o.mount_specs,
                 "SRC:DST[:ro] (repeatable): bind-mount the host file or directory SRC at DST in the jail, in the "
                 "jail's own mount namespace; nosuid, nodev, noexec, read-only with :ro")
      ->allow_extra_args(false);
  app.add_flag("--daemonize", o.daemonize, "new session, standard streams on /dev/null, exit once the program runs");
  app.add_option("args", o.exec_args, "arguments for the program, after --");
  app.positionals_at_end();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int r = app.exit(e);
    return r == 0 ? 0 : 1;
  }
  return std::nullopt;
}

Result<void> validate(const JailOptions& o) {
  if (!valid_id(o.id)) return fail(EINVAL, "--id '{}': use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 64)", o.id);
  if (o.uid == 0 || o.gid == 0) return fail(EINVAL, "--uid and --gid must not be 0: the jail is for an unprivileged user");
  if (o.exec_file.empty() || o.exec_file[0] != '/') return fail(EINVAL, "--exec-file '{}': give an absolute path", o.exec_file);
  if (o.chroot_base.empty() || o.chroot_base[0] != '/') return fail(EINVAL, "--chroot-base-dir '{}': give an absolute path", o.chroot_base);
  for (const auto& c : o.cgroups) {
    auto eq = c.find('=');
    if (eq == std::string::npos || eq == 0 || c.find('/') != std::string::npos || c.find("..") != std::string::npos)
      return fail(EINVAL, "--cgroup '{}': expected FILE=VALUE, e.g. memory.max=268435456", c);
  }
  for (const auto& m : o.mount_specs) TRY(parse_bind_mount(m));
  if (o.parent_cgroup.find("..") != std::string::npos) return fail(EINVAL, "--parent-cgroup '{}': no '..'", o.parent_cgroup);
  return {};
}

}  // namespace vessel::jailer
