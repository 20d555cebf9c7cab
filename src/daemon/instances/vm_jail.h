// The jail vesseld starts each VM in (vessel-jailer, docs/vmm/sandbox.md "Under vesseld"):
//
// - an unprivileged uid, with the gid of the same number, one per running VM, taken from a range
//   (--jailer-uid-base, --jailer-uid-count; 900000 + 65536 by default): the lowest free number,
//   recorded as CHROOT_BASE/ids/N holding the instance's name (made with O_EXCL, so two starts
//   never get one id; kept across vesseld restarts; freed by cleanup);
// - a chroot at CHROOT_BASE/vessel-vmm/NAME/root (CHROOT_BASE = STATE/jail), removed by cleanup;
// - the files the VMM opens, bind-mounted by the jailer in the jail's own mount namespace
//   (--mount) at their host paths, so that the qcow2 backing names written in the overlays
//   resolve inside the jail as they do outside: kernel, initramfs, backing files and read-only
//   disks read-only; writable disks read-write, handed to the VM's uid (chown);
// - INSTANCE/run (owned by the VM's uid, mode 0700) mounted at /vessel-run: the API and console
//   sockets and the exit file, which vesseld reaches on the host in INSTANCE/run;
// - the instance's cgroup, made and entered by the jailer (--cgroup, the limits vesseld sets).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "daemon/images/boot_source.h"
#include "daemon/instances/backend.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

struct JailConfig {
  bool enabled = true;
  std::string jailer;       // vessel-jailer
  std::string chroot_base;  // STATE/jail
  uid_t id_base = 900000;
  uint32_t id_count = 65536;
};

// Where the VMM's sockets and exit file are, inside the jail.
inline constexpr const char* kJailRunDir = "/vessel-run";

// INSTANCE/run/FILE; INSTANCE/FILE for a VM started by a vesseld from before the run directory.
std::string vm_run_file(const std::string& instance_dir, const std::string& file);

// The instance's uid (and gid): the one it holds, else the lowest free one.
Result<uid_t> acquire_jail_id(const JailConfig& c, const std::string& name);
// Frees the instance's uid; nothing when it holds none.
void release_jail_id(const JailConfig& c, const std::string& name);

// CHROOT_BASE/<exec name>/NAME, and the jailer's pid file of the VMM in it.
std::string jail_dir(const JailConfig& c, const std::string& vmm, const std::string& name);
std::string jail_pid_file(const JailConfig& c, const std::string& vmm, const std::string& name);
// Removes the jail directory (nothing is mounted there on the host: the mounts were the jail's).
void remove_jail(const JailConfig& c, const std::string& vmm, const std::string& name);

// Gives uid `id` what the VM needs: the run directory and writable disks (chown), and checks
// that the read-only files (kernel, initramfs, read-only disks, backing files) are readable by it.
Result<void> grant_jail_files(const InstanceContext& ctx, const BootSource& boot, uid_t id);

// vessel-jailer's command line for this VM; `vmm_args` are the VMM's own (paths in the jail).
Result<std::vector<std::string>> jailer_command(const JailConfig& c, const std::string& vmm,
                                                const InstanceContext& ctx, const BootSource& boot,
                                                uid_t id, const CgroupSettings& cgroup,
                                                const std::vector<std::string>& vmm_args);

// How the VM ended, from the jailer's wait status: it exits with the VMM's status, 128 + N when
// the VMM was killed by signal N (a forced stop: 137, "killed").
ExitInfo exit_from_jailer_status(int status);

}  // namespace vessel::daemon
