// vessel-jailer's command line (--help shows it): Firecracker's jailer flags and their meaning.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "jailer/jail_mounts.h"

namespace vessel::jailer {

struct JailOptions {
  std::string id;              // names the jail: <chroot-base>/<exec-name>/<id>/root
  std::string exec_file;       // the program to run inside (vessel-vmm)
  uid_t uid = 0;
  gid_t gid = 0;
  std::string chroot_base = "/srv/jailer";
  std::string netns;           // a network namespace to join (/var/run/netns/NAME), or none
  std::vector<std::string> cgroups;  // FILE=VALUE, e.g. memory.max=268435456
  std::string parent_cgroup;   // default: the exec file's name
  int cgroup_version = 0;      // 1 or 2; 0: 2 when /sys/fs/cgroup is cgroup2, else 1
  bool daemonize = false;
  std::vector<std::string> mount_specs;  // --mount SRC:DST[:ro], as given
  std::vector<BindMount> mounts;         // the same, parsed (main, after validate)
  std::vector<std::string> exec_args;  // after --

  std::string exec_name() const;
  std::string jail_dir() const;   // <chroot-base>/<exec-name>/<id>
  std::string root_dir() const;   // jail_dir()/root
  std::string pid_file() const;   // jail_dir()/<exec-name>.pid
};

// Parses argv. Returns the exit status when the program should end here (--help, --version: 0;
// a bad command line: 1, with the message printed).
std::optional<int> parse_command_line(int argc, char** argv, JailOptions& out);
// Checks what the parser cannot: the id's characters, the exec file, uid/gid not 0.
Result<void> validate(const JailOptions& o);

}  // namespace vessel::jailer
