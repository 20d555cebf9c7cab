// checkpoint and restore (runc's commands) through CRIU's command line (Debian's `criu`).
//
// checkpoint dumps the container's process tree into --image-path (the container is gone
// afterwards unless --leave-running); restore creates the container ID again from a bundle and
// that image, the restored init a child of the caller's nearest subreaper (vessel-shim) with
// --detach. What CRIU cannot see from inside the container is recorded next to its images in
// vessel-checkpoint.json: the bind mounts from the host (restored from the bundle's sources), the
// init's stdio (pipes are handed over again, as runc's descriptors.json) and the external
// network namespace (joined again from the bundle's path). docs/runtime/checkpoint.md.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "runtime/container.h"

namespace vessel::runtime {

// The flags runc's checkpoint and restore share, and their own.
struct CriuOptions {
  std::string image_path;  // required
  std::string work_path;   // logs (dump.log, restore.log); default: image_path
  bool tcp_established = false;
  bool ext_unix_sk = false;
  bool shell_job = false;
  bool file_locks = false;
  std::string manage_cgroups_mode;  // soft|full|strict|ignore; "" = ignore (we place the tasks)
};

struct CheckpointOptions {
  std::string id;
  CriuOptions criu;
  bool leave_running = false;
  // A paused container's freezer cgroup (set by checkpoint, not a flag): CRIU seizes the frozen
  // tasks through it and leaves it frozen after a --leave-running dump, as containerd expects
  // (it pauses, checkpoints, then resumes).
  std::string freeze_cgroup;
};

struct RestoreOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  bool detach = false;
  CriuOptions criu;
};

// What vessel-checkpoint.json holds: parsed and checked before restore acts on it (an image may
// come from a file a user imported).
struct CheckpointMeta {
  int version = 1;
  // The init's fd 0..2 as CRIU keys: "pipe:[INO]" (a pipe from outside, e.g. vessel-shim's log
  // pipe), "file[MNT:INO]" (a file of the host's, e.g. /dev/null: dumped as external), or "".
  // restore hands its own fd i over for each (--inherit-fd), as runc's descriptors.json.
  std::vector<std::string> descriptors;
  // --external mnt[KEY] keys of the dump, each with what restore mounts there: "bind:" a spec
  // mount's destination (its source), or "null" (/dev/null: a masked file).
  std::vector<std::pair<std::string, std::string>> external_mounts;
  bool external_netns = false;  // the network namespace was joined by path

  json::Json to_json() const;
  static Result<CheckpointMeta> parse(std::string_view text);
};

inline constexpr const char* kCheckpointMetaFile = "vessel-checkpoint.json";
inline constexpr const char* kExternalNetnsKey = "extNetNs";

// The argv of `criu dump` / `criu restore` (pure: unit-tested). `rootfs`: the container's root.
// `netns_inode`: the external network namespace's inode (0: none).
std::vector<std::string> criu_dump_argv(const std::string& criu, pid_t pid, const std::string& rootfs,
                                        const CheckpointOptions& o, const CheckpointMeta& meta, uint64_t netns_inode);
// `netns_fd`: our fd of the network namespace to join (-1: none); stdio pipes are inherited as
// fds 0..2.
std::vector<std::string> criu_restore_argv(const std::string& criu, const std::string& rootfs, const Spec& spec,
                                           const RestoreOptions& o, const CheckpointMeta& meta, int netns_fd,
                                           const std::string& pid_file);

// Is this a descriptor key restore can hand over?
bool valid_descriptor_key(std::string_view key);

// What the dump must treat as external, from the spec and the container's view of its mounts
// (`is_file(path)`: does that path inside the container hold a non-directory?).
CheckpointMeta plan_checkpoint(const Spec& spec, const std::vector<std::string>& descriptors,
                               const std::function<bool(const std::string&)>& is_file);

Result<void> checkpoint(const GlobalOptions& g, const CheckpointOptions& o);
Result<int> restore(const GlobalOptions& g, const RestoreOptions& o);

}  // namespace vessel::runtime
