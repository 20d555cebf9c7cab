// The OCI runtime spec (config.json, versions 1.0-1.2) as typed structs, parsed and validated
// before anything is created: a hostile or malformed config is refused with an error that names
// the field, and nothing is left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::runtime {

// fail(...) plus a hint for the user: hinted(fail(EINVAL, "..."), "do this").
inline Unexpected hinted(Unexpected u, std::string hint) {
  return Unexpected(std::move(u.value()).with_hint(std::move(hint)));
}

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Capability sets as bit masks (bit n = capability n).
struct Capabilities {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};

struct ConsoleSize {
  unsigned height = 0, width = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct IdMapping {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;  // empty: create a new one
};

struct Device {
  std::string path;
  char type = 'c';  // c b u p
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid, gid;
};

struct DeviceRule {
  bool allow = false;
  std::string type = "a";  // a c b
  std::optional<int64_t> major, minor;
  std::string access = "rwm";
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

struct CpuResources {
  std::optional<uint64_t> shares, period, realtime_period, burst;
  std::optional<int64_t> quota, realtime_runtime, idle;
  std::string cpus, mems;
};

struct BlockIoDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;
  uint64_t rate = 0;  // for throttle entries
};

struct BlockIoResources {
  std::optional<uint16_t> weight, leaf_weight;
  std::vector<BlockIoDevice> weight_device, throttle_read_bps, throttle_write_bps,
      throttle_read_iops, throttle_write_iops;
};

struct HugepageLimit {
  std::string page_size;  // "2MB"
  uint64_t limit = 0;
};

struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<int64_t> pids_limit;
  std::optional<BlockIoResources> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<uint32_t> net_cls_classid;
  std::vector<std::pair<std::string, uint32_t>> net_prio;
  std::map<std::string, std::string> unified;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, value_two = 0;
  std::string op;
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;
  std::optional<unsigned> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<unsigned> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompRule> syscalls;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::optional<std::string> rootfs_propagation;
  std::optional<Seccomp> seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  bool has_masked_paths = false, has_readonly_paths = false;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;
  std::string root_path;  // as written (may be relative to the bundle)
  bool root_readonly = false;
  std::string hostname, domainname;
  bool has_hostname = false, has_domainname = false;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;

  const Namespace* find_namespace(std::string_view type) const;
  bool creates_namespace(std::string_view type) const;
};

// Limits on hostile input.
inline constexpr size_t kMaxConfigBytes = 4 << 20;
inline constexpr int kMaxConfigDepth = 32;

// Parses config.json text: types, required fields, known enum values, then validate().
Result<Spec> parse_spec(std::string_view text);
Result<Spec> parse_spec_json(const json::Json& doc);
Result<Process> parse_process(const json::Json& j, std::string_view where);
Result<Resources> parse_resources(const json::Json& j, std::string_view where);
Result<Spec> load_spec(const std::string& bundle_dir);

// Cross-field checks: id mappings do not overlap, cgroup path has no "..", sysctls belong to a
// namespace the container owns, namespace types are unique, paths are absolute where required.
Result<void> validate(const Spec& spec);

// "CAP_SYS_ADMIN" -> 21; unknown -> error. Names are accepted without the CAP_ prefix too.
Result<int> capability_from_name(std::string_view name);
std::string capability_name(int cap);
int last_capability();

Result<int> rlimit_from_name(std::string_view name);

// The namespace flag (CLONE_NEWPID...) for a spec type; 0 when unknown.
int namespace_flag(std::string_view type);
// The /proc/<pid>/ns/<name> file name for a spec type ("network" -> "net").
const char* namespace_proc_name(std::string_view type);

}  // namespace vessel::runtime
